"""The shared literal scan: each set gets exactly the positions a `str.find` loop per literal gives, and what
the finders do with it (context words, gates, the exercise test, the fold fast path) changes no finding.

Texts are built from every registered literal (so each one occurs, overlapping and in mixed case), noise, and
the characters that break ASCII case folding.
"""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from hybridgate.detect.normalize import _Builder, _fold, normalize
from hybridgate.detect.pii import PiiDetector, policy, structured
from hybridgate.detect.pii.literals import _SETS, LiteralSet, Scan, literal_set
from hybridgate.detect.pii.recognizer import has_context
from hybridgate.detect.pii.scopes import ascii_fold
from hybridgate.detect.pii.structured import STRUCTURED

_NOISE = [" ", "", "a", "x", "\n", ": ", "-", "1", "İ", "\u212a", "é", "Ab", "."]


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    vocabulary = sorted({lit for s in _SETS for lit in s.literals})
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            w = rng.choice(vocabulary)
            parts.append(w.upper() if rng.random() < 0.2 else w.capitalize() if rng.random() < 0.2 else w)
            parts.append(rng.choice(_NOISE))
        out.append("".join(parts))
    return out


TEXTS = ["", "mrn: x; amrn; mrnmrn", "Dr. Mr Mrs", *_texts(1, 2000)]


def _reference(text: str, s: LiteralSet) -> list[int] | None:
    """A `find` loop per literal: the plain definition of where a set's literals start."""
    hay = text if s.cased else ascii_fold(text)
    if hay is None:
        return None
    hits = set()
    for lit in s.literals:
        i = hay.find(lit)
        while i >= 0:
            if not (s.word_start and i and "a" <= hay[i - 1] <= "z"):
                hits.add(i)
            i = hay.find(lit, i + 1)
    return sorted(hits)


def test_every_set_gets_the_positions_of_a_find_loop() -> None:
    found = 0
    for text in TEXTS:
        scan = Scan.of(text)
        for s in _SETS:
            expected = _reference(text, s)
            assert scan.positions(s) == expected, (text, s.literals[:3])
            found += len(expected or [])
    assert found > 3000


def test_word_starts_and_cased_sets() -> None:
    labels = next(s for s in _SETS if "mrn" in s.literals)
    assert Scan.of("mrn: x; amrn; mrnmrn").positions(labels) == [0, 9, 14, 17]
    names_labels = next(s for s in _SETS if "patient" in s.literals and s.word_start)
    assert Scan.of("patient xpatient Patient").positions(names_labels) == [0, 17]
    honorifics = next(s for s in _SETS if "Mr" in s.literals)
    # A cased set keeps its positions where the text has no ASCII fold; a lower-case one has none.
    assert Scan.of("\u0130 Dr Who mr").positions(honorifics) == [2]
    assert Scan.of("\u0130 Dr Who mr").positions(labels) is None


def test_a_set_registered_after_a_scan_is_found_by_the_next() -> None:
    Scan.of("x")
    late = literal_set(("zqlate",))  # a module imported after the first scan
    assert Scan.of("a zqlate b ZQLATE").positions(late) == [2, 11]


_CONTEXTUAL = [r for r in STRUCTURED if r.context is not None and r.context_words is not None]


def _spelled(pattern: re.Pattern[str]) -> list[str]:
    """What each alternative of a `words(...)` pattern matches ("messages? to" -> "messages to", "message to")."""
    inner = pattern.pattern.removeprefix("(?i)(?<![a-z])(?:").removesuffix(")")
    out = []
    for alt in inner.split("|"):
        alt = alt.replace("\\.", ".")
        out += [alt.replace("?", ""), re.sub(r".\?", "", alt)] if "?" in alt else [alt]
    return out


@pytest.mark.parametrize("index", range(len(_CONTEXTUAL)), ids=[r.type for r in _CONTEXTUAL])
def test_context_tried_at_literal_starts_equals_the_window_search(index: int) -> None:
    r = _CONTEXTUAL[index]
    assert r.context is not None and r.context_words is not None
    rng = random.Random(index)
    spelled = _spelled(r.context)
    # The pattern's own words (not the literal set's: a word missing from the set must show) around numbers.
    own = [" ".join(rng.choice([*spelled, "x", "4111", "A"]) for _ in range(8)) for _ in range(300)]
    hits = 0
    for text in own + [t.upper() for t in own[:50]] + TEXTS:
        starts = Scan.of(text).positions(r.context_words)
        for end in range(0, len(text) + 1, 3):
            expected = has_context(text, end, r.context)
            assert has_context(text, end, r.context, starts) == expected, (text, end)
            hits += expected
    assert hits > 100


_NUMBERS = ["482327682", "9544877934", "4111 1111 1111 1111", "gb42nawi04454264788619", "943 476 5919"]


@pytest.mark.parametrize("index", range(len(STRUCTURED)), ids=[r.type for r in STRUCTURED])
def test_recognisers_with_the_scan_find_what_they_find_without(index: int) -> None:
    r = STRUCTURED[index]
    plain = dataclasses.replace(r, context_words=None)
    rng = random.Random(index)
    for text in TEXTS[:600]:
        text = text + " " + rng.choice(_NUMBERS) + " " + text[:20]
        assert list(r.find(text, None, Scan.of(text))) == list(plain.find(text)), text


def test_structured_gates_keep_every_candidate() -> None:
    # The gated recognisers (SSN without dashes, lower-case IBAN, NHS) need their word; with it they fire.
    texts = ["ssn 482327682", "iban gb42nawi04454264788619", "NHS 943 476 5919", "482327682 no label", *TEXTS[:300]]
    for text in texts:
        with_scan = list(structured.find_structured(text, Scan.of(text)))
        assert with_scan == [c for r in STRUCTURED for c in r.find(text)], text


def test_exercise_test_with_the_scan_equals_the_plain_one() -> None:
    texts = ["Natalia sold 48 clips. How many clips in total?", "what is the total of 3 and 4", "HOW MANY 2", *TEXTS]
    for text in texts:
        assert policy.is_exercise(text, Scan.of(text)) == policy.is_exercise(text), text


@pytest.mark.parametrize("text", ["café — ok", "naïve “quotes” 100%", "50% of 12 Ωs", "ＡＢ", "a\u200bb", "x%41y"])
def test_fold_fast_path_is_the_general_path_when_nothing_changes(text: str) -> None:
    out = _Builder()
    _fold(text, out)
    unchanged = "".join(out.parts) == text and out.starts == list(range(len(text)))
    assert normalize(text).identity == unchanged


def test_long_tokens_from_normalisation_change_no_candidate() -> None:
    # The view's long tokens stand in for the folded text's own (the OCR fold keeps every blank where it is).
    detector = PiiDetector("all")
    secret = "api key Zx8Qp2Lm9Rt4Vb7Nc1Kd5Hf3Jg6Ws0Ey and 4O0-12-3456 then SK0123456789abcdef0123456789abcdef"
    texts = [secret, "ssn 833-64-209l token=AbC123xyz789QWErty456uiop", *TEXTS[:400]]
    for text in texts:
        view = normalize(text)
        assert detector.candidates(view.text, view.long_tokens) == detector.candidates(view.text), text
