"""The scorer's newer shortcuts give exactly what the plain code gives: the greedy sub-word split without "##"
strings, the line and question counts that skip the last user turn, and the phrase gates on the phrase's words."""

from __future__ import annotations

import random

from hybridgate.router import features
from hybridgate.router.artifact import load_default
from hybridgate.router.text import request_text
from hybridgate.router.wordpiece import WordPiece
from tests.unit.router import reference_scorer as reference
from tests.unit.router.test_fast_paths import _random_ascii, _random_mixed


def _greedy(wp: WordPiece, word: str) -> tuple[int, ...]:
    """BertTokenizer's greedy longest-match-first split, as written before (the plain definition)."""
    if len(word) > 100:
        return (wp.unk_id,)
    whole = wp.index.get(word)
    if whole is not None:
        return (whole,)
    ids: list[int] = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            found = wp.index.get(piece)
            if found is not None:
                break
            end -= 1
        if found is None:
            return (wp.unk_id,)
        ids.append(found)
        start = end
    return tuple(ids)


def test_sub_word_split_is_the_greedy_split() -> None:
    small = WordPiece(["[UNK]", "the", "un", "##aff", "##able", "a", "##a", "##b", "ab", "##", "###", "x"])
    packaged = WordPiece(load_default().vocab)
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789#"
    words = ["", "a", "b", "#", "##", "###", "unaffable", "unaffablex", "aab", "abab", "xyz", "aaaaab", "é", "数"]
    for _ in range(3000):
        alphabet = letters[: rng.randint(2, len(letters))]  # few letters: many repeats, many vocabulary pieces
        words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))))
    words += ["the" * 40, "a" * 101]
    for wp in (small, packaged):
        for w in words:
            assert wp._split_word(w) == _greedy(wp, w), (w, wp is small)


def _chat(rng: random.Random) -> list[dict[str, str]]:
    pieces = ["a\nb", "x", "How many?", "why? ", "\n", "", "step by step", "how much", "Which of the following", "?"]
    roles = ["system", "user", "assistant", "user", "tool"]
    out = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.3:
            content = _random_ascii(rng)
        elif kind < 0.4:
            content = _random_mixed(rng)
        else:
            content = "".join(rng.choice(pieces) + rng.choice([" ", "", "\n"]) for _ in range(rng.randint(0, 8)))
        out.append({"role": rng.choice(roles), "content": content})
    return out


def test_hand_features_of_chats_equal_the_plain_definition() -> None:
    """Chats whose joined text ends with the last user turn and chats where it does not (a later turn), with and
    without line breaks and question marks in that turn."""
    rng = random.Random(8)
    for _ in range(4000):
        messages = _chat(rng)
        t = request_text(messages)
        assert features.hand_feature_list(t) == reference.hand_features(t), messages


def test_phrase_gates_count_what_the_phrase_patterns_count() -> None:
    rng = random.Random(9)
    words = ["how", "many", "much", "step", "by", "explain", "why", "if", "and", "only", "must", "be", "true"]
    words += ["cannot", "which", "of", "the", "following", "manyfold", "steps", "x"]
    for _ in range(5000):
        lower = "".join(rng.choice(words) + rng.choice([" ", "  ", ", ", "\n", ""]) for _ in range(rng.randint(0, 12)))
        distinct = set(features._words(lower, lower))
        for pattern, by_first in (
            (features._MATH_PHRASE, features._MATH_PHRASE_FIRST),
            (features._REASONING_PHRASE, features._REASONING_PHRASE_FIRST),
        ):
            assert features._phrase_count(pattern, by_first, lower, distinct) == len(pattern.findall(lower)), lower
