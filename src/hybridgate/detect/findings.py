"""The detector interface: text in, findings out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of sensitive data. Offsets index the original (un-normalised) text; end is exclusive."""

    type: str
    start: int
    end: int
    score: float = 1.0
    message: int | None = None  # index of the message the text came from
    field: str | None = None  # where inside that message: "content", "tool_calls[0].arguments", ...
    detector: str = ""

    def located(self, message: int | None, field: str | None) -> Finding:
        return replace(self, message=message, field=field)


class Detector(Protocol):
    """Finds sensitive spans in one string. Must be pure: no I/O, no clock, no global state."""

    name: str

    def detect(self, text: str) -> list[Finding]: ...


class FakeDetector:
    """A scripted detector for tests: finds the listed substrings, or raises."""

    name = "fake"

    def __init__(self, needles: dict[str, str] | None = None, *, error: Exception | None = None) -> None:
        self.needles = dict(needles or {})
        self.error = error

    def detect(self, text: str) -> list[Finding]:
        if self.error is not None:
            raise self.error
        out: list[Finding] = []
        for needle, typ in self.needles.items():
            start = text.find(needle)
            while start >= 0:
                out.append(Finding(typ, start, start + len(needle), 1.0, detector=self.name))
                start = text.find(needle, start + 1)
        return out
