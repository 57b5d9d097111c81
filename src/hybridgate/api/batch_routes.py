"""The OpenAI-compatible Files and Batch API, so `client.files.create(purpose="batch")`,
`client.batches.create/retrieve/cancel/list` and `client.files.content` work unchanged.

Everything is scoped to the caller's key: another principal's file or batch answers 404.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from hybridgate.api.job_routes import JobRoutes, guarded
from hybridgate.api.responses import json_response
from hybridgate.errors import BadRequest, NotFound, PayloadTooLarge
from hybridgate.jobs.model import kept_headers

MULTIPART_SLACK = 64 * 1024  # boundaries and the other form fields around the file


class BatchRoutes(JobRoutes):
    async def upload(self, request: web.Request) -> web.StreamResponse:
        limit = self.rt.cfg.max_file_bytes
        if request.content_length is not None and request.content_length > limit + MULTIPART_SLACK:
            raise PayloadTooLarge(f"file exceeds {limit} bytes", param="file")
        owner = await self.owner(request)
        if not request.content_type.startswith("multipart/"):
            raise BadRequest("expected multipart/form-data with fields file and purpose")
        form = await request.multipart()
        purpose, name, data = None, "upload.jsonl", None
        while (part := await form.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "purpose":
                purpose = (await part.text()).strip()
            elif part.name == "file":
                name = part.filename or name
                data = await read_limited(part, limit)
        if purpose != "batch":
            raise BadRequest("only purpose=batch is supported", param="purpose")
        if data is None:
            raise BadRequest("missing file part", param="file")
        rt = await self.rt.ensure()
        return json_response(await rt.files.add(data, name, "batch", owner))

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        obj = await (await self.rt.ensure()).files.get(request.match_info["id"], owner)
        if obj is None:
            raise NotFound(f"No such file: {request.match_info['id']}", code="file_not_found")
        return json_response(obj)

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        data = await (await self.rt.ensure()).files.content(request.match_info["id"], owner)
        if data is None:
            raise NotFound(f"No such file: {request.match_info['id']}", code="file_not_found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def create(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        body = await self.h.read_body(request)
        rt = await self.rt.ensure()
        doc = await rt.driver.create(body, owner, kept_headers(request.headers))
        if rt.worker is not None:
            rt.worker.wake.set()
        return json_response(await rt.driver.counts(doc))

    async def get_batch(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        rt = await self.rt.ensure()
        doc = await rt.batches.get(request.match_info["id"], owner)
        if doc is None:
            raise NotFound(f"No such batch: {request.match_info['id']}", code="batch_not_found")
        return json_response(await rt.driver.counts(doc))

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        rt = await self.rt.ensure()
        return json_response(await rt.driver.counts(await rt.driver.cancel(request.match_info["id"], owner)))

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        owner = await self.owner(request)
        try:
            limit = max(1, min(100, int(request.query.get("limit", "20"))))
        except ValueError:
            raise BadRequest("limit must be an integer", param="limit") from None
        rt = await self.rt.ensure()
        docs = await rt.batches.page(owner, limit + 1, request.query.get("after"))
        data = [await rt.driver.counts(d) for d in docs[:limit]]
        return json_response({
            "object": "list", "data": data, "has_more": len(docs) > limit,
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None,
        })  # fmt: skip


async def read_limited(part: BodyPartReader, limit: int) -> bytes:
    buf = bytearray()
    while chunk := await part.read_chunk(256 * 1024):
        buf.extend(chunk)
        if len(buf) > limit:
            raise PayloadTooLarge(f"file exceeds {limit} bytes", param="file")
    return bytes(buf)


def add_batch_routes(app: web.Application, r: BatchRoutes) -> None:
    app.router.add_post("/v1/files", guarded(r.upload))
    app.router.add_get("/v1/files/{id}", guarded(r.get_file))
    app.router.add_get("/v1/files/{id}/content", guarded(r.file_content))
    app.router.add_post("/v1/batches", guarded(r.create))
    app.router.add_get("/v1/batches", guarded(r.list_batches))
    app.router.add_get("/v1/batches/{id}", guarded(r.get_batch))
    app.router.add_post("/v1/batches/{id}/cancel", guarded(r.cancel))
