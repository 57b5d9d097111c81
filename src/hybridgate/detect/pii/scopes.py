"""Where a recogniser's regex can match at all, found with one cheap scan shared by several recognisers.

A pattern that starts with a lookbehind makes the regex engine try it at every position of the text (~25 us
per KB each); most of the text cannot hold a match. A scope finds the few windows that can, and the
recogniser's own regex then runs only inside them - with the real text around them, so lookbehinds and
lookaheads see what they would see in a full scan. The windows are chosen so that the matches are exactly
those of `pattern.finditer(text)`; the argument is in each scope's docstring and the tests compare both.

A window is (pos, stop, endpos, digits): matches start in [pos, stop); the regex may look up to endpos;
`digits` bounds the digits in [pos, stop) from above, so a recogniser needing more can skip the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

Window = tuple[int, int, int, int]

_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = b"0123456789"
_NON_ASCII_DIGIT = re.compile(r"[^\D0-9]")  # what `\d` matches beyond the ASCII digits


def count_digits(text: str) -> int:
    """How many characters of the text `\\d` matches: the ASCII digits, counted in C on the UTF-8 bytes (no
    other character's encoding holds their bytes), and the rare other decimal digits."""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, _ASCII_DIGITS))
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _ASCII_DIGITS)) + len(_NON_ASCII_DIGIT.findall(text))


# ASCII text's bytes translated to character classes, made once per text (`Scan.marks`) for the finders that
# look for characters of a class: capitals "A", small letters "a", digits "0"; "_", "." and "@" themselves;
# whitespace and the punctuation `'":=?,-` a blank; every other character "!". A class is then found by a byte
# search in C (a memchr for one), where a regex tests its character class at every position (~5x the cost).
_CLASS_MARKS = bytes(
    ord("A") if chr(i).isupper() else ord("a") if chr(i).islower() else ord("0") if chr(i).isdigit()
    else i if chr(i) in "_.@" else ord(" ") if chr(i).isspace() or chr(i) in "'\":=?,-" else ord("!")
    for i in range(128)
) + b"!" * 128  # fmt: skip


def class_marks(text: str) -> bytes | None:
    """The class marks of an ASCII text (same offsets); None for any other text."""
    return text.encode("ascii").translate(_CLASS_MARKS) if text.isascii() else None


class Scope(Protocol):
    def windows(self, text: str) -> list[Window]: ...

    @property
    def gate(self) -> Gate | None: ...


@dataclass(frozen=True, slots=True)
class Gate:
    """What every match of a scope's `region`/`anchor` needs in the text: at least `min_digits` characters that
    `\\d` matches, one of the substrings `any_of` (when given), and at least `min_count` occurrences of the
    characters `count_of` together. A text failing it has no windows, so the windows need not be looked for
    (`Scan.windows`): a test of counts and `in`, not a regex scan."""

    min_digits: int = 0
    any_of: tuple[str, ...] = ()
    count_of: tuple[str, ...] = ()
    min_count: int = 0

    def open(self, text: str, digits: int) -> bool:
        """`digits`: how many characters of the text `\\d` matches."""
        if digits < self.min_digits:
            return False
        if self.any_of:
            for s in self.any_of:
                if s in text:
                    break
            else:
                return False
        if self.min_count:
            # Counted only up to `min_count`, by `find` (a memchr for one character) rather than `count`, which
            # reads all of a long text that holds many (prose and its full stops).
            n = 0
            for c in self.count_of:
                at = text.find(c)
                while at >= 0:
                    n += 1
                    if n >= self.min_count:
                        return True
                    at = text.find(c, at + (len(c) or 1))  # non-overlapping, as `count` counts
            return False
        return True


