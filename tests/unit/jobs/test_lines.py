"""Batch input parsing: each bad line is its own error, good lines proceed."""

from __future__ import annotations

import orjson
import pytest

from hybridgate.jobs.lines import Line, LineError, parse_file, parse_line

EP = "/v1/chat/completions"


def line(**kw: object) -> bytes:
    base: dict[str, object] = {
        "custom_id": "a",
        "method": "POST",
        "url": EP,
        "body": {"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    }
    base.update(kw)
    return orjson.dumps(base)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json_line"),
        (b"[1, 2]", "invalid_request"),
        (line(custom_id=""), "missing_required_parameter"),
        (line(custom_id=7), "missing_required_parameter"),
        (line(method="GET"), "invalid_method"),
        (line(url="/v1/embeddings"), "mismatched_url"),
        (line(body="text"), "invalid_body"),
        (line(body={"model": "auto", "messages": "hi"}), "invalid_type"),
        (line(body={"model": "auto", "stream": True, "messages": [{"role": "user", "content": "x"}]}), "invalid_body"),
    ],
)
def test_bad_lines(raw: bytes, code: str) -> None:
    got = parse_line(raw, 3, EP)
    assert isinstance(got, LineError)
    assert (got.line, got.code) == (3, code)


def test_good_line() -> None:
    got = parse_line(line(), 1, EP)
    assert isinstance(got, Line) and got.op == "chat" and got.custom_id == "a"


def test_file_reports_each_bad_line_and_keeps_the_rest() -> None:
    data = b"\n".join([line(custom_id="a"), b"oops", b"", line(custom_id="b"), line(custom_id="a")])
    ok, bad = parse_file(data, EP, 100)
    assert [x.custom_id for x in ok] == ["a", "b"]
    assert [(e.line, e.code) for e in bad] == [(2, "invalid_json_line"), (5, "duplicate_custom_id")]


def test_file_line_limit() -> None:
    data = b"\n".join(line(custom_id=str(i)) for i in range(5))
    ok, bad = parse_file(data, EP, 3)
    assert len(ok) == 3 and bad[-1].code == "too_many_lines"
