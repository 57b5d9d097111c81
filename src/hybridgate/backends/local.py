"""The built-in self-hosted backend: a GGUF model run in process by llama.cpp.

llama.cpp serves one sequence at a time, so generations run on one worker thread, off the event loop;
requests beyond that wait in a bounded queue (`max_in_flight` waiting) and the next one is refused with
a 429 so the router can overflow elsewhere inside the boundary. Load signals for the router and for
/readyz: `queue_depth` (waiting), `busy` (a generation running), `loaded`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from hybridgate.backends.base import Capabilities, UpstreamRequest, UpstreamResponse
from hybridgate.backends.local_engine import Emit, Engine, resolve_model_path
from hybridgate.backends.sse import DONE, frame
from hybridgate.errors import BadRequest, GatewayError, UpstreamStatusError, UpstreamTimeout
from hybridgate.policy.boundary import check_egress
from hybridgate.settings import EndpointConfig

LOAD_WAIT_S = 30.0  # how long a readiness probe waits for the model to load


class EngineLike(Protocol):
    @property
    def loaded(self) -> bool: ...

    def load(self) -> None: ...

    def generate(self, op: str, body: Mapping[str, Any], emit: Emit, cancel: threading.Event) -> dict[str, int]: ...


@dataclass(slots=True)
class _Job:
    chunks: asyncio.Queue[dict[str, Any] | None]
    cancel: threading.Event
    result: asyncio.Future[dict[str, int]]

    async def next(self, limit: float) -> dict[str, Any] | None:
        """The next chunk, or None when the generation ended (then `usage()`)."""
        async with asyncio.timeout(limit):
            return await self.chunks.get()

    def usage(self) -> dict[str, int]:
        return self.result.result()  # re-raises the worker's error


class LocalBackend:
    capabilities = Capabilities(embeddings=False, tools=False)

    def __init__(self, cfg: EndpointConfig, *, engine: EngineLike | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.trust = cfg.trust
        self.max_waiting = cfg.max_in_flight
        self.queue_depth = 0
        self.busy = False
        self._engine = engine
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hybridgate-{cfg.name}")
        self._load: asyncio.Future[None] | None = None
        self._cancels: set[threading.Event] = set()

    @property
    def loaded(self) -> bool:
        return self._engine is not None and self._engine.loaded

    @property
    def in_flight(self) -> int:
        return self.queue_depth + int(self.busy)

    # -- worker thread -------------------------------------------------------------------------
    def _get_engine(self) -> EngineLike:
        if self._engine is None:
            threads = self.cfg.n_threads or max(1, min(4, os.cpu_count() or 1))
            self._engine = Engine(resolve_model_path(self.cfg.model_path), self.cfg.n_ctx, threads)
        self._engine.load()
        return self._engine

    def _work(self, op: str, body: Mapping[str, Any], emit: Emit, cancel: threading.Event) -> dict[str, int]:
        with self._lock:
            self.queue_depth -= 1
            self.busy = True
        try:
            if cancel.is_set():  # the client left while the request was queued
                return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            return self._get_engine().generate(op, body, emit, cancel)
        finally:
            with self._lock:
                self.busy = False

    # -- event loop ----------------------------------------------------------------------------
    def _submit(self, req: UpstreamRequest) -> _Job:
        check_egress(self.name, self.trust, req.allowed_trust)
        if req.op not in ("chat", "completions"):
            raise BadRequest(f"{self.name}: the local model does not serve {req.op}", code="unsupported_operation")
        with self._lock:
            if self.queue_depth >= self.max_waiting:
                raise UpstreamStatusError(
                    f"{self.name}: {self.queue_depth} requests already waiting for the local model",
                    upstream_status=429,
                    retry_after=1,
                    code="local_queue_full",
                )
            self.queue_depth += 1
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        cancel = threading.Event()

        def emit(chunk: dict[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is gone: nobody is listening
                cancel.set()

        result = loop.run_in_executor(self._executor, self._work, req.op, req.body, emit, cancel)
        result.add_done_callback(lambda _: chunks.put_nowait(None))
        self._cancels.add(cancel)
        return _Job(chunks, cancel, result)

    def _end(self, job: _Job) -> None:
        job.cancel.set()  # stops the generation at the next token if nobody reads it any more
        self._cancels.discard(job.cancel)

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        job = self._submit(req)
        parts: list[str] = []
        last: dict[str, Any] = {}
        finish = None
        try:
            async with asyncio.timeout(self.cfg.timeouts.total):
                while (chunk := await job.next(self.cfg.timeouts.total)) is not None:
                    last = chunk
                    for c in chunk.get("choices") or ():
                        parts.append(c.get("text") or (c.get("delta") or {}).get("content") or "")
                        finish = c.get("finish_reason") or finish
                usage = job.usage()
        except TimeoutError as e:
            raise UpstreamTimeout(f"{self.name}: no complete answer within {self.cfg.timeouts.total:g}s") from e
        finally:
            self._end(job)
        body = _response(req, last, "".join(parts), finish, usage)
        return UpstreamResponse(200, orjson.dumps(body), usage)

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        job = self._submit(req)
        t = self.cfg.timeouts
        model = req.body.get("model", "")
        limit = t.first_byte
        last: dict[str, Any] = {}
        try:
            while True:
                try:
                    chunk = await job.next(limit)
                except TimeoutError as e:
                    code = "first_byte_timeout" if limit == t.first_byte else "stream_stall"
                    raise UpstreamTimeout(f"{self.name}: no token within {limit:g}s", code=code) from e
                if chunk is None:
                    break
                limit = t.between_chunks
                last = {**chunk, "model": model}
                yield frame(last)
            usage = job.usage()
            yield frame({**last, "model": model, "choices": [], "usage": usage})
            yield DONE
        finally:
            self._end(job)

    async def probe(self) -> bool:
        """True once the model is loaded; the first probe loads it (on the worker, off the loop)."""
        if self.loaded:
            return True
        if self._load is None or (self._load.done() and self._load.exception() is not None):
            loop = asyncio.get_running_loop()
            self._load = loop.run_in_executor(self._executor, self._get_engine_quietly)
        with contextlib.suppress(TimeoutError, GatewayError):
            async with asyncio.timeout(LOAD_WAIT_S):
                await asyncio.shield(self._load)
        return self.loaded

    def _get_engine_quietly(self) -> None:
        self._get_engine()

    async def aclose(self) -> None:
        for cancel in list(self._cancels):
            cancel.set()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _response(
    req: UpstreamRequest, last: Mapping[str, Any], text: str, finish: str | None, usage: dict[str, int]
) -> dict[str, Any]:
    model = req.body.get("model", "")
    created = int(last.get("created") or time.time())
    if req.op == "completions":
        return {
            "id": last.get("id", "cmpl-local"),
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "text": text, "finish_reason": finish or "stop", "logprobs": None}],
            "usage": usage,
        }
    return {
        "id": last.get("id", "chatcmpl-local"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish or "stop"}],
        "usage": usage,
    }
