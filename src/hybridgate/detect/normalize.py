"""Undo the cheap tricks that hide sensitive data from a regex, and remember where every character came from.

`normalize(text)` returns a `Normalized` view: NFKC-folded, zero-width and bidi controls removed, common
Cyrillic/Greek lookalikes folded to Latin, `%XX` escapes decoded in place, and - appended after the main text
on their own lines - the decoded form of base64 and hex segments that decode to readable text. Detectors run
on the view; `span()` maps a view span back to the original text, so findings always index what the client
sent. Text that folding leaves as it is (plain ASCII, or only characters that fold to themselves; no `%XX`)
and that has no encoded-looking run takes a fast path with no offset map at all.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# Invisible characters used to split tokens: zero-width, joiners, bidi embeddings/overrides/isolates, BOM.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)

# Lookalikes NFKC leaves alone (a subset of Unicode confusables: the letters that actually fool people).
_CONFUSABLES = str.maketrans(
    {
        **dict(zip("аеорсухіјѕԁӏһԛԝ", "aeopcyxijsdlhqw", strict=True)),
        **dict(zip("АВЕКМНОРСТХІЈЅ", "ABEKMHOPCTXIJS", strict=True)),
        **dict(zip("αεορτυχνικ", "aeoptuxvik", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),
        "ⅼ": "l",
        "ı": "i",
    }
)

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# Runs that might be encoded: base64 (>= 12 chars) or hex (>= 16 chars, even length).
_ENCODED = re.compile(r"(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/]{12,}={0,2}|[A-Za-z0-9_-]{16,}={0,2})(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])")
_MIN_DECODED = 6
_MIN_RUN = 12  # the shortest run `_ENCODED` or `_HEX` can match
_MIN_HEX = 16  # the shortest `_HEX` can match
_SPECIAL = re.compile(r"[^\x00-\x7f]|%[0-9A-Fa-f]{2}")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@dataclass(frozen=True, slots=True)
class Normalized:
    """The detector's view of a text. `starts[i]`/`ends[i]`: original span of view char i (None: identity).
    `long_tokens`: the view's whitespace-free tokens of 12+ characters, when found on the way (identity views),
    for detectors that scan long tokens too."""

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None
    long_tokens: list[tuple[int, int]] | None = None

    @property
    def identity(self) -> bool:
        return self.starts is None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) covering view span [start, end)."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            return self.starts[start] if start < len(self.starts) else len(self.original), self.ends[start - 1]
        return self.starts[start], self.ends[end - 1]


@cache  # a pure function of one character; texts repeat the few they use (dashes, quotes, accents)
def _fold_char(ch: str) -> str:
    if ch in _INVISIBLE:
        return ""
    if ch.isascii():
        return ch
    folded = unicodedata.normalize("NFKC", ch).translate(_CONFUSABLES)
    # Strip accents only from Latin letters, so "José" still reads as a name to the ASCII-minded heuristics.
    if not folded.isascii():
        stripped = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
        if stripped.isascii() and stripped:
            return stripped
    return folded


def _printable(data: bytes) -> str | None:
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < _MIN_DECODED or not s.isprintable():
        return None
    alnum = sum(c.isalnum() or c in " @.-_+:/()" for c in s)
    return s if alnum / len(s) >= 0.85 else None


_B64_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_B64_VALUE |= {"-": 62, "_": 63}  # base64url


def _may_start_text(body: str) -> bool:
    """Can the first byte that `body`'s first two characters decode to open printable UTF-8? A control byte or
    one no UTF-8 text starts with (continuation 0x80-0xBF, 0xC0, 0xC1, 0xF5+) makes `_printable` say no, so
    most ordinary words ("hospitalization") are turned down before decoding. (Other characters, which the
    decoder would skip: no opinion.)"""
    a, b = _B64_VALUE.get(body[:1]), _B64_VALUE.get(body[1:2])
    if a is None or b is None:
        return True
    first = (a << 2) | (b >> 4)
    return 0x20 <= first < 0x7F or 0xC2 <= first <= 0xF4


def decode_segment(seg: str) -> str | None:
    """The readable text a base64/base64url/hex run encodes, or None when it is not an encoding of text."""
    if _HEX.fullmatch(seg):
        try:
            return _printable(binascii.unhexlify(seg))
        except ValueError:
            return None
    body = seg.rstrip("=")
    if len(body) % 4 == 1 or not _may_start_text(body):
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded) if ("-" in body or "_" in body) else base64.b64decode(padded)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, s: str, start: int, end: int) -> None:
        self.parts.append(s)
        self.starts.extend([start] * len(s))
        self.ends.extend([end] * len(s))

    def copy(self, text: str, start: int, end: int) -> None:
        """Characters that pass through unchanged: a bulk identity map."""
        self.parts.append(text[start:end])
        self.starts.extend(range(start, end))
        self.ends.extend(range(start + 1, end + 1))


def _fold(text: str, out: _Builder) -> None:
    pos = 0
    for m in _SPECIAL.finditer(text):
        out.copy(text, pos, m.start())
        tok = m.group()
        if tok[0] == "%":
            decoded = chr(int(tok[1:], 16))
            out.add(decoded if decoded.isprintable() else tok, m.start(), m.end())
        else:
            out.add(_fold_char(tok), m.start(), m.end())
        pos = m.end()
    out.copy(text, pos, len(text))


# ASCII text's bytes with what str.split() splits on a blank and every other character an "x" (`_long_tokens`).
_TOKEN_MARKS = bytes(ord(" ") if chr(i).isspace() else ord("x") for i in range(128)) + b"x" * 128
_LONG_TOKEN_MARK = b"x" * _MIN_RUN
# The end of a long token followed by whitespace: ending with the blank (the rarer byte) lets the substring
# search move on at every position it does not end, where a run of "x" makes it compare at most of them.
_LONG_TOKEN_END = _LONG_TOKEN_MARK + b" "


def _long_tokens(text: str) -> list[tuple[int, int]]:
    """Whitespace-free tokens of 12+ characters. Neither encoded-run pattern matches whitespace and both need
    12+ characters, so all their matches lie inside these; scanning only them skips ~95% of prose.

    On ASCII text, found by their last 12 characters in its translated bytes (offsets are the same): a
    translate and a few searches in C, where splitting the text into words and testing each costs ~10x more."""
    if not text.isascii():
        return _split_long_tokens(text)
    marks = text.encode("ascii").translate(_TOKEN_MARKS)
    out: list[tuple[int, int]] = []
    at = marks.find(_LONG_TOKEN_END)
    while at >= 0:
        end = at + _MIN_RUN
        out.append((marks.rfind(b" ", 0, end) + 1, end))
        at = marks.find(_LONG_TOKEN_END, end + 1)
    if marks.endswith(_LONG_TOKEN_MARK):  # the last token, with no whitespace after it
        out.append((marks.rfind(b" ") + 1, len(marks)))
    return out


def _split_long_tokens(text: str) -> list[tuple[int, int]]:
    """_long_tokens of any text, by its words."""
    out: list[tuple[int, int]] = []
    pos = 0
    for tok in [t for t in text.split() if len(t) >= _MIN_RUN]:
        start = text.find(tok, pos)  # this token: an earlier occurrence would sit inside a longer token
        pos = start + len(tok)
        out.append((start, pos))
    return out


def _decoded_segments(text: str, tokens: list[tuple[int, int]] | None = None) -> list[tuple[int, int, str]]:
    """`tokens`: `_long_tokens(text)`, when the caller has them."""
    found: list[tuple[int, int, str]] = []
    tokens = _long_tokens(text) if tokens is None else tokens
    n = len(text)
    for pattern, shortest in ((_HEX, _MIN_HEX), (_ENCODED, _MIN_RUN)):
        # The lookahead reads one character past a token: the whitespace after it, or the end. A token shorter
        # than the pattern's shortest match cannot hold one.
        spans = [(start, min(n, end + 1)) for start, end in tokens if end - start >= shortest]
        for m in (m for start, stop in spans for m in pattern.finditer(text, start, stop)):
            decoded = decode_segment(m.group())
            if decoded is not None and all(f[0] != m.start() for f in found):
                found.append((m.start(), m.end(), decoded))
    return found


def _unchanged_by_fold(text: str) -> bool:
    """Does `_fold` leave every character where it is? Then the view and its offsets are those of plain text:
    with no `%XX` escape, each character `_fold` meets is one that folds to itself, mapped 1:1 as a copy is."""
    if "%" in text and _PERCENT.search(text) is not None:
        return False
    return text.isascii() or all(_fold_char(ch) == ch for ch in _NON_ASCII.findall(text))


def normalize(text: str) -> Normalized:
    plain = _unchanged_by_fold(text)
    tokens = _long_tokens(text) if plain else None
    segments = _decoded_segments(text, tokens) if plain else []
    if plain and not segments:
        return Normalized(text, text, long_tokens=tokens)
    out = _Builder()
    if plain:
        out.copy(text, 0, len(text))
    else:
        _fold(text, out)
        segments = _decoded_segments("".join(out.parts))
    starts, ends = list(out.starts), list(out.ends)
    for seg_start, seg_end, decoded in segments:
        # The decoded text goes on its own line after the view; all of it maps to the whole encoded run.
        out.add("\n" + decoded, starts[seg_start], ends[seg_end - 1])
    view = "".join(out.parts)
    if view == text:
        return Normalized(text, text)
    return Normalized(text, view, tuple(out.starts), tuple(out.ends))
