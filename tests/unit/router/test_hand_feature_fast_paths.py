"""The byte-level fast paths of the hand features and the packed word-piece ids give exactly what the plain
code gives (the shipped artifact was trained on its output)."""

from __future__ import annotations

import random
from array import array

import numpy as np

from hybridgate.router import features
from hybridgate.router.embed import StaticEmbedding
from hybridgate.router.text import request_text
from hybridgate.router.wordpiece import ID_SIZE, WordPiece
from tests.unit.router.test_fast_paths import WIDE, _random_ascii, _random_mixed


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = ["", "a", "x" * 9, " " + "y" * 12 + " ", "Done. Next!  Why?\nEnd.", "...", "a.\n"]
    for i in range(count):
        out.append(_random_ascii(rng) if i % 2 else _random_mixed(rng))
        words = ["a" * rng.randint(1, 14), "Word", "_x9", "3.5", ". ", "? ", "!", "\n", "\t", " ", "\x1c"]
        out.append("".join(rng.choice(words) for _ in range(rng.randint(0, 20))))
    return out


def test_long_words_counted_on_blanked_bytes_are_the_words_of_nine_or_more() -> None:
    for text in _texts(1, 1500):
        lower = features._lowered(text)
        if lower is None or not lower.isascii():
            continue
        blanked = lower.encode("ascii").translate(features._NON_WORD_BYTES)
        words = features._words(text, lower)
        assert features._long_blanked_words(blanked) == features._long_words(words), repr(text)
        assert features._long_blanked_words(blanked) == sum(len(w) >= 9 for w in words), repr(text)


def test_ascii_counts_are_the_character_counts_and_sentences() -> None:
    for text in _texts(2, 1500):
        if not text.isascii():
            continue
        digits, upper, _, _ = features._char_counts(text)
        assert features._ascii_counts(text) == (digits, upper, features._sentences(text)), repr(text)
        assert features._sentences(text) == len(features._SENTENCE.findall(text)), repr(text)


_CODE_PIECES = [
    "def", "def f(x)", " ", "\n", "x(", "de", "f x(", "class Foo", "return", "{", "}", ";", "```", "#include",
    "=>", "=", "SELECT", "select", "print(", "blueprint(", "console.log", "public static", "ab", "cab", "x",
    "É", "\t", "import os", "Return", "İ",
]  # fmt: skip


def test_code_count_gated_on_the_user_words_is_the_full_count() -> None:
    """Including a last user turn that the text ends with but not at a message boundary ("ab" after "cab")."""
    rng = random.Random(3)
    roles = ["system", "user", "assistant", "user"]
    found = 0
    for _ in range(20000):
        messages = [
            {"role": rng.choice(roles), "content": "".join(rng.choice(_CODE_PIECES) for _ in range(rng.randint(0, 6)))}
            for _ in range(rng.randint(1, 4))
        ]
        t = request_text(messages)
        lower = features._lowered(t.last_user)
        words = features._words(t.last_user, lower)
        distinct = set(words) if lower is not None else set(map(str.lower, words))
        expected = features._code(t.all_text)
        assert features._request_code(t.all_text, t.last_user, distinct) == expected, messages
        found += expected > 0
    assert found > 1000


def _wordpiece() -> WordPiece:
    return WordPiece(["[UNK]", "the", "un", "##aff", "##able", ",", "hard", "proof", "##s", "a", "##b", "é", "数"])


def test_packed_ids_are_the_ids() -> None:
    wp = _wordpiece()
    rng = random.Random(4)
    texts = ["The unaffable, zzz", "hard proofs " * 300, "ab " * 1100, WIDE, *(_random_mixed(rng) for _ in range(300))]
    for text in texts:
        for n in (1, 2, 5, 1024):
            packed = wp.id_bytes(text, n)
            assert len(packed) % ID_SIZE == 0
            assert array("q", packed).tolist() == wp.ids(text, n), (repr(text)[:80], n)
    assert wp.ids("The unaffable, zzz") == [1, 2, 3, 4, 5, 0]


def test_embedding_of_packed_ids_is_the_mean_of_the_rows() -> None:
    wp_vocab = ["[UNK]", "the", "un", "##aff", "##able", ",", "hard", "proof", "##s"]
    rng = np.random.default_rng(5)
    table = rng.integers(-127, 128, size=(len(wp_vocab), 6), dtype=np.int8)
    scale = rng.random(6, dtype=np.float32)
    emb = StaticEmbedding(wp_vocab, table, scale)
    for text in ["The unaffable, hard proofs", "", "zzz", "the the the"]:
        ids = emb.tokenizer.ids(text)
        got = emb.embed(text)
        if not ids:
            assert not got.any()
            continue
        mean = emb.table[ids].mean(axis=0)
        expected = mean / np.linalg.norm(mean)
        assert np.array_equal(got, expected.astype(np.float32)), text
