"""The scorer's fast paths (ASCII text) must give exactly what the general code gives: the shipped
artifact was trained on the general code's output."""

from __future__ import annotations

import random
import re
import sys

import pytest

from hybridgate.router import features
from hybridgate.router.wordpiece import _ASCII_WORDS, basic_words, first_words, general_words

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


# Accents, capitals with odd lower-casing, non-ASCII spaces, CJK, quotes, a combining mark, a format character.
WIDE = "éÉßİΣς\u00a0\u3000\u2003数’“\u0301\u200b½ﬁ"


def _random_mixed(rng: random.Random) -> str:
    alphabet = [chr(i) for i in range(128)] + list(WIDE) + [" "] * 20
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))


@pytest.mark.parametrize(
    "text",
    SAMPLES
    + [_random_ascii(random.Random(i)) for i in range(300)]
    + [_random_mixed(random.Random(i)) for i in range(300)]
    + ["plain words, “quoted” ones\u00a0and\u3000more. ÉTÉ x\x01y café"],
)
def test_basic_words_fast_path_matches_general(text: str) -> None:
    assert basic_words(text) == general_words(text)


@pytest.mark.parametrize(
    "text", [t for t in SAMPLES if t.isascii()] + [_random_ascii(random.Random(i)) for i in range(300)]
)
def test_ascii_words_by_translation_match_the_word_pattern(text: str) -> None:
    assert text.translate(features._NON_WORD_TO_SPACE).split() == features._WORD.findall(text)


@pytest.mark.parametrize("seed", range(300))
def test_first_words_are_the_first_of_all_words(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_mixed(rng) + " " + _random_mixed(rng)
    for n in (0, 1, 2, 3, 5, 8, 40):  # limits short enough that the text is cut at some whitespace
        assert first_words(text, n) == basic_words(text)[:n]


def test_fast_path_is_taken_for_plain_ascii() -> None:
    text = "Hello, world! It's 9:30."
    assert _ASCII_WORDS.findall(text.lower()) == general_words(text) == basic_words(text)
    assert basic_words(text) == ["hello", ",", "world", "!", "it", "'", "s", "9", ":", "30", "."]


@pytest.mark.parametrize(
    "text", [*SAMPLES, "ABC abc 123 ½ ² ٣ ０ Σ ǅ 数 한국 かな", "数学", "x\u3040\u9fff\uac00\ud7af\ud7b0"]
)
def test_char_counts_match_per_character_loops(text: str) -> None:
    assert features._char_counts(text) == (
        sum(ch.isdigit() for ch in text),
        sum(ch.isupper() for ch in text),
        sum(ord(ch) > 127 for ch in text),
        sum("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text),
    )


def test_lowering_keeps_every_word_and_keyword_match_outside_the_case_traps() -> None:
    # What `_lowered` relies on, checked over all of Unicode: outside the traps, lower() maps each character
    # to one character, never onto ASCII, keeps it a word character or not, and no character but the ASCII
    # letters matches an ASCII letter case-insensitively. (Final sigma, lowered by context, is a trap too.)
    word, letter = re.compile(r"\w"), re.compile("(?i)[a-z]")
    breaks = set()
    for cp in range(128, sys.maxunicode + 1):
        ch = chr(cp)
        low = ch.lower()
        if len(low) != 1 or low.isascii() or letter.match(ch) or bool(word.match(ch)) != bool(word.match(low)):
            breaks.add(ch)
    assert breaks and all(features._CASE_TRAPS.match(ch) for ch in breaks)
    assert features._CASE_TRAPS.match("\u03a3") and "x\u03a3".lower() != "x" + "\u03a3".lower()
    assert features._lowered("café \u017fum") is None and features._lowered("Café SUM") == "café sum"


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


def test_keyword_counts_from_lowered_ascii_words_match_the_originals() -> None:
    originals = [re.compile(*ORIGINAL[name]) for name in ("_MATH_WORDS", "_REASONING", "_WHICH")]
    rng = random.Random(11)
    words = [w for t in KEYWORD_TEXTS for w in t.split()] + ["SOLVE", "Which", "OF", "The", "FOLLOWING", "\u212a"]
    words += ["how", "MANY", "much", "step", "by", "If", "and", "only", "if", "must", "BE", "true", "cannot", "x_sum"]
    for text in KEYWORD_TEXTS + [" ".join(rng.choice(words) for _ in range(20)) for _ in range(300)]:
        lower = text.lower() if text.isascii() else None
        found = features._WORD.findall(lower if lower is not None else text)
        math_n, reasoning_n, which = features._keyword_counts(text, lower, found)
        assert [math_n, reasoning_n, which] == [
            len(originals[0].findall(text)),
            len(originals[1].findall(text)),
            bool(originals[2].search(text)),
        ]


def test_substring_prechecks_never_skip_a_match() -> None:
    negation, statements = re.compile(*ORIGINAL["_NEGATION"]), re.compile(*ORIGINAL["_STATEMENTS"])
    for text in KEYWORD_TEXTS:
        if negation.search(text):
            assert any(w in text for w in features._NEGATION_WORDS)
        if statements.search(text):
            assert any(m in text for m in features._STATEMENT_MARKS)
