"""What the async-request and Batch API routes share: the jobs runtime, the caller who owns a job, and
errors answered before any request id exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hybridgate.api.responses import error_response
from hybridgate.api.server import Handlers, new_request_id
from hybridgate.auth.authenticator import presented
from hybridgate.errors import GatewayError
from hybridgate.jobs.runtime import JobsRuntime

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class JobRoutes:
    def __init__(self, rt: JobsRuntime, handlers: Handlers) -> None:
        self.rt = rt
        self.h = handlers

    async def owner(self, request: web.Request) -> str | None:
        """The caller's key id: jobs, files and batches are visible to their owner only."""
        auth = self.rt.pipeline.auth
        p = await auth.authenticate(presented(request.headers))
        return p.key_id


def job_error(err: GatewayError) -> web.Response:
    # No pipeline run assigned an id yet; a fresh one still gives the client something to quote.
    return error_response(err, {"x-hybridgate-request-id": new_request_id()})


def guarded(fn: Handler) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except GatewayError as err:
            return job_error(err)

    return handler