@dataclass(frozen=True, slots=True)
class RunScope:
    r"""Matches made only of characters in a class S, starting with a character in a subset of S.

    `region` ends in `[S]*`, so each of its matches runs greedily to the end of its S-run, and it matches at
    least where a match of the pattern can start - either because its head is implied by the pattern's head
    (`[A-Z]{2} ?\d{2}` for IBAN and NINO), or at the first start character of every run that has enough
    digits, refusing runs that cannot hold an accepted match (digit and phone patterns). No match can cross
    a character outside S, so runs are independent: a full scan finds inside each run what a scan of the run
    alone finds, and nothing elsewhere. `margin`: how far past a match its lookahead reads.
    """

    region: re.Pattern[str]
    margin: int = 1
    gate: Gate | None = None

    def windows(self, text: str) -> list[Window]:
        n = len(text)
        if text.isascii():  # the digits counted in C, not matched one by one
            out: list[Window] = []
            for m in self.region.finditer(text):
                start, end = m.span()
                digits = end - start - len(text[start:end].encode("ascii").translate(None, _ASCII_DIGITS))
                out.append((start, end, min(n, end + self.margin), digits))
            return out
        return [
            (m.start(), m.end(), min(n, m.end() + self.margin), len(_DIGIT.findall(text, m.start(), m.end())))
            for m in self.region.finditer(text)
        ]


@dataclass(frozen=True, slots=True)
class AnchorScope:
    """Matches that contain an anchor (found by a fast literal-led regex) and start at most `back` characters
    before it; `tail` matched at the anchor reaches at least as far as any match containing it can end.

    Windows [anchor - back, tail end) are merged where they overlap, so no match crosses a window edge.
    """

    anchor: re.Pattern[str]
    back: int
    tail: re.Pattern[str]
    margin: int = 1
    gate: Gate | None = None

    def windows(self, text: str) -> list[Window]:
        spans: list[list[int]] = []
        pos = 0
        while (m := self.anchor.search(text, pos)) is not None:
            lo = max(0, m.start() - self.back)
            tail = self.tail.match(text, m.start())
            hi = max(m.end(), tail.end() if tail is not None else m.end())
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
            pos = m.end()  # every anchor: one inside a tail may have a longer tail of its own
        n = len(text)
        return [(lo, hi, min(n, hi + self.margin), hi - lo) for lo, hi in spans]


def token_windows(text: str, min_len: int) -> list[Window]:
    """The whitespace-free tokens of at least `min_len` characters: the windows of a pattern that matches
    no whitespace and needs `min_len` characters (its lookarounds see the whitespace at the token's edges)."""
    out: list[Window] = []
    pos, n = 0, len(text)
    for tok in [t for t in text.split() if len(t) >= min_len]:  # the filter in a comprehension: ~2x faster
        # The first occurrence from `pos` is this token: an earlier one would sit inside a longer token.
        start = text.find(tok, pos)
        pos = start + len(tok)
        out.append((start, pos, min(n, pos + 1), pos - start))
    return out


def in_windows(pattern: re.Pattern[str], text: str, windows: list[Window], min_digits: int) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, restricted to the windows (equal to it when the scope fits the pattern)."""
    for pos, stop, endpos, digits in windows:
        if digits < min_digits:
            continue
        for m in pattern.finditer(text, pos, endpos):
            if m.start() >= stop:
                break
            yield m


# The only characters outside ASCII that a case-insensitive regex matches against ASCII letters (found by
# testing every code point against `(?i)[a-z]`); "İ" is also the only one whose lower() is two characters.
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def ascii_fold(text: str) -> str | None:
    """`text.lower()` when finding lower-case ASCII literals in it finds exactly where a case-insensitive
    regex can match them (same offsets); None when the text holds a character that breaks this."""
    if not text.isascii() and _FOLDS_TO_ASCII.search(text) is not None:
        return None
    return text.lower()


def matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a pattern that only matches (non-empty) at one of the sorted `starts`:
    leftmost, non-overlapping, in order - tried only there."""
    last = 0
    for p in starts:
        if p < last:
            continue
        m = pattern.match(text, p)
        if m is not None:
            yield m
            last = m.end()
