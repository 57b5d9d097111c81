"""The cheap tier's shortcuts change no finding: digit and character gates, the fewer starts tried for
`key = value` assignments, the phone candidates left unvalidated, the health-word prefilter and the rewritten
numeric region each find exactly what the plain code finds.

Each test compares a shortcut with the plain computation on generated texts, and checks that the shortcut
actually applies on some of them (so that a broken shortcut shows).
"""

from __future__ import annotations

import random
import re

from hybridgate.detect.pii import addresses, detector, labelled, policy, secrets, structured
from hybridgate.detect.pii.literals import Scan
from hybridgate.detect.pii.scopes import Gate, count_digits
from tests.unit.detect.test_scopes import CORPUS

_SAMPLES = [
    "",
    "no digits at all here",
    "one 1 two 22 three 333",
    "Patient John Smith, MRN: 7095748, DOB 1967-05-10, phone (415) 555-0100, 742 Evergreen Terrace, Springfield",
    "IP 52.24.225.164 and ssn 482-32-7682 and card 4111 1111 1111 1111",
    "digits \u0663\u0664\u0665-\u0666\u0667-\u0668\u0669\u0660\u0661 and fullwidth \uff11\uff12",
    "superscripts x\u00b2 and \u00b3 are no \\d",
    "P.O. Box 12, APO AE 09012, 974 Via Roma 131, Italy 39767",
    "mail x@a(at)b.com, john [at] example [dot] com",
    "macs 3e:c8:d5:df:b5:59 and 3ec8.d5df.b559",
]
TEXTS = _SAMPLES + CORPUS


def _ungated(scan: Scan) -> Scan:
    """The same scan with every digit gate open (as if the text held any number of digits)."""
    return Scan(scan.text, scan.low, scan.hits, 10**9, {}, scan.long_tokens)


def test_count_digits_counts_what_backslash_d_matches() -> None:
    for text in TEXTS:
        assert count_digits(text) == len(re.findall(r"\d", text)), text


def test_gate_table() -> None:
    gate = Gate(2, (":", "-"))
    assert gate.open("a-b", 2) and gate.open("a:b", 3)
    assert not gate.open("a-b", 1) and not gate.open("ab", 5)
    assert Gate(min_digits=1).open("x", 1) and not Gate(min_digits=1).open("x", 0)
    three = Gate(count_of=(":", "-"), min_count=3)
    assert three.open("a:b-c:d", 0) and not three.open("a:b-c", 9)


def test_gated_windows_are_the_scopes_own() -> None:
    scopes = {id(r.scope): r.scope for r in structured.STRUCTURED if r.scope is not None}
    scopes[id(addresses._STATE_ZIP)] = addresses._STATE_ZIP
    closed = 0
    for scope in scopes.values():
        assert scope.gate is not None
        for text in TEXTS:
            scan = Scan.of(text)
            assert scan.windows(scope) == scope.windows(text), text
            closed += not scope.gate.open(text, scan.digits)
    assert closed > 100


def test_digit_gated_finders_find_what_ungated_ones_find() -> None:
    finders = (
        structured.find_structured,
        labelled.labelled_ids,
        labelled.prefixed_ids,
        labelled.dates_of_birth,
        addresses.addresses,
    )
    texts = [*TEXTS, "DOB 1/2/34", "MRN 1234", "ABC-1234", "12 Main St", "Box 1", "no box 1 here"]
    gated = 0
    for text in texts:
        scan = Scan.of(text)
        gated += scan.digits < 4
        for finder in finders:
            assert list(finder(text, scan)) == list(finder(text, _ungated(scan))), (finder.__name__, text)
    assert gated > 10


def test_ocr_fold_is_skipped_only_where_it_changes_nothing() -> None:
    texts = [*TEXTS, "l2", "4O", "1O0", "x 2l 3"]
    for text in texts:
        if count_digits(text) < 2:
            assert detector.fold_ocr_digits(text) == text, text


