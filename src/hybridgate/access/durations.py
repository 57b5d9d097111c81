"""Durations as people type them: 90s, 15m, 12h, 30d, 2w."""

from __future__ import annotations

import re

from hybridgate.errors import BadRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str, param: str = "duration") -> float:
    """Seconds in `text`; BadRequest naming `param` for anything else (the API answers 400, the CLI exits 2)."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise BadRequest(f"not a duration: {text!r} (use e.g. 90s, 15m, 12h, 30d, 2w)", param=param)
    return float(m.group(1)) * _UNITS[m.group(2)]
