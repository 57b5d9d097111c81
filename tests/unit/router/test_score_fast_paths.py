"""The per-request shortcuts of the complexity scorer give exactly what the plain code gives: ids by cached
whitespace pieces, the gated and byte-level hand features, the plain-chat request text, the score's float32
arithmetic without numpy's wrappers. (The packaged artifact was trained on the plain definitions.)"""

from __future__ import annotations

import math
import random
from itertools import chain
from typing import Any

import numpy as np
import pytest

from hybridgate.detect.complexity import LearnedScorer
from hybridgate.router import features
from hybridgate.router.artifact import RouterArtifact, load_default
from hybridgate.router.text import _request_text, request_text
from hybridgate.router.wordpiece import WordPiece, first_words
from tests.unit.router import reference_scorer as reference
from tests.unit.router.conftest import make_artifact
from tests.unit.router.test_fast_paths import _random_ascii, _random_mixed
from tests.unit.router.test_scorer_equivalence import CUES, REQUESTS, TEXTS, WORDS

# Words each gated pattern needs, in every case, next to near misses.
GATE_WORDS = [
    "NOT", "Not", "not", "NOTE", "EXCEPT", "except", "LEAST", "least", "never", "Never", "false", "FALSE",
    "incorrect", "Statement", "statement", "Statement 2", "Statement 12", "I.", "II.", "III.", "IIII.", "i.",
    "I and II", "I and III", "I", "which", "Which of the following", "which of the following", "how", "how many",
    "How much", "step by step", "Step by step", "explain why", "if and only if", "must be true", "cannot be",
    "reason", "Reason", "total", "TOTAL", "sum", "x_sum", "sum_x", "=", "^", "\\", "\\frac", "√", "2 + 3",
    "```", "`", "#", "#include", "=>", "= >", "(", "print(", "print (", "{", "}", ";", "def f(", "class A",
    "return", "import os", "function", "SELECT", "select", "console.log", "public static", "?", ".", "!",
    "a.", "b!", "c?", "\n", "\n(A) x", "\nb) y", "  C. z", "(d) w",
]  # fmt: skip
SEPS = [" ", " ", "  ", "\n", "\t", ", ", ". ", "! ", "? ", "", "\r\n", "\x0b", "\x1c"]


def _gate_text(rng: random.Random) -> str:
    pool = GATE_WORDS + WORDS
    return "".join(rng.choice(pool) + rng.choice(SEPS) for _ in range(rng.randint(0, 30)))


def _texts() -> list[str]:
    rng = random.Random(5)
    out = list(TEXTS)
    out += [_gate_text(rng) for _ in range(1500)]
    out += [_random_ascii(random.Random(i)) for i in range(300)]
    out += [_random_mixed(random.Random(i)) for i in range(300)]
    out += [f"{cue}" for cue in CUES + GATE_WORDS]
    out += ["x" * 300, "a " + "b" * 256 + " c" * 9, "supercalifragilistic " * 5]  # words past 255 characters
    return out


TEXTS_ALL = _texts()


def test_hand_features_equal_the_plain_definition_exactly() -> None:
    for text in TEXTS_ALL:
        for messages in ([{"role": "user", "content": text}], [{"role": "system", "content": text}]):
            t = request_text(messages)
            assert features.hand_feature_list(t) == reference.hand_features(t), repr(text)[:200]


def test_hand_features_are_float32_of_the_list() -> None:
    t = request_text([{"role": "user", "content": TEXTS[3]}])
    got = features.hand_features(t)
    assert got.dtype == np.float32 and got.tolist() == np.array(features.hand_feature_list(t), np.float32).tolist()
    assert len(got) == len(features.FEATURE_NAMES)


@pytest.mark.parametrize("text", TEXTS_ALL[:400])
def test_each_shortcut_counts_what_its_pattern_counts(text: str) -> None:
    assert features._sentences(text) == len(features._SENTENCE.findall(text))
    assert features._choice_lines(text) == len(features._CHOICE_LINE.findall(text))
    assert features._has_code_mark(text) == any(m in text for m in features._CODE_MARKS)
    assert features._has_statement_mark(text) == any(m in text for m in features._STATEMENT_MARKS)
    assert features._code(text) == len(features._CODE.findall(text))
    digits = sum(ch.isdigit() for ch in text)
    assert features._math_ops(text, digits) == len(features._MATH_OP.findall(text))
    words = features._WORD.findall(text)
    assert features._long_words(words) == sum(len(w) >= 9 for w in words)


