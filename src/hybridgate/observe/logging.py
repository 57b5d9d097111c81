"""Structured request logs: one JSON line per finished request, with the trace id when tracing is on.

Lines carry ids, labels, numbers and finding *types*; never prompt or completion text. The opt-in
prompt field (`observability.logs.prompts`) only ever holds text after `redact_text` replaced every
finding with its type.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.typing import EventDict, WrappedLogger

from hybridgate.detect.findings import Finding
from hybridgate.observe.config import LogConfig
from hybridgate.store.records import UsageRecord

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Puts the current span's trace and span ids on the line (only installed when tracing is on)."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    return event


def _orjson(event: MutableMapping[str, Any], **_: Any) -> bytes:
    return orjson.dumps(event, default=str)


def make_logger(cfg: LogConfig, *, tracing: bool, sink: BinaryIO | None = None) -> Any:
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if tracing:
        processors.append(add_trace_ids)
    processors.append(structlog.processors.JSONRenderer(serializer=_orjson))
    return structlog.wrap_logger(
        structlog.BytesLogger(sink or sys.stdout.buffer),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[cfg.level]),
        logger_name="hybridgate.requests",
    )


def request_fields(rec: UsageRecord) -> dict[str, Any]:
    """The fields of a request line: ids, labels and numbers only."""
    return {
        "request_id": rec.request_id,
        "principal": rec.key_id or "anonymous",
        "team": rec.team,
        "data_class": rec.data_class,
        "findings": rec.finding_counts,
        "decision": rec.rule_id,
        "tier": rec.tier,
        "route": f"{rec.endpoint}/{rec.model}" if rec.endpoint else None,
        "attempts": len(rec.attempts),
        "overflow": rec.overflow is not None,
        "status": rec.status,
        "latency_ms": round(rec.latency_ms, 2),
        "ttft_ms": None if rec.ttft_ms is None else round(rec.ttft_ms, 2),
        "prompt_tokens": rec.prompt_tokens,
        "completion_tokens": rec.completion_tokens,
        "cost_usd": rec.cost_usd,
        "stream": rec.stream,
    }


class RequestLogger:
    def __init__(self, cfg: LogConfig, *, tracing: bool = False, sink: BinaryIO | None = None) -> None:
        self.log = make_logger(cfg, tracing=tracing, sink=sink)

    def observe(self, record: UsageRecord) -> None:
        level = self.log.info if record.status < 500 else self.log.warning
        level("request", **request_fields(record))


def redact_text(text: str, findings: Iterable[Finding]) -> str:
    """Every finding's span replaced by `[TYPE]`; overlapping spans merge into the first."""
    out, pos = [], 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.end <= pos:
            continue
        start = max(f.start, pos)
        out.append(text[pos:start])
        out.append(f"[{f.type}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
