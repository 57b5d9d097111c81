"""Request log lines: JSON, the promised fields, no text; redaction for the opt-in prompt field."""

from __future__ import annotations

import io

import orjson
import pytest

from hybridgate.detect.findings import Finding
from hybridgate.observe.config import LogConfig
from hybridgate.observe.logging import RequestLogger, redact_text
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
