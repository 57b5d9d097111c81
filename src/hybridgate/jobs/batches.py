"""The OpenAI Batch API's lifecycle: validating -> in_progress -> finalizing -> completed, or failed
(nothing valid), cancelling -> cancelled, expired (the completion window passed).

Every line becomes a job that runs through the same pipeline as an interactive request. Status
changes are compare-and-set in the store, so any process (gateway or `hybridgate worker`) may drive
batches, and a crash mid-way is picked up again by the next tick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson

from hybridgate.access.durations import parse_duration
from hybridgate.errors import BadRequest, NotFound
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.files import BatchStore, FileStore
from hybridgate.jobs.lines import Line, LineError, parse_file
from hybridgate.jobs.model import OPS, PRIORITIES, TERMINAL, Job, new_id
from hybridgate.jobs.queue import JobQueue
from hybridgate.jobs.store import JobStore

STALE_S = 60.0  # a validating/finalizing batch untouched this long was left by a crashed process


def line_record(job: Job) -> dict[str, Any]:
    ok = job.status == "completed"
    return {
        "id": "batch_req_" + job.id.rsplit("_", 1)[-1],
        "custom_id": job.custom_id,
        "response": job.result,
        "error": None if ok else (job.error or {"code": job.status, "message": f"request {job.status}"}),
    }


def counts_of(jobs: list[Job]) -> dict[str, int]:
    by_status: dict[str, int] = {}
    for j in jobs:
        by_status[j.status] = by_status.get(j.status, 0) + 1
    return request_counts(by_status)


def request_counts(by_status: dict[str, int]) -> dict[str, int]:
    done = by_status.get("completed", 0)
    failed = sum(n for s, n in by_status.items() if s in TERMINAL and s != "completed")
    return {"total": sum(by_status.values()), "completed": done, "failed": failed}


class BatchDriver:
    def __init__(
        self,
        cfg: JobsConfig,
        store: JobStore,
        files: FileStore,
        batches: BatchStore,
        queue: Callable[[], JobQueue],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.store, self.files, self.batches = cfg, store, files, batches
        self.queue = queue  # a getter: the queue connects after startup
        self.clock = clock

    async def create(self, req: dict[str, Any], owner_key: str | None, headers: dict[str, str]) -> dict[str, Any]:
        endpoint = req.get("endpoint")
        if endpoint not in OPS:
            raise BadRequest(f"endpoint must be one of {', '.join(OPS)}", param="endpoint")
        window = req.get("completion_window", "24h")
        if not isinstance(window, str):
            raise BadRequest("completion_window must be a string such as 24h", param="completion_window")
        seconds = parse_duration(window, param="completion_window")
        fid = req.get("input_file_id")
        meta = req.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequest("metadata must be an object", param="metadata")
        if not isinstance(fid, str) or await self.files.get(fid, owner_key) is None:
            raise NotFound(f"No such file: {fid}", param="input_file_id", code="file_not_found")
        now = int(self.clock())
        doc: dict[str, Any] = {
            "id": new_id("batch"), "object": "batch", "endpoint": endpoint, "errors": None, "input_file_id": fid,
            "completion_window": window, "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": now, "in_progress_at": None, "expires_at": int(now + seconds), "finalizing_at": None,
            "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": meta,
            "_headers": headers,
        }  # fmt: skip
        await self.batches.add(doc, owner_key)
        await self.validate(doc, owner_key)
        got = await self.batches.get(doc["id"], owner_key)
        assert got is not None
        return got

    async def validate(self, doc: dict[str, Any], owner_key: str | None) -> None:
        data = await self.files.content(doc["input_file_id"], owner_key) or b""
        ok, bad = await asyncio.to_thread(parse_file, data, doc["endpoint"], self.cfg.max_lines)
        if not ok:
            errors = {
                "object": "list",
                "data": [e.as_error() for e in bad[:100]]
                or [{"code": "empty_file", "message": "the input file has no requests", "param": None, "line": None}],
            }
            await self.batches.transition(doc["id"], ("validating",), "failed", errors=errors, _headers={})
            return
        items: list[Line | LineError] = [*ok, *bad]
        jobs = [self._job(doc, owner_key, x) for x in sorted(items, key=lambda x: x.line)]
        await self.store.insert(jobs)
        await self.queue().put_many([(j.id, j.priority, j.deadline) for j in jobs if j.status == "queued"])
        counts = {"total": len(jobs), "completed": 0, "failed": len(bad)}
        await self.batches.transition(doc["id"], ("validating",), "in_progress", request_counts=counts, _headers={})

    def _job(self, doc: dict[str, Any], owner_key: str | None, x: Line | LineError) -> Job:
        job = Job(
            id=f"{doc['id']}_{x.line}", op=OPS[doc["endpoint"]], body={}, headers=dict(doc["_headers"]),
            created=float(doc["created_at"]), deadline=float(doc["expires_at"]), priority=PRIORITIES["low"],
            kind="batch", owner_key=owner_key, batch_id=doc["id"], custom_id=x.custom_id, line=x.line,
        )  # fmt: skip
        if isinstance(x, Line):
            job.body = x.body
        else:
            job.status, job.headers, job.finished = "failed", {}, self.clock()
            job.error = {"code": x.code, "message": x.message}
        return job

    async def cancel(self, batch_id: str, owner_key: str | None) -> dict[str, Any]:
        doc = await self.batches.get(batch_id, owner_key)
        if doc is None:
            raise NotFound(f"No such batch: {batch_id}", code="batch_not_found")
        if await self.batches.transition(batch_id, ("validating", "in_progress"), "cancelling"):
            await self.store.end_queued(batch_id, "cancelled", {"code": "batch_cancelled", "message": "cancelled"})
            await self.settle(batch_id)
        got = await self.batches.get(batch_id, owner_key)
        assert got is not None
        return got

    async def tick(self) -> None:
        """Expire overdue batches, finish those whose jobs are all done, and recover stale ones."""
        now = self.clock()
        for doc in await self.batches.with_status("in_progress", "cancelling", "validating", "finalizing"):
            started = doc.get(f"{doc['status']}_at") or doc["created_at"]
            if doc["status"] == "validating" and now - started > STALE_S:
                await self.validate(doc, await self._owner(doc))
            elif doc["status"] == "finalizing" and now - started > STALE_S:
                await self._write(doc)
            elif doc["status"] == "in_progress" and now >= doc["expires_at"]:
                err = {"code": "batch_expired", "message": "the batch's completion window passed"}
                await self.store.end_queued(doc["id"], "expired", err)
            await self.settle(doc["id"])

    async def _owner(self, doc: dict[str, Any]) -> str | None:
        f = await self.files.db.run(
            lambda c: c.execute("SELECT owner_key FROM batches WHERE id = ?", (doc["id"],)).fetchone()
        )
        return f[0] if f else None

    async def settle(self, batch_id: str) -> None:
        """When no job of the batch is queued or running, write its files and close it (once)."""
        counts = await self.store.batch_counts(batch_id)
        if not counts or counts.get("queued", 0) or counts.get("in_progress", 0):
            return
        if await self.batches.transition(batch_id, ("in_progress", "cancelling"), "finalizing"):
            doc = await self.batches.get_any(batch_id)
            assert doc is not None
            await self._write(doc)

    async def _write(self, doc: dict[str, Any]) -> None:
        owner = await self._owner(doc)
        jobs = await self.store.batch_jobs(doc["id"])
        good = [line_record(j) for j in jobs if j.status == "completed"]
        bad = [line_record(j) for j in jobs if j.status != "completed"]
        out = await self._file(good, doc["id"] + "_output.jsonl", owner)
        err = await self._file(bad, doc["id"] + "_error.jsonl", owner)
        final = "completed"
        if doc.get("cancelling_at"):
            final = "cancelled"
        elif any(j.status == "expired" for j in jobs):
            final = "expired"
        await self.batches.transition(
            doc["id"], ("finalizing",), final, output_file_id=out, error_file_id=err, request_counts=counts_of(jobs)
        )

    async def _file(self, records: list[dict[str, Any]], name: str, owner: str | None) -> str | None:
        if not records:
            return None
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        obj = await self.files.add(data, name, "batch_output", owner)
        return str(obj["id"])

    async def counts(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A live view: request_counts reflect jobs finished so far."""
        if doc["status"] in ("in_progress", "cancelling", "finalizing"):
            doc["request_counts"] = request_counts(await self.store.batch_counts(doc["id"]))
        return {k: v for k, v in doc.items() if not k.startswith("_")}
