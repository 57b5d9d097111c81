"""parse_hints' shortcut for requests that declare nothing, and merge_defaults' field test, give what the plain
code gives, for plain and case-insensitive (aiohttp) header mappings."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from hybridgate.detect.hints import _NONE, merge_defaults, parse_hints
from hybridgate.detect.signals import Hints
from hybridgate.errors import BadRequest
from hybridgate.labels import DataClass

_HEADERS = [
    {},
    {"authorization": "Bearer k", "content-type": "application/json"},
    {"x-hybridgate-data-class": "confidential"},
    {"X-Hybridgate-Volume": "high"},
    {"x-hybridgate-latency-budget": "relaxed", "x-hybridgate-purpose": "  triage  "},
    {"x-hybridgate-volume": "huge"},
    {"x-hybridgate-deadline": "5"},
]
_BODIES: list[dict[str, Any]] = [
    {},
    {"metadata": None},
    {"metadata": {}},
    {"metadata": {"data_class": "restricted"}},
    {"metadata": {"hybridgate_volume": "high"}},
    {"metadata": "not a mapping"},
    {"metadata": {"purpose": 5}},
]


def _plain(headers: Any, body: dict[str, Any]) -> Hints | str:
    """parse_hints as written before the shortcut: every header and metadata key looked up."""
    meta = body.get("metadata")
    metadata = meta if isinstance(meta, dict) else {}
    out: dict[str, Any] = {}
    for key in ("data_class", "latency_budget", "volume", "purpose"):
        value = headers.get("x-hybridgate-" + key.replace("_", "-"))
        if value is None and metadata:
            value = metadata.get(key) or metadata.get("hybridgate_" + key)
        if value is not None and not isinstance(value, str):
            return "error"
        out[key] = value.strip() if value is not None else None
    try:
        data_class = DataClass(out["data_class"].lower()) if out["data_class"] is not None else None
    except ValueError:
        return "error"
    lat, vol = (out[k].lower() if out[k] is not None else None for k in ("latency_budget", "volume"))
    if lat not in (None, "interactive", "relaxed") or vol not in (None, "normal", "high"):
        return "error"
    purpose = out["purpose"][:200] if out["purpose"] else None
    return Hints(data_class, lat, vol, purpose)


@pytest.mark.parametrize("headers,body", list(itertools.product(_HEADERS, _BODIES)))
def test_parse_hints_is_the_plain_lookup(headers: dict[str, str], body: dict[str, Any]) -> None:
    for mapping in (CIMultiDictProxy(CIMultiDict(headers)), {k.lower(): v for k, v in headers.items()}):
        want = _plain(mapping, body)
        try:
            got: Hints | str = parse_hints(mapping, body)
        except BadRequest:
            got = "error"
        assert got == want, (headers, body)
        if want == Hints():
            assert got is _NONE  # the shared instance: nothing declared


def test_merge_defaults_fills_what_the_request_left_out() -> None:
    some = [Hints(), _NONE, Hints(DataClass.CONFIDENTIAL), Hints(None, "relaxed"), Hints(None, None, "high", "x")]
    for hints, defaults in itertools.product(some, some):
        got = merge_defaults(hints, defaults)
        if defaults == Hints():
            assert got is hints
        elif hints == Hints():
            assert got is defaults
        else:
            assert got == Hints(
                hints.data_class or defaults.data_class,
                hints.latency_budget or defaults.latency_budget,
                hints.volume or defaults.volume,
                hints.purpose or defaults.purpose,
            )