def test_every_code_mark_alone_is_seen() -> None:
    for mark in features._CODE_MARKS:
        assert features._has_code_mark(f"plain prose {mark} more prose")
        assert features._has_code_mark(mark)
    assert not features._has_code_mark("plain prose, (with) a = b, `tick` and #hash, nothing else.")


def _old_ids(wp: WordPiece, text: str, n: int) -> list[int]:
    return list(chain.from_iterable(map(wp._split_word, first_words(text, n))))


@pytest.mark.parametrize("cached", [3, 50_000])
def test_ids_by_cached_pieces_are_the_ids_of_the_first_words(cached: int) -> None:
    a = load_default()
    wp = WordPiece(a.vocab, cached_words=cached)
    rng = random.Random(9)
    long_texts = [" ".join(rng.choice(TEXTS_ALL) for _ in range(40)) for _ in range(20)]
    for text in TEXTS_ALL[::3] + long_texts:
        for n in (0, 1, 2, 3, 5, 8, 40, 1024):  # small limits cut inside the text, some inside a piece
            assert wp.ids(text, n) == _old_ids(wp, text, n), (repr(text)[:200], n)
    assert len(wp._piece_ids) <= cached and len(wp._word_ids) <= cached and len(wp._piece_words) <= cached
    assert all(len(p) <= 32 for p in chain(wp._piece_ids, wp._piece_words))  # long pieces are never kept
    assert any(len(p) > 32 for t in TEXTS_ALL for p in t.split())


def test_ids_cut_inside_a_piece() -> None:
    wp = WordPiece(make_artifact().vocab)
    text = "hard proofs, the (unaffable) easy"  # pieces of 1-4 words
    for n in range(12):
        assert wp.ids(text, n) == _old_ids(wp, text, n)
    assert wp.ids(text, 2) == [4, 6, 7]  # "hard", "proof" "##s": the limit counts words, not ids


def _requests() -> list[tuple[list[Any], bool]]:
    out = list(REQUESTS)
    odd: list[list[Any]] = [
        [],
        [{"role": "system", "content": "s"}],
        [{"role": "assistant", "content": "a"}, {"role": "tool", "content": "t"}],
        [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}],
        [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "developer", "content": "d"}],
        [{"role": "user", "content": None}],
        [{"role": "user"}],
        [{"content": "no role"}],
        [{"role": "user", "content": "x", "name": "bob"}],
        [{"role": "user", "content": "x", "tool_calls": []}],
        [{"role": "assistant", "content": "x", "tool_calls": [{"function": {"arguments": "{}"}}]}],
        [{"role": "user", "content": [{"type": "text", "text": "part"}]}],
        ["not a message", {"role": "user", "content": "x"}],
    ]
    out += [(m, t) for m in odd for t in (False, True)]
    return out


def test_plain_chat_request_text_matches_the_general_path() -> None:
    plain = 0
    for messages, tools in _requests():
        assert request_text(messages, tools=tools) == _request_text(messages, tools), repr(messages)[:200]
        plain += all(type(m) is dict and set(m) <= {"role", "content"} for m in messages)
    assert plain > 100  # most requests take the plain path


def _score_as_before(s: LearnedScorer, v: np.ndarray) -> float:
    z = float(v @ s._w) + s._b
    if s._prior_c is not None and s._prior_g is not None:
        sims = v[s._prior_start :] @ s._prior_c
        p = np.exp(sims - sims.max())
        z += float(p @ s._prior_g) / float(p.sum())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@pytest.mark.parametrize("which", ["packaged", "tiny"])
def test_vectors_and_scores_are_bit_identical_to_the_unfused_arithmetic(which: str) -> None:
    a: RouterArtifact = load_default() if which == "packaged" else make_artifact()
    s = LearnedScorer(a)
    emb = s.vectorizer.embedding
    for messages, tools in _requests():
        got = s.score(messages, tools=tools)
        v = s.last_vector
        assert v is not None
        t = request_text(messages, tools=tools)
        row = np.concatenate([features.hand_features(t), _embed_as_before(emb.table, emb.tokenizer, t.last_user)])
        assert v.tobytes() == row.tobytes(), repr(messages)[:200]
        assert got == _score_as_before(s, row)


def _embed_as_before(table: np.ndarray, wp: WordPiece, text: str) -> np.ndarray:
    ids = _old_ids(wp, text, 1024)
    if not ids:
        return np.zeros(table.shape[1], dtype=np.float32)
    vec: np.ndarray = np.add.reduce(table.take(ids, axis=0), axis=0)  # the code before this change
    vec /= len(ids)
    norm = float(np.sqrt(vec.dot(vec)))
    if norm > 0:
        vec /= norm
    return vec
