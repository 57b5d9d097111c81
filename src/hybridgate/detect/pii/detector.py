"""The cheap tier, composed: normalise, run every recogniser on the view, settle overlaps, apply the names
policy, map spans back to the original text. No spaCy, no I/O; a few dozen compiled regexes per call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from hybridgate.detect.findings import Finding
from hybridgate.detect.normalize import Normalized, normalize
from hybridgate.detect.pii.labelled import dates_of_birth, labelled_ids, prefixed_ids
from hybridgate.detect.pii.names import addresses, names
from hybridgate.detect.pii.policy import NamesPolicy, apply_names_policy
from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.secrets import secrets
from hybridgate.detect.pii.structured import STRUCTURED

Finder = Callable[[str], Iterable[Candidate]]

# A digit run with OCR slips ("833-64-209l", "4O0-12"): letters that scanners confuse with digits.
_OCR_RUN = re.compile(r"(?<![A-Za-z])(?=[\dOolI]*\d[\dOolI]*\d)[\dOolI]+(?:[-. /][\dOolI]+)+(?![A-Za-z])")
_OCR_FOLD = str.maketrans("OolI", "0011")

# When two findings overlap, the stronger evidence wins: a label or checksum beats a bare shape.
_PRIORITY = {
    "SECRET": 9, "MRN": 8, "HEALTH_ID": 8, "NPI": 8, "DEA_NUMBER": 8, "PASSPORT": 8, "DRIVER_LICENSE": 8,
    "US_SSN": 7, "NATIONAL_ID": 7, "CREDIT_CARD": 7, "IBAN_CODE": 7, "BANK_ACCOUNT": 7, "DATE_OF_BIRTH": 7,
    "EMAIL_ADDRESS": 6, "IP_ADDRESS": 6, "MAC_ADDRESS": 6, "OTHER_ID": 5, "PHONE_NUMBER": 5,
    "USERNAME": 4, "STREET_ADDRESS": 3, "PERSON": 2,
}  # fmt: skip


def fold_ocr_digits(text: str) -> str:
    """Same-length fold of O/l/I inside digit runs, so offsets are unchanged."""
    if not any(c in text for c in "OolI"):
        return text
    return _OCR_RUN.sub(lambda m: m.group().translate(_OCR_FOLD), text)


def _structured(text: str) -> Iterator[Candidate]:
    for r in STRUCTURED:
        yield from r.find(text)


FINDERS: tuple[Finder, ...] = (_structured, labelled_ids, prefixed_ids, dates_of_birth, secrets, addresses)
NAME_FINDERS: tuple[Finder, ...] = (names,)


def _rank(c: Candidate) -> tuple[int, float, int]:
    return _PRIORITY.get(c.type, 1), c.score, c.end - c.start


def resolve_overlaps(candidates: list[Candidate]) -> list[Candidate]:
    """Keep the strongest of overlapping candidates; the survivors are disjoint and sorted by start."""
    kept: list[Candidate] = []
    for c in sorted(candidates, key=_rank, reverse=True):
        if all(c.end <= k.start or c.start >= k.end for k in kept):
            kept.append(c)
    return sorted(kept, key=lambda c: (c.start, c.end))


def _to_findings(view: Normalized, candidates: list[Candidate], detector: str) -> list[Finding]:
    out: dict[tuple[int, int, str], Finding] = {}
    for c in candidates:
        start, end = view.span(c.start, c.end)
        key = (start, end, c.type)
        if key not in out or out[key].score < c.score:
            out[key] = Finding(c.type, start, end, round(c.score, 3), detector=detector)
    return sorted(out.values(), key=lambda f: (f.start, f.end))


class PiiDetector:
    """Structured ids + secrets + cheap name/address heuristics, under a names policy."""

    def __init__(self, names_policy: NamesPolicy = "with_context", *, name: str = "pii") -> None:
        self.name = name
        self.names_policy: NamesPolicy = names_policy

    def candidates(self, view_text: str) -> list[Candidate]:
        text = fold_ocr_digits(view_text)
        found = [c for finder in FINDERS for c in finder(text)]
        if self.names_policy != "off":
            found.extend(c for finder in NAME_FINDERS for c in finder(text))
        return apply_names_policy(text, resolve_overlaps(found), self.names_policy)

    def detect(self, text: str) -> list[Finding]:
        view = normalize(text)
        return _to_findings(view, self.candidates(view.text), self.name)
