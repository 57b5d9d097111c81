"""BERT's uncased WordPiece tokenizer in plain Python, so the runtime needs no tokenizers library.

Same steps as BertTokenizer: clean, split CJK characters, lower-case, strip accents, split on
whitespace and punctuation, then greedy longest-match-first sub-words with a "##" prefix.
Sub-word splits are cached per word: real traffic repeats words a lot.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_MAX_WORD_CHARS = 100


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _strip_accents(word: str) -> str:
    if word.isascii():
        return word
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")


def _split_punct(word: str) -> list[str]:
    if word.isascii() and word.isalnum():
        return [word]
    out: list[str] = []
    cur: list[str] = []
    for ch in word:
        if _is_punct(ch) or _is_cjk(ord(ch)):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(ch)
        elif unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\n\r":
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


# On ASCII text without control characters the steps above reduce to one regex: runs of
# non-space, non-punctuation characters, and each punctuation character alone (~5x faster).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_ASCII_WORDS = re.compile(r"[!-/:-@\[-`{-~]|[^\s!-/:-@\[-`{-~]+")


def basic_words(text: str) -> list[str]:
    if text.isascii() and not _CONTROL.search(text):
        return _ASCII_WORDS.findall(text.lower())
    return general_words(text)


def general_words(text: str) -> list[str]:
    """basic_words for any text, step by step."""
    words: list[str] = []
    for raw in text.lower().split():
        words.extend(_split_punct(_strip_accents(raw)))
    return words


class WordPiece:
    """Text -> vocabulary ids. Unknown words map to the [UNK] id."""

    def __init__(self, vocab: Sequence[str], unk: str = "[UNK]") -> None:
        self.index = {tok: i for i, tok in enumerate(vocab)}
        self.unk_id = self.index[unk]
        self._word_ids = lru_cache(maxsize=50_000)(self._split_word)

    def _split_word(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self.unk_id,)
        whole = self.index.get(word)
        if whole is not None:
            return (whole,)
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.index.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            ids.append(found)
            start = end
        return tuple(ids)

    def ids(self, text: str, max_words: int = 1024) -> list[int]:
        out: list[int] = []
        for word in basic_words(text)[:max_words]:
            out.extend(self._word_ids(word))
        return out
