"""One recogniser = a candidate regex + an optional validator + optional context words (+ an optional scope).

The regex finds candidates cheaply; the validator (checksum, issuing rules, `phonenumbers`) only ever sees
the candidate. Context words are looked for in a short window before the candidate, case-insensitively.
A scope (see `scopes`) limits the regex to the windows of the text where it can match at all.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from hybridgate.detect.pii.literals import LiteralSet, Scan
from hybridgate.detect.pii.scopes import Scope, Window

# (value, context_found) -> confidence; 0 rejects.
Validator = Callable[[str, bool], float]

CONTEXT_WINDOW = 48


class Candidate(NamedTuple):
    """A finding on the normalised view, before offsets are mapped back. A named tuple, not a frozen dataclass:
    a text yields dozens, and a frozen dataclass costs ~1 us each to build."""

    type: str
    start: int
    end: int
    score: float
    source: str  # which recogniser: used by the names policy and for debugging


@dataclass(frozen=True, slots=True)
class Recognizer:
    type: str
    pattern: re.Pattern[str]
    validate: Validator | None = None
    context: re.Pattern[str] | None = None
    needs_context: bool = False
    score: float = 0.9  # when there is no validator
    group: int | str = 0
    scope: Scope | None = None
    min_digits: int = 0  # no accepted candidate has fewer digits: scope windows with fewer are skipped
    context_after: re.Pattern[str] | None = None  # a label right after the candidate ("... office")
    precheck: Callable[[str], bool] | None = None  # a cheap test run before the context search
    # The validator's positive scores do not depend on the context (it only rescues candidates): validate
    # first and search for context words only when that fails (the search is the costlier step).
    lazy_context: bool = False
    # Every match of `context` starts at one of these literals (at a word start): with the text's literal scan,
    # the context regex is tried only there, and a `needs_context` recogniser is skipped when there are none.
    context_words: LiteralSet | None = None
    # A cheap test of the text (given its scan) that every match passes, for a recogniser without a scope, which
    # would otherwise read all of it: when it fails, `find_structured` skips the recogniser.
    needs: Callable[[Scan], bool] | None = None

    def find(
        self,
        text: str,
        windows: list[Window] | None = None,
        scan: Scan | None = None,
        outranked: list[tuple[int, int]] | None = None,
    ) -> Iterator[Candidate]:
        """Candidates in the text; `windows`: this recogniser's scope's windows, when already computed; `scan`:
        the text's literal scan, when the caller has it; `outranked`: spans of candidates that win any overlap
        with this recogniser's: a match containing one is left out unvalidated (see `find_structured`)."""
        starts = None if scan is None or self.context_words is None else scan.positions(self.context_words)
        if windows is None and self.scope is not None:
            windows = self.scope.windows(text)
        matches: Iterable[re.Match[str]]
        if windows is None:
            matches = self.pattern.finditer(text)
        else:  # `in_windows`, unrolled into a list: one generator less per candidate
            matches = []
            pattern, min_digits = self.pattern, self.min_digits
            for pos, stop, endpos, digits in windows:
                if digits < min_digits:
                    continue
                for m in pattern.finditer(text, pos, endpos):
                    if m.start() >= stop:
                        break
                    matches.append(m)
        for m in matches:
            start, end = m.span(self.group)
            if start < 0 or (self.precheck is not None and not self.precheck(m.group(self.group))):
                continue
            if outranked and any(start <= a and b <= end for a, b in outranked):
                continue
            value = m.group(self.group)
            if self.lazy_context and self.validate is not None and not self.needs_context:
                score = self.validate(value, False)
                if score <= 0 and self._context(text, start, end, starts):
                    score = self.validate(value, True)
            else:
                ctx = self._context(text, start, end, starts)
                if self.needs_context and not ctx:
                    continue
                score = self.validate(value, ctx) if self.validate else self.score
            if score > 0:
                yield Candidate(self.type, start, end, score, self.type)

    def _context(self, text: str, start: int, end: int, starts: list[int] | None) -> bool:
        """`starts`: where the context words can start (None: anywhere)."""
        return (self.context is not None and has_context(text, start, self.context, starts)) or (
            self.context_after is not None and self.context_after.match(text, end) is not None
        )


def has_context(text: str, start: int, words: re.Pattern[str], starts: list[int] | None = None) -> bool:
    """A context word in the window before `start`. `starts`: the sorted positions where a match of `words` can
    start; the search then tries only those in the window (most windows hold none)."""
    lo = max(0, start - CONTEXT_WINDOW)
    if starts is None:
        return words.search(text, lo, start) is not None
    i = bisect_left(starts, lo)
    while i < len(starts) and starts[i] < start:
        if words.match(text, starts[i], start) is not None:
            return True
        i += 1
    return False


def words(*alternatives: str) -> re.Pattern[str]:
    """A case-insensitive context pattern matching any of the words at a word start."""
    return re.compile(r"(?i)(?<![a-z])(?:" + "|".join(alternatives) + ")")


def ignore_context(fn: Callable[[str], float]) -> Validator:
    def validate(value: str, _ctx: bool) -> float:
        return fn(value)

    return validate


def boost(fn: Callable[[str], float], fallback: float) -> Validator:
    """Validated -> the validator's score; labelled but failing validation -> `fallback` (still reported)."""

    def validate(value: str, ctx: bool) -> float:
        score = fn(value)
        return score if score > 0 else (fallback if ctx else 0.0)

    return validate
