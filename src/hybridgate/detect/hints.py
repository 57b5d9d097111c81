"""Workload hints from headers (x-hybridgate-*) and the body's `metadata`; headers win."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridgate.detect.signals import Hints
from hybridgate.errors import BadRequest
from hybridgate.labels import DataClass

_CHOICES = {
    "latency_budget": ("interactive", "relaxed"),
    "volume": ("normal", "high"),
}


_KEYS = ("data_class", "latency_budget", "volume", "purpose")
HINT_KEYS = frozenset(_KEYS)  # a body's `metadata` keys the gateway reads (also with a `hybridgate_` prefix)
_HEADER = {k: "x-hybridgate-" + k.replace("_", "-") for k in _KEYS}
_META = {k: "hybridgate_" + k for k in _HEADER}
_NONE = Hints()  # frozen: shared by every request that declares nothing
_EMPTY: Mapping[str, Any] = {}


def _pick(headers: Mapping[str, str], metadata: Mapping[str, Any], key: str) -> str | None:
    value = headers.get(_HEADER[key])
    if value is None and metadata:
        value = metadata.get(key) or metadata.get(_META[key])
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string", param=f"metadata.{key}")
    return value.strip()


_DATA_CLASS, _LATENCY, _VOLUME, _PURPOSE = _HEADER.values()


def parse_hints(headers: Mapping[str, str], body: Mapping[str, Any]) -> Hints:
    """`headers` must have lower-case names. Raises BadRequest for values outside the vocabulary."""
    meta = body.get("metadata")
    if not meta:  # no metadata to read: most requests declare nothing, and then only the lookups run
        get = headers.get
        if get(_DATA_CLASS) is None and get(_LATENCY) is None and get(_VOLUME) is None and get(_PURPOSE) is None:
            return _NONE
    metadata: Mapping[str, Any] = meta if isinstance(meta, Mapping) else _EMPTY
    raw_class = _pick(headers, metadata, "data_class")
    data_class = None
    if raw_class is not None:
        try:
            data_class = DataClass(raw_class.lower())
        except ValueError:
            raise BadRequest(
                f"x-hybridgate-data-class must be one of {', '.join(c.value for c in DataClass)}",
                param="x-hybridgate-data-class",
            ) from None
    values: dict[str, str | None] = {}
    for key, choices in _CHOICES.items():
        v = _pick(headers, metadata, key)
        if v is not None and v.lower() not in choices:
            raise BadRequest(
                f"x-hybridgate-{key.replace('_', '-')} must be one of {', '.join(choices)}",
                param=f"x-hybridgate-{key.replace('_', '-')}",
            )
        values[key] = v.lower() if v is not None else None
    purpose = _pick(headers, metadata, "purpose")
    if data_class is None and purpose is None and values["latency_budget"] is None and values["volume"] is None:
        return _NONE
    return Hints(data_class, values["latency_budget"], values["volume"], purpose[:200] if purpose else None)


def merge_defaults(hints: Hints, defaults: Hints) -> Hints:
    """A key's default hints fill what the request left out."""
    if (  # _declares_nothing(defaults), inline: most keys set no defaults
        type(defaults) is Hints
        and defaults.data_class is None
        and defaults.latency_budget is None
        and defaults.volume is None
        and defaults.purpose is None
    ):
        return hints
    if hints is _NONE or _declares_nothing(hints):
        return defaults
    return Hints(
        hints.data_class or defaults.data_class,
        hints.latency_budget or defaults.latency_budget,
        hints.volume or defaults.volume,
        hints.purpose or defaults.purpose,
    )


def _declares_nothing(h: Hints) -> bool:
    """`h == _NONE` (a Hints with no field set), without the tuples the dataclass comparison builds."""
    return (
        type(h) is Hints
        and h.data_class is None
        and h.latency_budget is None
        and h.volume is None
        and h.purpose is None
    )
