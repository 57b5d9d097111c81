"""Structured request logs: one JSON line per finished request, with the trace id when tracing is on.

Lines carry ids, labels, numbers and finding *types*; never prompt or completion text. The opt-in
prompt field (`observability.logs.prompts`) only ever holds text after `redact_text` replaced every
finding with its type.

The line is one orjson call on one dict literal, not a logging-library processor chain. On the event
loop a request only queues its record; at the end of the loop iteration the lines of all the records
queued in it are built, one after the other, and go out in one write. A line's timestamp is when its
request finished (the record's start time plus its latency), not when it was written. Lines that need
the request's context (trace ids: the span current when the request finished) are built at once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson

from hybridgate.detect.findings import Finding
from hybridgate.observe.config import LogConfig
from hybridgate.store.records import UsageRecord

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def trace_ids() -> dict[str, str]:
    """The current span's trace and span ids (called only when tracing is on)."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


class IsoClock:
    """UTC ISO-8601 timestamps with microseconds (`2026-01-02T03:04:05.123456Z`); the date and time
    part is formatted once per second."""

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, now: float | None = None) -> str:
        sec, us = divmod(round((time.time() if now is None else now) * 1e6), 1_000_000)
        if sec != self._sec:
            self._sec, self._prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{us:06d}Z"


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


def _plain_line(rec: UsageRecord, level: str, timestamp: str) -> dict[str, Any]:
    """The whole line of a request without a prompt field or trace ids, built in one dict display (no
    second dict to merge): what `observe` builds field by field otherwise, in the same key order
    (test_logging checks they are equal)."""
    return {"event": "request", **request_fields(rec), "level": level, "timestamp": timestamp}


class RequestLogger:
    def __init__(self, cfg: LogConfig, *, tracing: bool = False, sink: BinaryIO | None = None) -> None:
        self.sink = sink or sys.stdout.buffer
        self.min_level = _LEVELS[cfg.level]
        self.tracing = tracing
        self.clock = IsoClock()
        self._lines: list[bytes | UsageRecord] = []  # a line, or a record whose line `flush` builds

    def observe(self, record: UsageRecord) -> None:
        level = "info" if record.status < 500 else "warning"
        if _LEVELS[level] < self.min_level:
            return
        if record.prompt is None and not self.tracing:  # the usual line: built by `flush`
            self._lines.append(record)
        else:
            line = {"event": "request", **request_fields(record)}
            if record.prompt is not None:  # opt-in (logs.prompts), redacted before it reached the record
                line["prompt"] = record.prompt
            line["level"] = level
            line["timestamp"] = self.clock(record.ts + record.latency_ms / 1000.0)
            if self.tracing:
                line.update(trace_ids())
            self._lines.append(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE))
        if len(self._lines) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a command, a test): write now
                self.flush()

    def flush(self) -> None:
        queued, self._lines = self._lines, []
        if not queued:
            return
        clock, dumps, opt = self.clock, orjson.dumps, orjson.OPT_APPEND_NEWLINE
        lines: list[bytes] = []
        for item in queued:
            if isinstance(item, bytes):
                lines.append(item)
                continue
            level = "info" if item.status < 500 else "warning"
            line = _plain_line(item, level, clock(item.ts + item.latency_ms / 1000.0))
            lines.append(dumps(line, default=str, option=opt))
        self.sink.write(b"".join(lines))
        self.sink.flush()


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
