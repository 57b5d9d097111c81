"""The PII cheap tier's byte-level and pre-filtered paths find exactly what the plain regex scans find: long
tokens, gates counted by `find`, the class marks, the BIC and given-name scans on them, the label starts a name
can follow, and the key words a separator can follow."""

from __future__ import annotations

import random
import re
import string

from hybridgate.detect.normalize import _long_tokens, _split_long_tokens
from hybridgate.detect.pii import names, secrets, structured
from hybridgate.detect.pii.literals import Scan
from hybridgate.detect.pii.scopes import Gate, class_marks
from tests.unit.detect.test_scopes import CORPUS

_WHITESPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2003"


def test_long_tokens_are_those_of_the_split_text() -> None:
    rng = random.Random(1)
    alphabet = string.ascii_letters + _WHITESPACE[:10]
    texts = ["", "x" * 12, "x" * 11, " " + "y" * 13, "a" * 12 + " " + "b" * 30 + "\n", *CORPUS]
    for _ in range(5000):
        parts = [rng.choice(alphabet) if rng.random() < 0.3 else "k" * rng.randint(1, 15) for _ in range(20)]
        texts.append("".join(parts))
    texts.append("é" + "z" * 14 + "\xa0" + "w" * 12)  # non-ASCII: the split path
    for text in texts:
        words = text.split()
        expected = [(s, s + len(w)) for s, w in _spans(text, words) if len(w) >= 12]
        assert _long_tokens(text) == _split_long_tokens(text) == expected, repr(text)


def _spans(text: str, words: list[str]) -> list[tuple[int, str]]:
    out, pos = [], 0
    for w in words:
        pos = text.index(w, pos)
        out.append((pos, w))
        pos += len(w)
    return out


def test_gate_counted_by_find_is_gate_counted_by_count() -> None:
    rng = random.Random(2)
    for count_of in ((":", "-"), (".",), ("ab", "b"), ("aa",)):
        for min_count in (1, 2, 3, 5):
            gate = Gate(count_of=count_of, min_count=min_count)
            for _ in range(400):
                text = "".join(rng.choice("ab:-. ") for _ in range(rng.randint(0, 12)))
                assert gate.open(text, 0) == (sum(map(text.count, count_of)) >= min_count), (count_of, text)


def test_class_marks() -> None:
    assert class_marks("Ab9_.@ \t'\":=?,-!/(é") is None
    assert class_marks("Ab9_.@ \t'\":=?,-!/(") == b"Aa0_.@         !!!"
    assert class_marks("\x1c\x7f") == b" !"


def _name_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    pool = [
        "re", "Re", "RE", "name", "Name", "my name is", "i'm", "I'm", "cc", "dear", "Dear", "John", "Mary", "Smith",
        "the", "HTTP", "DEUTDEFF", "ABCDEF", ":", " ", "\n", "\t", ",", ".", "-", "_", "'", '"', "=", "?", "is",
        "9", "@", "(", ")", "é", "Élodie", "\u212a", "x", "called", "my daughter", "'s name is", "patient",
    ]  # fmt: skip
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 15))) for _ in range(count)]


def test_name_scans_on_the_marks_find_what_the_regexes_find() -> None:
    labelled = given = 0
    for text in [*_name_texts(3, 20000), *CORPUS]:
        scan = Scan.of(text)
        assert scan.marks == class_marks(text)
        expected = [m.span() for m in names._LABEL.finditer(text)]
        assert [m.span() for m in names._label_matches(text, scan, scan.marks)] == expected, repr(text)
        assert [m.span() for m in names._label_matches(text, scan)] == expected, repr(text)
        spans = [m.span() for m in names._GIVEN_ALONE.finditer(text) if m.group() in names._GIVEN_CAPITALISED]
        assert names._given_alone_spans(text, scan.marks) == names._given_alone_spans(text) == spans, repr(text)
        labelled += bool(expected)
        given += bool(spans)
    assert labelled > 1000 and given > 1000


def test_bic_is_skipped_only_without_six_capitals_in_a_row() -> None:
    for text in [*_name_texts(4, 5000), *CORPUS, "ÀBCDEFG", "DEUTDEFF500"]:
        scan = Scan.of(text)
        six = re.search("[A-Z]{6}", text) is not None
        assert structured._six_capitals(scan) == six, repr(text)
        if not six:
            assert not list(structured._BIC.finditer(text)), repr(text)


def test_key_words_no_separator_can_follow_are_no_assignment_keys() -> None:
    texts = [
        "the user requests access when the service handles overload; a token of thanks",
        "password is hunter2 and user_name: ann and api-key=abc and Session_Key => xyz",
        "passwords = abc; tokenlist = x; user\n\n : bob; 'pass' : 'w0rd'; pwd was abc123",
        "handle  =  @x and account_name:ann, apikey\t=\tq1w2e3",
    ]
    for text in texts:
        expected = [m.span() for m in secrets._ASSIGN.finditer(text)]
        assert [m.span() for m in secrets._assignment_matches(text, Scan.of(text))] == expected, text
