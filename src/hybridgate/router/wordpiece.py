"""BERT's uncased WordPiece tokenizer in plain Python, so the runtime needs no tokenizers library.

Same steps as BertTokenizer: clean, split CJK characters, lower-case, strip accents, split on
whitespace and punctuation, then greedy longest-match-first sub-words with a "##" prefix.
Sub-word ids are cached per whitespace-separated piece of text (and per word): real traffic repeats
them a lot, and one dictionary lookup per piece replaces the word split and the per-word lookups.
The cache keeps each piece's ids packed as int64 bytes: a text's ids are then one `bytes.join`, which the
embedding hands to numpy as an index array without converting a list of ints (`WordPiece.id_bytes`).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, chain

_MAX_WORD_CHARS = 100
_CACHED_WORDS = 50_000
_MAX_PIECE_CHARS = 32  # longer whitespace-separated pieces are split every time (the words stay cached)
ID_TYPE = "q"  # the `array` type code of packed ids: int64, numpy's `np.int64`
ID_SIZE = array(ID_TYPE).itemsize


def _packed(ids: Sequence[int]) -> bytes:
    return array(ID_TYPE, ids).tobytes()


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


_WIDE_CHAR = re.compile(r"[^\x00-\x7f\s]")
_SPACE = re.compile(r"\s")


def basic_words(text: str) -> list[str]:
    lower = text.lower()
    if text.isascii():
        return _ascii_words(lower)
    # Only the pieces with a non-ASCII character need the steps one by one; the stretches between them
    # (often nearly all of the text: a few curly quotes or accented names) take the ASCII path.
    words: list[str] = []
    pos = 0
    for start, end in _wide_pieces(lower):
        words += _ascii_words(lower[pos:start])
        words += _split_punct(_strip_accents(lower[start:end]))
        pos = end
    words += _ascii_words(lower[pos:])
    return words


def _wide_pieces(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each whitespace-separated piece with a non-ASCII character, in order.

    Found from those characters outwards, the text reversed for the search to the left: a regex for
    whole pieces has to start at every position and is ~10x slower.
    """
    n, end = len(text), 0
    backwards = text[::-1]
    for m in _WIDE_CHAR.finditer(text):
        i = m.start()
        if i < end:
            continue  # in the piece just yielded
        left = _SPACE.search(backwards, n - i)
        right = _SPACE.search(text, i)
        end = right.start() if right else n
        yield (n - left.start() if left else 0), end


_CHARS_PER_WORD = 8  # a prefix this many characters per word wanted almost always holds enough words


def first_words(text: str, n: int) -> list[str]:
    """basic_words(text)[:n], reading only as much of a long text as that takes.

    Words never cross whitespace (nor does lower-casing look past it), so the words of the text up to a
    whitespace character are exactly the first words of the whole.
    """
    cut = _SPACE.search(text, _CHARS_PER_WORD * n) if len(text) > _CHARS_PER_WORD * n else None
    if cut is not None:
        words = basic_words(text[: cut.start()])
        if len(words) >= n:
            return words[:n]
    return basic_words(text)[:n]


def _ascii_words(lower: str) -> list[str]:
    """basic_words of lower-cased text whose pieces are ASCII (non-ASCII spaces may separate them)."""
    if not _CONTROL.search(lower):
        return _ASCII_WORDS.findall(lower)
    return [w for raw in lower.split() for w in _split_punct(raw)]


def general_words(text: str) -> list[str]:
    """basic_words for any text, step by step."""
    words: list[str] = []
    for raw in text.lower().split():
        words.extend(_split_punct(_strip_accents(raw)))
    return words


