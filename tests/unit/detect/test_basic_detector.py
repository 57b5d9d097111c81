"""The basic detector's cheap pre-checks skip a pattern only where it cannot match: same findings."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hybridgate.detect.basic import _PATTERNS, BasicDetector


def reference(text: str) -> list[tuple[str, int, int]]:
    """Every pattern over the whole text, no pre-check (the detector before the pre-checks)."""
    out = []
    for typ, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if typ == "CREDIT_CARD":
                digits = [int(c) for c in reversed(re.sub(r"\D", "", m.group()))]
                if sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10:
                    continue
            out.append((typ, m.start(), m.end()))
    return out


def found(text: str) -> list[tuple[str, int, int]]:
    return [(f.type, f.start, f.end) for f in BasicDetector().detect(text)]


CASES = [
    "no digits, no at sign, nothing to find here",
    "ssn 123-45-6789 and card 4111 1111 1111 1111",
    "mail a.b+c@example.co.uk now",
    "key sk-abcdefghijklmnopqrstuvwxyz012345 and AKIAABCDEFGHIJKLMNOP",
    "token ghp_" + "a" * 36,
    "arabic-indic digits \u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669",
    "card without separators 4111111111111111, phone 555-12-1234",
]

ALPHABET = st.sampled_from(list("ab Z09-@._+ \u0663sk-AKIAghp_\n"))


def test_known_cases_match_the_reference() -> None:
    for text in CASES:
        assert found(text) == reference(text), text
    assert {t for t, _, _ in found(" ".join(CASES))} == {"US_SSN", "EMAIL_ADDRESS", "CREDIT_CARD", "SECRET"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ALPHABET, st.sampled_from(CASES)), max_size=40).map("".join))
def test_random_text_matches_the_reference(text: str) -> None:
    assert found(text) == reference(text)