def _assignment_texts(seed: int, count: int) -> list[str]:
    """Key words with prefixes (attached, after `_.-`, after letters), separators, quotes and values."""
    rng = random.Random(seed)
    keys = [*secrets._KEY_LITERALS, "password", "passwd", "api_key", "apikey", "access-key", "session_id", "username"]
    prefixes = ["", "", "db_", "my.", "x-", "a1", "admin", "Com", "some_long_prefix_to_skip_", "9"]
    seps = [": ", "=", " = ", " is ", " was ", ":=", "=>", "", " ", ":"]
    values = ["hunter2", "'s3cret'", '"ab cd"', "abc)", "x", "none", "jsmith42", "a&b=c", "****", "pass=abc"]
    glue = [" ", "\n", ", ", "?", "&", "(", "-", ".", "", "word "]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 6)):
            key = rng.choice(prefixes) + rng.choice(keys)
            parts.append(key.upper() if rng.random() < 0.2 else key)
            parts += [rng.choice(seps), rng.choice(values), rng.choice(glue)]
        out.append("".join(parts))
    return out


def test_assignment_starts_tried_give_the_full_scan_matches() -> None:
    texts = [*_assignment_texts(5, 3000), "\u212aey token=abc123", "compass: north", *TEXTS[:300]]
    found = 0
    for text in texts:
        expected = [m.span() for m in secrets._ASSIGN.finditer(text)]
        assert [m.span() for m in secrets._assignment_matches(text, Scan.of(text))] == expected, text
        found += len(expected)
    assert found > 3000


def test_outrank_phone_is_every_structured_type_above_phones() -> None:
    phone = detector._PRIORITY["PHONE_NUMBER"]
    above = {r.type for r in structured.STRUCTURED if detector._PRIORITY.get(r.type, 1) > phone}
    assert above == structured.OUTRANK_PHONE


def test_pruned_phone_candidates_change_no_resolved_finding() -> None:
    rng = random.Random(9)
    shapes = ["52.24.225.164", "482-32-7682", "123.45.67.89", "(415) 555-0100", "4111 1111 1111 1111", "+1 555 0100"]
    words = ["phone ", "call ", "ssn ", "ip ", "card ", "", "tel: ", " or "]
    texts = [*TEXTS, *("".join(rng.choice(words) + rng.choice(shapes) for _ in range(3)) for _ in range(300))]
    pruned = 0
    for text in texts:
        scan = Scan.of(text)
        full = list(structured.find_structured(text, scan))
        kept = list(structured.find_structured(text, scan, prune=True))
        pruned += len(full) - len(kept)
        others = [c for f in detector.FINDERS[1:] for c in f(text, scan)]
        assert detector.resolve_overlaps(kept + others) == detector.resolve_overlaps(full + others), text
    assert pruned > 20


def test_health_words_with_the_scan_equal_the_full_search() -> None:
    rng = random.Random(3)
    words = [*policy._HEALTH_STARTS, "tumour", "tumor", "xpatient", "Clinic", "HIV", "mental  health", "std"]
    texts = [" ".join(rng.choice([*words, "a", "ok", "-", "1"]) for _ in range(rng.randint(0, 4))) for _ in range(2000)]
    texts += ["\u0130 patient", "\u212a cancer", *TEXTS[:300]]
    hits = 0
    for text in texts:
        expected = policy.has_personal_context(text, [])
        assert policy.has_personal_context(text, [], Scan.of(text)) == expected, text
        hits += expected
    assert hits > 500


def test_numeric_region_is_the_plain_one() -> None:
    plain = re.compile(r"[+(\d](?:[+() .\-\sxetAB]*\d){6}[\d+() .\-\sxetAB]*")
    found = 0
    for text in [*TEXTS, "+1 (415) 555-0100", "(1 2 3 4 5 6", "1 2 3 4 5 6 7 e t x A B", "+123456"]:
        expected = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in structured.NUMERIC.region.finditer(text)] == expected, text
        found += len(expected)
    assert found > 500