class _WordCache(dict[str, bytes]):
    """word -> its sub-word ids (packed), computed on first use; emptied when full, so memory stays bounded.

    A plain dict lookup from C (map over its __getitem__) costs a fraction of an lru_cache call, and
    the scorer makes one per word (or whitespace-separated piece) of every request. Keys longer than
    `max_key` characters are computed every time, never kept (a long piece is rare, and large).
    """

    def __init__(self, split: Callable[[str], bytes], limit: int, max_key: int = _MAX_WORD_CHARS) -> None:
        super().__init__()
        self._split = split
        self._limit = limit
        self._max_key = max_key

    def __missing__(self, word: str) -> bytes:
        if len(word) > self._max_key:
            return self._split(word)
        if len(self) >= self._limit:
            self.clear()
        ids = self[word] = self._split(word)
        return ids


class _CountCache(dict[str, int]):
    """piece -> how many words basic_words makes of it; bounded like _WordCache."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __missing__(self, piece: str) -> int:
        n = len(basic_words(piece))
        if len(piece) <= _MAX_PIECE_CHARS:
            if len(self) >= self._limit:
                self.clear()
            self[piece] = n
        return n


class WordPiece:
    """Text -> vocabulary ids. Unknown words map to the [UNK] id."""

    def __init__(self, vocab: Sequence[str], unk: str = "[UNK]", cached_words: int = _CACHED_WORDS) -> None:
        self.index = {tok: i for i, tok in enumerate(vocab)}
        # The continuation pieces ("##ing") by their text after "##": looked up without building "##" + text.
        self._continued = {tok[2:]: i for tok, i in self.index.items() if tok.startswith("##")}
        self.unk_id = self.index[unk]
        self._word_ids = _WordCache(self._split_word_packed, cached_words)
        self._piece_ids = _WordCache(self._split_piece, cached_words, _MAX_PIECE_CHARS)
        self._piece_words = _CountCache(cached_words)

    def _split_word(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self.unk_id,)
        whole = self.index.get(word)
        if whole is not None:
            return (whole,)
        # Greedy longest match first: the whole word (tried above), then ever shorter prefixes, then the same for
        # the rest as continuation pieces.
        n = len(word)
        if not n:
            return ()
        ids: list[int] = []
        index = self.index.get
        start, end = 0, n - 1
        while True:
            while end > start:
                found = index(word[start:end])
                if found is not None:
                    break
                end -= 1
            else:
                return (self.unk_id,)
            ids.append(found)
            if end == n:
                return tuple(ids)
            start, end, index = end, n, self._continued.get

    def _split_word_packed(self, word: str) -> bytes:
        return _packed(self._split_word(word))

    def _split_piece(self, piece: str) -> bytes:
        return b"".join(map(self._word_ids.__getitem__, basic_words(piece)))

    def ids(self, text: str, max_words: int = 1024) -> list[int]:
        """The ids of basic_words(text)[:max_words]."""
        return array(ID_TYPE, self.id_bytes(text, max_words)).tolist()

    def id_bytes(self, text: str, max_words: int = 1024) -> bytes:
        """`ids(text, max_words)`, packed (`ID_TYPE`, native byte order): `ID_SIZE` bytes an id.

        Words never cross whitespace, nor does lower-casing look past it, so the words of the text are those
        of its whitespace-separated pieces (str.split and basic_words agree on what whitespace is), in order:
        one cached lookup per piece. Every word has at least one id, so at most `max_words` ids mean at most
        that many words; past that the pieces' word counts say where to cut. A text longer than
        first_words reads takes that path, which stops reading once it has the words.
        """
        if len(text) > _CHARS_PER_WORD * max_words:
            return b"".join(map(self._word_ids.__getitem__, first_words(text, max_words)))
        pieces = text.split()
        ids = b"".join(map(self._piece_ids.__getitem__, pieces))
        if len(ids) <= max_words * ID_SIZE:
            return ids
        ends = list(accumulate(map(self._piece_words.__getitem__, pieces)))
        k = bisect_right(ends, max_words)  # pieces[:k] hold at most max_words words, pieces[k] crosses the limit
        if k == len(pieces):
            return ids
        rest = max_words - (ends[k - 1] if k else 0)
        return b"".join(
            chain(
                map(self._piece_ids.__getitem__, pieces[:k]),
                map(self._word_ids.__getitem__, basic_words(pieces[k])[:rest]),
            )
        )
