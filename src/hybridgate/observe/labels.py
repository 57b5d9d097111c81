"""Bounded label values: a metric label may only take values from config, or a small capped set.

A client controls the model name it sends, and upstreams control their error codes; neither may grow
a time series per distinct string. Unknown values collapse to "other" once a label has seen `cap`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

OTHER = "other"
NONE = "none"
_SAFE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")


class BoundedLabel:
    """Maps raw values to label values: known ones pass, new ones pass until `cap` distinct, then "other"."""

    def __init__(self, known: Iterable[str] = (), cap: int = 32) -> None:
        self._seen: set[str] = {k for k in known if _SAFE.match(k)}
        self._cap = len(self._seen) + cap

    def __call__(self, value: str | None) -> str:
        if value is None or value == "":
            return NONE
        if value in self._seen:
            return value
        if not _SAFE.match(value) or len(self._seen) >= self._cap:
            return OTHER
        self._seen.add(value)
        return value


class ClosedLabel:
    """Only values from config; anything else is "other" (for names a client can type, like models)."""

    def __init__(self, known: Iterable[str]) -> None:
        self._known = frozenset(known)

    def __call__(self, value: str | None) -> str:
        if value is None or value == "":
            return NONE
        return value if value in self._known else OTHER


def status_class(status: int) -> str:
    """Exact codes for the few that matter to alerts; everything else by class."""
    if status in (200, 400, 401, 403, 404, 413, 429, 499, 500, 502, 503, 504):
        return str(status)
    return f"{status // 100}xx"


def error_kind(outcome: str) -> str:
    """An attempt outcome (`status_503`, `per_try_timeout`, `connect`...) as a coarse error kind."""
    if outcome.startswith("status_"):
        code = outcome[7:]
        return "status_429" if code == "429" else f"status_{code[:1]}xx"
    return outcome
