"""Scopes and literal prefilters: each fast scan must find exactly what the plain full-text regex finds.

Tables cover the edges of every window rule; seeded generated texts (digit groups, hex, dotted quads, e-mail
shapes, label words, context words) compare every scoped recogniser with its unscoped twin.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re

import pytest

from hybridgate.detect.normalize import _ENCODED, _HEX, _long_tokens
from hybridgate.detect.pii import detector, labelled, names, secrets, structured
from hybridgate.detect.pii.literals import Scan
from hybridgate.detect.pii.scopes import (
    AnchorScope,
    RunScope,
    ascii_fold,
    in_windows,
    matches_at,
    token_windows,
)
from hybridgate.detect.pii.structured import STRUCTURED

# --- the building blocks ---------------------------------------------------------------------------------


def test_run_scope_windows_cover_whole_runs_with_enough_digits() -> None:
    scope = RunScope(re.compile(r"\d(?:[ -]*\d){3}[\d -]*"))
    text = "a 12-34 b 1 2 3 4 5x 99"
    # "12-34" has 4 digits, "1 2 3 4 5" 5; "99" is too short to be a region at all.
    assert [(text[p:s], d) for p, s, _, d in scope.windows(text)] == [("12-34 ", 4), ("1 2 3 4 5", 5)]
    assert scope.windows(text)[1][2] == text.index("x") + 1  # the lookahead margin reaches past the run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no anchor here", []),
        ("x a@b.co y", [(0, 8)]),  # 65 back, clipped at 0; the tail runs over the domain
        ("a@b.co" + " " * 80 + "c@d.co", [(0, 6), (22, 92)]),  # far apart: two windows
        ("a@b c@d", [(0, 7)]),  # close: merged
    ],
)
def test_anchor_scope_windows(text: str, expected: list[tuple[int, int]]) -> None:
    scope = AnchorScope(re.compile("@"), 65, re.compile(r"@[a-z.]*"))
    assert [(p, s) for p, s, _, _ in scope.windows(text)] == expected


def test_in_windows_skips_windows_with_too_few_digits_and_matches_past_stop() -> None:
    pattern = re.compile(r"\d+")
    text = "12 345 6789"
    assert [m.group() for m in in_windows(pattern, text, [(0, 6, 11, 5), (7, 11, 11, 4)], 5)] == ["12", "345"]
    assert [m.group() for m in in_windows(pattern, text, [(0, 4, 11, 9)], 0)] == ["12", "345"]


def test_token_windows_find_each_long_token_at_its_own_offset() -> None:
    text = "abcdefghijkl x abcdefghijklmnop abcdefghijkl"
    assert [(p, s) for p, s, _, _ in token_windows(text, 12)] == [(0, 12), (15, 31), (32, 44)]
    assert _long_tokens(text) == [(0, 12), (15, 31), (32, 44)]
    assert token_windows("short words only", 12) == []


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Plain ASCII", "plain ascii"),
        ("caf\u00e9 \u2014 ok", "caf\u00e9 \u2014 ok"),  # non-ASCII that no ASCII letter folds to
        ("\u212aelvin sign", None),  # matches "k" case-insensitively: the literal search would miss it
        ("\u0130stanbul", None),  # lower() is two characters: offsets would shift
        ("long \u017f", None),
        ("dotless \u0131", None),
    ],
)
def test_ascii_fold(text: str, folded: str | None) -> None:
    assert ascii_fold(text) == folded


def test_matches_at_is_leftmost_and_non_overlapping() -> None:
    pattern = re.compile(r"ab+")
    assert [m.span() for m in matches_at(pattern, "abbb ab", [0, 1, 5])] == [(0, 4), (5, 7)]
    assert list(matches_at(pattern, "xx", [0, 1])) == []


# --- every scoped scan equals the full scan -----------------------------------------------------------------

EDGES = [
    "",
    "SSN 482-32-7682, card 4111 1111 1111 1111, NIR 2 95 10 2A 126 111 93.",
    "Steuer-ID 36 574 261 809 and 36574261809; NIR 2 95 10 99 126 111 93 and 2951099126111 93",
    "call +1 (954) 487-7934 ext 12 or 9544877934; fax (415) 555.0100x5",
    "IBAN GB29 NWBK 6016 1331 9268 19 and NI AB 12 34 56 C, DE89370400440532013000",
    "hosts 52.24.225.164, 1.2.3.4.5, 2001:db8:85a3::8a2e:370:7334, fe80::1, ::1 and a:b",
    "macs 3e:c8:d5:df:b5:59 3e-c8-d5-df-b5-59 3ec8.d5df.b559 and times 10:30:00",
    "mail x@a(at)b.com, john [at] example [dot] com, a @ b.co, x@a(at) bcd.com",
    "digits \u0663\u0664\u0665-\u0666\u0667-\u0668\u0669\u0660\u0661 (Arabic-Indic), 12 345 678 9",
    "adjacent 482-32-7682-1 and 482-32-7682a and x482-32-7682",
    "iban gb42nawi04454264788619, de89370400440532013000x and xde89370400440532013000",
    "swift CHASUS33, DEUTDEFF500, DOCUMENT, aCHASUS33 and CHASUS33X; aba 021000021, 011000015 and 1021000021",
]
_CONTEXT = ["ssn ", "iban ", "nhs ", "routing ", "phone ", "card ", "aadhaar ", "uid "]
_NOISE = [" ", "  ", "\n", ", ", "a", "Ab", "_", "-", "/", ".", "+", "@", ":", "x", "ext", "(", ")"]


def _generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)

    def d(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    def h(n: int) -> str:
        return "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(n))

    gens = [
        lambda: f"{d(3)}{rng.choice('- ')}{d(2)}{rng.choice('- ')}{d(4)}",
        lambda: d(rng.randint(7, 16)),
        lambda: rng.choice(["", " ", "-", ".", "\n"]).join(d(4) for _ in range(rng.randint(2, 5))),
        lambda: ".".join(d(rng.randint(1, 3)) for _ in range(rng.randint(3, 5))),
        lambda: rng.choice(":-").join(h(2) for _ in range(rng.randint(4, 7))),
        lambda: ".".join(h(4) for _ in range(rng.randint(2, 4))),
        lambda: ":".join(h(rng.randint(1, 4)) for _ in range(rng.randint(2, 8))) + rng.choice(["", "::", "::1"]),
        lambda: f"{rng.choice('12')} {d(2)} {d(2)} {rng.choice([d(2), '2A', '2B'])} {d(3)} {d(3)} {d(2)}",
        lambda: f"+{d(rng.randint(1, 3))} ({d(3)}) {d(3)}-{d(4)}{rng.choice(['', ' ext 12', ' x5'])}",
        lambda: f"{rng.choice(['GB', 'DE', 'AB'])}{d(2)} {' '.join(d(4) for _ in range(rng.randint(2, 5)))}",
        lambda: f"{rng.choice(['AB', 'QQ'])} {d(2)} {d(2)} {d(2)} {rng.choice('ABCDE')}",
        lambda: (
            rng.choice(["john.doe", "a", "x_y+z"])
            + rng.choice(["@", " @ ", "[at]", "(at)"])
            + rng.choice(["ex", "a-b"])
            + rng.choice([".", "[dot]", "(dot)"])
            + rng.choice(["com", "co.uk", "c"])
        ),
        lambda: rng.choice(_CONTEXT),
        lambda: rng.choice(_NOISE),
    ]
    return ["".join(rng.choice(gens)() for _ in range(rng.randint(1, 12))) for _ in range(count)]


CORPUS = EDGES + _generated(7, 1500)


_SCOPED = [i for i, r in enumerate(STRUCTURED) if r.scope is not None]


@pytest.mark.parametrize("index", _SCOPED, ids=[f"{STRUCTURED[i].type}-{i}" for i in _SCOPED])
def test_scoped_recogniser_finds_what_a_full_scan_finds(index: int) -> None:
    scoped = STRUCTURED[index]
    assert scoped.scope is not None
    full = dataclasses.replace(scoped, scope=None)
    found = 0
    for text in CORPUS:
        expected = list(full.find(text))
        assert list(scoped.find(text)) == expected, text
        found += len(expected)
    assert found or index in _RARE, "the corpus never exercises this recogniser"


# Dotted MACs need a non-repeating hex triple; context-only recognisers need their word right before the number.
_RARE = {i for i, r in enumerate(STRUCTURED) if r.pattern is structured._MAC_DOTTED or r.needs_context}


def _vocabulary_texts(pattern_sources: list[str], seed: int, count: int) -> list[str]:
    """Texts made of the words of the label patterns themselves (so every alternative gets hit), with
    separators, values and mixed case."""
    words: set[str] = set()
    for src in pattern_sources:
        seq = re.findall(r"[a-z']{2,}", src)
        words.update(seq)
        words.update(f"{a}{sep}{b}" for a, b in itertools.pairwise(seq) for sep in (" ", ""))  # "tax id", "taxid"
    # Phrases the word pairs above cannot spell (optional letters, a leading optional word).
    words.update(("driver's license", "drivers licence", "driver license", "license", "licence plate"))
    words.update(("aadhaar", "aadhar", "bank account", "checking account", "my name is", "i am", "next of kin"))
    values = ["1234567", "AB-12345678", "MRN-7095748", "W123456789", "1967-05-10", "Dorothy Robinson", "12"]
    vocabulary = sorted(words) + values
    rng = random.Random(seed)
    glue = [" ", "", ": ", " #", "-", "=", " is ", "\n", "(", "x"]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 10)):
            w = rng.choice(vocabulary)
            parts.append(w.upper() if rng.random() < 0.2 else w.capitalize() if rng.random() < 0.3 else w)
            parts.append(rng.choice(glue))
        out.append("".join(parts))
    return out


def test_label_prefilters_find_what_full_scans_find() -> None:
    texts = [*_vocabulary_texts([p for p, _ in labelled._LABELS], 3, 3000), "\u212aMRN: 1234567", "\u0130 ssn 123"]
    hits = 0
    for text in texts:
        expected = [m.span() for m in labelled._LABEL_RE.finditer(text)]
        assert [m.span() for m in labelled._label_matches(text)] == expected, text
        hits += len(expected)
    assert hits > 1000


def test_name_label_prefilter_finds_what_a_full_scan_finds() -> None:
    texts = [*_vocabulary_texts([names._LABEL.pattern], 4, 3000), "Dear Ann", "re:John", "\u212aim: Ann"]
    for text in texts:
        assert [m.span() for m in names._label_matches(text)] == [m.span() for m in names._LABEL.finditer(text)]


def test_honorific_prefilter_finds_what_a_full_scan_finds() -> None:
    rng = random.Random(5)
    words = ["Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Madam", "Rev", "Ann", "Lee", "van"]
    texts = ["".join(rng.choice(words) + rng.choice([". ", " ", ".", "", "\n"]) for _ in range(6)) for _ in range(2000)]
    for text in texts:
        found = names.honorific_matches(text)
        assert [m.span() for m in found] == [m.span() for m in names._HONORIFIC.finditer(text)], text


def test_dob_prefilter_finds_what_a_full_scan_finds() -> None:
    rng = random.Random(6)
    labels = ["dob", "DOB", "d.o.b.", "D.O.B", "date of birth", "birth date", "birthdate", "birthday", "born on", "b."]
    values = ["1967-05-10", "3/4/1980", "March 3, 1980", "3rd of May 1990", "x"]
    glue = [" ", ": ", "", " is ", "=", "\n", "a"]
    texts = ["".join(rng.choice(labels + values) + rng.choice(glue) for _ in range(6)) for _ in range(2000)]
    for text in texts:
        expected = [m.start("value") for m in labelled._DOB.finditer(text)]
        assert [c.start for c in labelled.dates_of_birth(text)] == expected, text


_OCR_REFERENCE = re.compile(r"(?<![A-Za-z])(?=[\dOolI]*\d[\dOolI]*\d)[\dOolI]+(?:[-. /][\dOolI]+)+(?![A-Za-z])")


@pytest.mark.parametrize("seed", range(3))
def test_ocr_fold_in_regions_equals_the_whole_text_substitution(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        text = "".join(rng.choice("0123456789OolIab -./x\n") for _ in range(rng.randint(0, 40)))
        expected = _OCR_REFERENCE.sub(lambda m: m.group().translate(detector._OCR_FOLD), text)
        assert detector.fold_ocr_digits(text) == expected, text


@pytest.mark.parametrize(
    "text",
    [
        "SSN 833-64-209l and O12-34-5678 and 4O0-12 and lo 12 OO-34",
        "no digits at all, only O o l I",
        "phone 555-O1O2 and 1.2.3.O",
    ],
)
def test_ocr_fold_table(text: str) -> None:
    expected = _OCR_REFERENCE.sub(lambda m: m.group().translate(detector._OCR_FOLD), text)
    assert detector.fold_ocr_digits(text) == expected


def test_encoded_runs_found_only_in_long_tokens_are_all_of_them() -> None:
    texts = [
        "am9obi5kb2VAZXhhbXBsZS5jb20 6a6f686e2e646f65406578616d706c652e636f6d x",
        "short tokens and one-very-long-hyphenated-token plus base64== ends",
        "xyz0123456789abcdef0123 hex inside a token",
        *_generated(11, 300),
    ]
    for text in texts:
        for pattern in (_HEX, _ENCODED):
            n = len(text)
            windowed = [m.span() for s, e in _long_tokens(text) for m in pattern.finditer(text, s, min(n, e + 1))]
            assert windowed == [m.span() for m in pattern.finditer(text)], text


def test_secret_prefilters_keep_every_match() -> None:
    texts = [
        "GRANT ALL ON db.* TO 'app'@'%' IDENTIFIED BY 'S3cret!pw';",
        'create user "svc_01"@localhost',
        "Authorization: BASIC dXNlcjpwYXNzd29yZA== and bearer abcdefghijklmnop",
        "\u212aey token=abc123XYZ789",
        "api_key = 'Zx8Qp2Lm9Rt4Vb7Nc1Kd5Hf3Jg6Ws0Ey' near a key",
    ]
    for text in texts:
        found = list(secrets.secrets(text))
        assert found, text
        sql = list(secrets._SQL_SECRET.finditer(text)) + list(secrets._SQL_USER.finditer(text))
        assert len([c for c in found if c.source == "sql"]) == len(sql)


def test_record_numbers_in_numeric_windows_are_those_of_a_full_scan() -> None:
    texts = [*CORPUS, "12345678", "a12345678", "12345678a", "1234567.8", "$12345678", "123456789012345678 x"]
    found = 0
    for text in texts:
        expected = labelled.record_numbers(text, [])
        assert labelled.record_numbers(text, [], Scan.of(text)) == expected, text
        found += len(expected)
    assert found > 100
