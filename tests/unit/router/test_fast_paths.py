"""The scorer's fast paths (ASCII text) must give exactly what the general code gives: the shipped
artifact was trained on the general code's output."""

from __future__ import annotations

import random
import re

import pytest

from hybridgate.router import features
from hybridgate.router.wordpiece import _ASCII_WORDS, basic_words, general_words

SAMPLES = [
    "",
    "Summarise the design note, please: (a) why; [b] how? {c} x_y a-b 3.14 $5 #1 ~tilde `tick`",
    "def f(x):\n\treturn x;  # comment\r\n}",
    "tab\there\x0bvt\x0cff  many   spaces",
    "a\x01b ctrl\x7fdel \x1cfs",  # control characters take the general path
    "ÀÉÎ naïve café",  # non-ASCII takes the general path
]


def _random_ascii(rng: random.Random) -> str:
    alphabet = [chr(i) for i in range(128)]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


@pytest.mark.parametrize("text", SAMPLES + [_random_ascii(random.Random(i)) for i in range(300)])
def test_basic_words_fast_path_matches_general(text: str) -> None:
    assert basic_words(text) == general_words(text)


def test_fast_path_is_taken_for_plain_ascii() -> None:
    text = "Hello, world! It's 9:30."
    assert _ASCII_WORDS.findall(text.lower()) == general_words(text) == basic_words(text)
    assert basic_words(text) == ["hello", ",", "world", "!", "it", "'", "s", "9", ":", "30", "."]


@pytest.mark.parametrize("text", [*SAMPLES, "ABC abc 123 ½ ² ٣ ０ Σ ǅ 数"])
def test_char_counts_match_per_character_loops(text: str) -> None:
    assert features._count_digits(text) == sum(ch.isdigit() for ch in text)
    assert features._count_upper(text) == sum(ch.isupper() for ch in text)
    assert features._non_ascii(text) == features._ratio(sum(1 for ch in text if ord(ch) > 127), len(text))


# The keyword patterns as they were before the first-character lookahead was added.
ORIGINAL = {
    "_CODE": (
        r"```|\bdef \w+\(|\bclass \w+|\breturn\b|\bimport \w+|#include|\bfunction\b|=>|\bSELECT\b|"
        r"[{};]\s*$|\bprint\(|\bconsole\.log|\bpublic static\b",
        re.MULTILINE,
    ),
    "_MATH_WORDS": (
        r"\b(?:solve|equation|integral|derivative|probability|prove|calculate|compute|how many|how much|"
        r"percent|ratio|sum|product|total|average|remainder|polynomial|matrix|theorem|function)\b",
        re.IGNORECASE,
    ),
    "_REASONING": (
        r"\b(?:step by step|explain why|justify|derive|reason|implies|therefore|if and only if|"
        r"suppose|assume|must be true|cannot be)\b",
        re.IGNORECASE,
    ),
    "_NEGATION": (r"\b(?:NOT|EXCEPT|LEAST|never|false|incorrect)\b", 0),
    "_STATEMENTS": (r"\bStatement \d\b|\bI{1,3}\.\s|\bI and II\b", 0),
    "_WHICH": (r"\bwhich of the following\b", re.IGNORECASE),
}
KEYWORD_TEXTS = [
    "```\ndef f(x):\n  return x;\nSELECT 1 => print(console.log) public static #include {",
    "Solve the EQUATION; compute the sum. How many? \u017fum \u0130f and only if",
    "Assume X; it must be true, therefore. Step by step. cannot be",
    "NOT this, EXCEPT that, never false, incorrect; LEAST",
    "Statement 1 | I. II. III. I and II",
    "WHICH OF THE FOLLOWING, which of the following",
]


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_keyword_patterns_match_the_originals(name: str) -> None:
    original = re.compile(*ORIGINAL[name])
    rng = random.Random(7)
    words = [w for t in KEYWORD_TEXTS for w in t.split()]
    texts = KEYWORD_TEXTS + [" ".join(rng.choice(words) for _ in range(20)) for _ in range(200)]
    for text in texts:
        assert getattr(features, name).findall(text) == original.findall(text)
    assert any(original.findall(t) for t in KEYWORD_TEXTS)  # the samples do exercise the pattern


@pytest.mark.parametrize("name", ["_MATH_WORDS", "_REASONING", "_WHICH"])
def test_case_insensitive_counts_on_lowered_ascii_match_the_originals(name: str) -> None:
    original = re.compile(*ORIGINAL[name])
    rng = random.Random(11)
    words = [w for t in KEYWORD_TEXTS for w in t.split()] + ["SOLVE", "Which", "OF", "The", "FOLLOWING", "\u212a"]
    for text in KEYWORD_TEXTS + [" ".join(rng.choice(words) for _ in range(20)) for _ in range(300)]:
        lower = text.lower() if text.isascii() else None
        assert features._count_ci(getattr(features, name), text, lower) == len(original.findall(text))


def test_substring_prechecks_never_skip_a_match() -> None:
    negation, statements = re.compile(*ORIGINAL["_NEGATION"]), re.compile(*ORIGINAL["_STATEMENTS"])
    for text in KEYWORD_TEXTS:
        if negation.search(text):
            assert any(w in text for w in features._NEGATION_WORDS)
        if statements.search(text):
            assert any(m in text for m in features._STATEMENT_MARKS)
