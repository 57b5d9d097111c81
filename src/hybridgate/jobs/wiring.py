"""Plugs the async lane into the gateway app: routes, and workers started and stopped with it."""

from __future__ import annotations

from aiohttp import web

from hybridgate.api.async_routes import AsyncRoutes, add_async_routes
from hybridgate.api.batch_routes import BatchRoutes, add_batch_routes
from hybridgate.api.server import Handlers
from hybridgate.jobs.runtime import JobsRuntime
from hybridgate.pipeline import Pipeline
from hybridgate.settings import Settings

JOBS = web.AppKey("jobs", JobsRuntime)


def install_jobs(app: web.Application, settings: Settings, pipeline: Pipeline) -> JobsRuntime:
    rt = JobsRuntime(settings.jobs, pipeline)
    handlers = Handlers(pipeline, settings.server.max_body_bytes)
    add_async_routes(app, AsyncRoutes(rt, handlers))
    add_batch_routes(app, BatchRoutes(rt, handlers))
    app[JOBS] = rt

    async def start(_: web.Application) -> None:
        if rt.exists():  # jobs left by an earlier run must not be stranded
            await rt.ensure()

    async def stop(_: web.Application) -> None:
        await rt.aclose()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # before the pipeline closes its backends
    return rt
