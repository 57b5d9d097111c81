"""Request log lines: JSON, the promised fields, no text; redaction for the opt-in prompt field."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hybridgate.detect.findings import Finding
from hybridgate.observe import tracing
from hybridgate.observe.config import LogConfig, TracingConfig
from hybridgate.observe.logging import IsoClock, RequestLogger, _plain_line, redact_text, request_fields
from tests.unit.observe.test_metrics import rec


def test_one_json_line_per_request_with_fields() -> None:
    sink = io.BytesIO()
    logger = RequestLogger(LogConfig(), sink=sink)
    logger.observe(rec(key_id="key-1", finding_counts={"EMAIL_ADDRESS": 1}))
    logger.observe(rec(status=503))
    lines = sink.getvalue().splitlines()
    assert len(lines) == 2
    first = orjson.loads(lines[0])
    assert first["level"] == "info" and first["event"] == "request"
    for k in ("request_id", "principal", "decision", "route", "status", "latency_ms", "prompt_tokens", "timestamp"):
        assert k in first
    assert first["principal"] == "key-1" and first["route"] == "local/llama"
    assert orjson.loads(lines[1])["level"] == "warning"


def test_level_filter() -> None:
    sink = io.BytesIO()
    RequestLogger(LogConfig(level="warning"), sink=sink).observe(rec())
    assert sink.getvalue() == b""


@pytest.mark.parametrize(
    ("text", "spans", "want"),
    [
        ("call 555-1234 now", [("PHONE", 5, 13)], "call [PHONE] now"),
        ("a@b.c and x@y.z", [("EMAIL", 0, 5), ("EMAIL", 10, 15)], "[EMAIL] and [EMAIL]"),
        ("John Smith", [("NAME", 0, 10), ("PERSON", 5, 10)], "[NAME]"),
        ("nothing here", [], "nothing here"),
    ],
)
def test_redact_text(text: str, spans: list[tuple[str, int, int]], want: str) -> None:
    assert redact_text(text, [Finding(t, s, e) for t, s, e in spans]) == want


class CountingSink(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, b: Any) -> int:
        self.writes += 1
        return super().write(b)


async def test_lines_of_one_loop_iteration_go_out_in_one_write() -> None:
    sink = CountingSink()
    logger = RequestLogger(LogConfig(), sink=sink)
    for i in range(5):
        logger.observe(rec(request_id=f"hg-{i}"))
    assert sink.writes == 0  # not yet: the loop has not come round
    await asyncio.sleep(0)
    lines = sink.getvalue().splitlines()
    assert sink.writes == 1
    assert [orjson.loads(x)["request_id"] for x in lines] == [f"hg-{i}" for i in range(5)]


def test_trace_ids_on_the_line_when_tracing() -> None:
    exporter = InMemorySpanExporter()
    tracing.configure(TracingConfig(), {}, exporter=exporter)
    try:
        sink = io.BytesIO()
        logger = RequestLogger(LogConfig(), tracing=True, sink=sink)
        with tracing.stage("auth"):
            logger.observe(rec())
        logger.observe(rec())  # outside any span: no ids
    finally:
        tracing.shutdown()
    inside, outside = (orjson.loads(x) for x in sink.getvalue().splitlines())
    (span,) = exporter.get_finished_spans()
    assert inside["trace_id"] == format(span.context.trace_id, "032x")
    assert inside["span_id"] == format(span.context.span_id, "016x")
    assert "trace_id" not in outside


@pytest.mark.parametrize(
    ("now", "want"),
    [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1_700_000_000.25, "2023-11-14T22:13:20.250000Z"),
        (1_700_000_001.000001, "2023-11-14T22:13:21.000001Z"),
    ],
)
def test_iso_clock(now: float, want: str) -> None:
    clock = IsoClock()
    clock(now - 7200)  # a cached prefix from another second must not leak into this one
    assert clock(now) == want


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"key_id": "key-1", "team": "red", "finding_counts": {"EMAIL_ADDRESS": 2}, "ttft_ms": 12.345},
        {"endpoint": None, "status": 503, "overflow": "load"},
    ],
)
def test_the_usual_line_is_the_general_line_in_one_dict(kw: dict[str, Any]) -> None:
    """`_plain_line` (the path without prompt or trace ids) writes the same keys, in the same order, with
    the same values as the line built from `request_fields`."""
    r = rec(**kw)
    general = {"event": "request", **request_fields(r), "level": "info", "timestamp": "T"}
    plain = _plain_line(r, "info", "T")
    assert list(plain.items()) == list(general.items())
    sink = io.BytesIO()
    RequestLogger(LogConfig(), sink=sink).observe(r)
    line = orjson.loads(sink.getvalue())
    assert list(line)[:-1] == list(general)[:-1] and line["timestamp"].endswith("Z")
