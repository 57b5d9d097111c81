"""The built-in backend's async side (queue, streaming bridge, cancellation, probe) with a scripted engine.

The real llama.cpp engine is exercised by tests/integration/test_local_model.py (marker `localmodel`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from hybridgate.backends.base import UpstreamRequest
from hybridgate.backends.local import LocalBackend
from hybridgate.backends.local_engine import Emit, Tap, chat_messages, resolve_model_path, sampling_args
from hybridgate.backends.sse import DONE, payload
from hybridgate.errors import BadRequest, UpstreamError, UpstreamStatusError
from hybridgate.labels import Trust
from hybridgate.policy.boundary import EgressViolation
from hybridgate.settings import EndpointConfig

SELF = frozenset({Trust.SELF_HOSTED})


class ScriptedEngine:
    """Emits llama.cpp-shaped chunks; `gate` holds a generation until the test releases it."""

    def __init__(self, words: tuple[str, ...] = ("Hello", " there")) -> None:
        self.words = words
        self.loaded = False
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: Exception | None = None

    def load(self) -> None:
        if self.fail is not None:
            raise self.fail
        self.loaded = True

    def generate(self, op: str, body: Mapping[str, Any], emit: Emit, cancel: threading.Event) -> dict[str, int]:
        self.load()
        self.calls.append((op, dict(body)))
        self.started.set()
        base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "/path/model.gguf"}
        emit({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        for w in self.words:
            self.gate.wait(5)
            if cancel.is_set():
                self.cancelled.set()
                break
            emit({**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]})
        emit({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        return {"prompt_tokens": 5, "completion_tokens": len(self.words), "total_tokens": 5 + len(self.words)}


def backend(engine: ScriptedEngine, **kw: Any) -> LocalBackend:
    cfg = EndpointConfig(name="local", kind="local", trust="self_hosted", models=["smol"], **kw)
    return LocalBackend(cfg, engine=engine)


def req(stream: bool = False, op: str = "chat") -> UpstreamRequest:
    body = {"model": "smol", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    return UpstreamRequest(op, body, SELF, stream=stream)  # type: ignore[arg-type]


async def test_call_collects_text_and_usage() -> None:
    b = backend(ScriptedEngine())
    resp = await b.call(req())
    body = orjson.loads(resp.body)
    assert body["model"] == "smol" and body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello there"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert resp.usage == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert not b.busy and b.queue_depth == 0
    await b.aclose()


async def test_stream_relays_chunks_then_usage_then_done() -> None:
    b = backend(ScriptedEngine())
    frames = [f async for f in b.stream(req(stream=True))]
    assert frames[-1] == DONE
    chunks = [orjson.loads(payload(f)) for f in frames[:-1]]
    assert {c["model"] for c in chunks} == {"smol"}  # never the file path
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello there"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7
    await b.aclose()


async def test_one_generation_at_a_time_and_a_bounded_queue() -> None:
    engine = ScriptedEngine()
    engine.gate.clear()
    b = backend(engine, max_in_flight=1)
    first = asyncio.create_task(b.call(req()))
    await asyncio.to_thread(engine.started.wait, 5)
    assert b.busy and b.queue_depth == 0
    second = asyncio.create_task(b.call(req()))
    await asyncio.sleep(0)
    assert b.queue_depth == 1 and b.in_flight == 2
    with pytest.raises(UpstreamStatusError) as exc:
        await b.call(req())
    assert exc.value.upstream_status == 429 and exc.value.code == "local_queue_full" and exc.value.retry_after == 1
    engine.gate.set()
    await asyncio.gather(first, second)
    assert len(engine.calls) == 2 and b.in_flight == 0
    await b.aclose()


async def test_abandoned_stream_stops_the_generation() -> None:
    engine = ScriptedEngine(words=("a", "b", "c"))
    engine.gate.clear()
    b = backend(engine)
    it = b.stream(req(stream=True))
    first = await anext(it)
    assert b"assistant" in first
    await it.aclose()  # the client went away
    engine.gate.set()
    assert await asyncio.to_thread(engine.cancelled.wait, 5)
    await b.aclose()


async def test_boundary_and_unsupported_operations_send_nothing() -> None:
    engine = ScriptedEngine()
    b = backend(engine)
    with pytest.raises(EgressViolation):
        await b.call(UpstreamRequest("chat", req().body, frozenset({Trust.EXTERNAL})))
    with pytest.raises(BadRequest):
        await b.call(UpstreamRequest("embeddings", {"model": "smol", "input": "x"}, SELF))
    assert engine.calls == [] and b.queue_depth == 0
    await b.aclose()


async def test_probe_loads_the_model_and_load_errors_fail_over() -> None:
    engine = ScriptedEngine()
    b = backend(engine)
    assert not b.loaded
    assert await b.probe() and b.loaded
    broken = ScriptedEngine()
    broken.fail = UpstreamError("no model", code="local_model_unavailable")
    bb = backend(broken)
    assert not await bb.probe()
    with pytest.raises(UpstreamError) as exc:
        await anext(bb.stream(req(stream=True)))
    assert exc.value.status == 502  # retryable: the router may try another self-hosted endpoint
    await b.aclose()
    await bb.aclose()


def test_missing_model_file_is_an_upstream_error(tmp_path: Path) -> None:
    with pytest.raises(UpstreamError) as exc:
        resolve_model_path(str(tmp_path / "nope.gguf"))
    assert exc.value.code == "local_model_unavailable"
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model_path(str(f)) == f


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"max_tokens": 512}),
        (
            {"max_tokens": 8, "temperature": 0, "stop": ["x"], "n": 2},
            {"max_tokens": 8, "temperature": 0, "stop": ["x"]},
        ),
        ({"max_completion_tokens": 4, "max_tokens": 9, "seed": 1}, {"max_tokens": 4, "seed": 1}),
    ],
)
def test_sampling_args(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sampling_args(body) == expected


def test_chat_messages_flatten_parts_and_tool_calls() -> None:
    msgs = [
        {"role": "developer", "content": [{"type": "text", "text": "be nice"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
    ]
    assert chat_messages(msgs) == [
        {"role": "system", "content": "be nice"},
        {"role": "assistant", "content": "\n[call f({})]"},
    ]


@pytest.mark.parametrize(("calls", "finish", "completion"), [(9, "length", 8), (18, "stop", 16), (0, None, 0)])
def test_tap_counts_like_llama_cpp(calls: int, finish: str | None, completion: int) -> None:
    tap = Tap(threading.Event())
    tap.prompt_tokens = 37
    for _ in range(calls):
        assert tap(None, None) is False
    assert tap.usage(finish) == {"prompt_tokens": 37, "completion_tokens": completion, "total_tokens": 37 + completion}
    tap.cancel.set()
    assert tap(None, None) is True
