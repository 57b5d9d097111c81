"""A small regex detector: the always-available first line. The full detector lives in detect/pii."""

from __future__ import annotations

import re

from hybridgate.detect.findings import Finding

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("US_SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")),
    ("EMAIL_ADDRESS", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("CREDIT_CARD", re.compile(r"\b(?:\d[ -]?){12,18}\d\b")),
    ("SECRET", re.compile(r"\b(?:sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36})\b")),
)
_DIGIT = re.compile(r"\d")  # the patterns' own \d (Unicode digits too)


def _has_digit(text: str) -> bool:
    if text.isascii():  # a flag CPython keeps on every str: then only 0-9 can be a \d, ten fast scans
        return any(d in text for d in "0123456789")
    return _DIGIT.search(text) is not None


def _may_match(typ: str, text: str, digits: bool) -> bool:
    """A cheap test that every match of the type's pattern needs: a scan of the text for one character or
    substring instead of a regex attempt at every word boundary. Prose without digits, '@' or the secret
    prefixes (most prompts) skips the patterns entirely; the findings are the same either way."""
    if typ == "EMAIL_ADDRESS":
        return "@" in text
    if typ == "US_SSN":
        return digits and "-" in text
    if typ == "CREDIT_CARD":
        return digits
    return "sk-" in text or "AKIA" in text or "_" in text  # SECRET: gh[pousr]_ needs the underscore


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class BasicDetector:
    name = "basic"

    def detect(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        digits = _has_digit(text)
        for typ, pattern in _PATTERNS:
            if not _may_match(typ, text, digits):
                continue
            for m in pattern.finditer(text):
                if typ == "CREDIT_CARD" and not _luhn_ok(re.sub(r"\D", "", m.group())):
                    continue
                out.append(Finding(typ, m.start(), m.end(), 0.9, detector=self.name))
        return out
