"""Batch input files: one request per JSONL line, checked line by line. Pure: bytes in, lines out.

A malformed line becomes a line error (it ends up in the batch's error file); the others proceed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from hybridgate.api.validate import validate
from hybridgate.backends.base import Operation
from hybridgate.errors import BadRequest
from hybridgate.jobs.model import OPS


@dataclass(frozen=True, slots=True)
class Line:
    line: int  # 1-based, as editors count
    custom_id: str
    op: Operation
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    custom_id: str | None
    code: str
    message: str

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": None, "line": self.line}


def parse_line(raw: bytes, n: int, endpoint: str) -> Line | LineError:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return LineError(n, None, "invalid_json_line", f"line {n} is not valid JSON: {e.msg}")
    if not isinstance(obj, dict):
        return LineError(n, None, "invalid_request", f"line {n} must be a JSON object")
    cid = obj.get("custom_id")
    if not isinstance(cid, str) or not cid:
        return LineError(n, None, "missing_required_parameter", f"line {n} has no custom_id")
    if obj.get("method", "POST") != "POST":
        return LineError(n, cid, "invalid_method", f"line {n}: only POST is supported")
    url = obj.get("url")
    if url != endpoint:
        return LineError(
            n, cid, "mismatched_url", f"line {n}: url {url!r} does not match the batch endpoint {endpoint}"
        )
    body = obj.get("body")
    if not isinstance(body, dict):
        return LineError(n, cid, "invalid_body", f"line {n}: body must be a JSON object")
    if body.get("stream"):
        return LineError(n, cid, "invalid_body", f"line {n}: streaming is not supported in a batch")
    try:
        validate(OPS[endpoint], body)
    except BadRequest as e:
        return LineError(n, cid, e.code or "invalid_body", f"line {n}: {e.message}")
    return Line(n, cid, OPS[endpoint], body)


def parse_file(data: bytes, endpoint: str, max_lines: int) -> tuple[list[Line], list[LineError]]:
    """Blank lines are skipped; duplicate custom_ids after the first are errors."""
    ok: list[Line] = []
    bad: list[LineError] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(ok) + len(bad) >= max_lines:
            bad.append(LineError(n, None, "too_many_lines", f"the file has more than {max_lines} requests"))
            break
        got = parse_line(raw, n, endpoint)
        if isinstance(got, Line) and got.custom_id in seen:
            got = LineError(n, got.custom_id, "duplicate_custom_id", f"line {n}: custom_id {got.custom_id!r} repeats")
        if isinstance(got, Line):
            seen.add(got.custom_id)
            ok.append(got)
        else:
            bad.append(got)
    return ok, bad
