"""The cheap tier, composed: normalise, run every recogniser on the view, settle overlaps, apply the names
policy, map spans back to the original text. No spaCy, no I/O; a few dozen compiled regexes per call.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter

from hybridgate.detect.findings import Finding
from hybridgate.detect.normalize import Normalized, normalize
from hybridgate.detect.pii.addresses import addresses
from hybridgate.detect.pii.labelled import dates_of_birth, labelled_ids, prefixed_ids, record_numbers
from hybridgate.detect.pii.literals import Scan
from hybridgate.detect.pii.names import names
from hybridgate.detect.pii.policy import CONTEXT_ONLY_TYPES, NAME_TYPES, NamesPolicy, apply_names_policy
from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.scopes import class_marks, count_digits
from hybridgate.detect.pii.secrets import secrets
from hybridgate.detect.pii.structured import find_structured

# A finder gets the text and its literal scan (shared: one pass serves every finder's literal prefilter).
Finder = Callable[[str, Scan], Iterable[Candidate]]

# A digit run with OCR slips ("833-64-209l", "4O0-12"): letters that scanners confuse with digits.
# Written with the lookbehind after the first character (so the regex engine can skip to candidate characters):
# `(?<![A-Za-z])(?=[\dOolI]*\d[\dOolI]*\d)[\dOolI]+(?:[-. /][\dOolI]+)+(?![A-Za-z])`.
_OCR_RUN = re.compile(
    r"[\dOolI](?<![A-Za-z][\dOolI])(?:(?<=\d)(?=[\dOolI]*\d)|(?<!\d)(?=[\dOolI]*\d[\dOolI]*\d))"
    r"[\dOolI]*(?:[-. /][\dOolI]+)+(?![A-Za-z])"
)
_OCR_FOLD = str.maketrans("OolI", "0011")

# When two findings overlap, the stronger evidence wins: a label or checksum beats a bare shape.
_PRIORITY = {
    "SECRET": 9, "MRN": 8, "HEALTH_ID": 8, "NPI": 8, "DEA_NUMBER": 8, "PASSPORT": 8, "DRIVER_LICENSE": 8,
    "US_SSN": 7, "NATIONAL_ID": 7, "CREDIT_CARD": 7, "IBAN_CODE": 7, "BANK_ACCOUNT": 7, "DATE_OF_BIRTH": 7,
    "EMAIL_ADDRESS": 6, "IP_ADDRESS": 6, "MAC_ADDRESS": 6, "OTHER_ID": 5, "PHONE_NUMBER": 5,
    "USERNAME": 4, "STREET_ADDRESS": 3, "PERSON": 2,
}  # fmt: skip


# Where an `_OCR_RUN` match can be: from a group holding two digits to the end of its run of run characters.
# A match starting with letters ("O12-34") starts just before such a group, on the O/o/l/I right before it.
_OCR_REGION = re.compile(r"\d[\dOolI]*\d[\dOolI./ -]*")
_OCR_LETTER = re.compile("[OolI]")


def fold_ocr_digits(text: str) -> str:
    """Same-length fold of O/l/I inside digit runs, so offsets are unchanged. The fold runs only in the regions
    that can hold a match and contain a letter to fold (elsewhere it would change nothing)."""
    parts: list[str] = []
    done = 0
    n = len(text)
    for region in _OCR_REGION.finditer(text):
        start, end = region.span()
        while start > 0 and text[start - 1] in "OolI":
            start -= 1
        if _OCR_LETTER.search(text, start, end) is None:
            continue
        for m in _OCR_RUN.finditer(text, start, min(n, end + 1)):
            if m.start() >= end:
                break
            parts += (text[done : m.start()], m.group().translate(_OCR_FOLD))
            done = m.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


_SPAN = attrgetter("start", "end")


def _structured(text: str, scan: Scan) -> Iterator[Candidate]:
    """The structured ids, less the phone candidates overlap resolution is sure to drop (`find_structured`)."""
    return find_structured(text, scan, prune=True)


FINDERS: tuple[Finder, ...] = (_structured, labelled_ids, prefixed_ids, dates_of_birth, secrets, addresses)
NAME_FINDERS: tuple[Finder, ...] = (names,)


def _rank(c: Candidate) -> tuple[int, float, int]:
    return _PRIORITY.get(c.type, 1), c.score, c.end - c.start


def resolve_overlaps(candidates: list[Candidate]) -> list[Candidate]:
    """Keep the strongest of overlapping candidates; the survivors are disjoint and sorted by start."""
    # Survivors are disjoint, so sorted by start they are sorted by end too: a newcomer can only overlap
    # its neighbours in that order.
    starts: list[int] = []
    kept: list[Candidate] = []
    for c in sorted(candidates, key=_rank, reverse=True):
        i = bisect.bisect_right(starts, c.start)
        if (i and kept[i - 1].end > c.start) or (i < len(kept) and kept[i].start < c.end):
            continue
        starts.insert(i, c.start)
        kept.insert(i, c)
    return sorted(kept, key=_SPAN)


def _to_findings(view: Normalized, candidates: list[Candidate], detector: str) -> list[Finding]:
    if view.identity:  # the candidates are disjoint and sorted already: nothing to merge
        return [Finding(c.type, c.start, c.end, round(c.score, 3), detector=detector) for c in candidates]
    out: dict[tuple[int, int, str], Finding] = {}
    for c in candidates:
        start, end = view.span(c.start, c.end)
        key = (start, end, c.type)
        if key not in out or out[key].score < c.score:
            out[key] = Finding(c.type, start, end, round(c.score, 3), detector=detector)
    return sorted(out.values(), key=lambda f: (f.start, f.end))


# Findings of recently scanned texts. Requests repeat texts: the system prompt of an application, and in a
# conversation every earlier turn, re-sent with each new one. Keys are keyed BLAKE2b digests of the text (the
# key random per process, so no one can compute a colliding text), not the text: the cache holds no prompt
# text. Bounded like the router's word caches: emptied when full. Texts with many findings are not kept.
_CACHED_TEXTS = 4096
_CACHED_FINDINGS = 8  # at most ~5 MB kept (4,096 texts x 8 findings), whatever the traffic
_DIGEST_KEY = os.urandom(16)


class PiiDetector:
    """Structured ids + secrets + cheap name/address heuristics, under a names policy.

    `detect` is a pure function of the text (for a fixed names policy), so its results are remembered for
    the last few thousand texts (`cached_texts`; 0: none)."""

    def __init__(
        self, names_policy: NamesPolicy = "likely_person", *, name: str = "pii", cached_texts: int = _CACHED_TEXTS
    ) -> None:
        self.name = name
        self._names_policy: NamesPolicy = names_policy
        self._cache: dict[bytes, tuple[Finding, ...]] = {}
        self._cache_limit = cached_texts

    @property
    def names_policy(self) -> NamesPolicy:
        """Fixed at construction: remembered findings depend on it."""
        return self._names_policy

    def candidates(self, view_text: str, long_tokens: list[tuple[int, int]] | None = None) -> list[Candidate]:
        """`long_tokens`: the view's long tokens, when normalisation found them (the OCR fold keeps whitespace)."""
        marks = class_marks(view_text)  # digits counted from them (a byte count) where there are any
        digits = count_digits(view_text) if marks is None else marks.count(b"0")
        # The fold needs two digits in a run (`_OCR_REGION`), and a text it leaves as it is keeps its count.
        text = view_text if digits < 2 else fold_ocr_digits(view_text)
        scan = Scan.of(text, long_tokens, digits, marks) if text is view_text else Scan.of(text, long_tokens)
        found = [c for finder in FINDERS for c in finder(text, scan)]
        if self.names_policy != "off":
            found.extend(c for finder in NAME_FINDERS for c in finder(text, scan))
        kept = resolve_overlaps(found)
        if any(c.type not in NAME_TYPES and c.type not in CONTEXT_ONLY_TYPES for c in kept):
            kept = sorted(kept + record_numbers(text, kept, scan), key=_SPAN)
        return apply_names_policy(text, kept, self.names_policy, scan)

    def detect(self, text: str) -> list[Finding]:
        if not self._cache_limit:
            return self.scan(text)
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, key=_DIGEST_KEY).digest()
        known = self._cache.get(key)
        if known is not None:
            return list(known)
        found = self.scan(text)
        if len(found) <= _CACHED_FINDINGS:
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()
            self._cache[key] = tuple(found)
        return found

    def scan(self, text: str) -> list[Finding]:
        """`detect` without the cache."""
        view = normalize(text)
        return _to_findings(view, self.candidates(view.text, view.long_tokens), self.name)
