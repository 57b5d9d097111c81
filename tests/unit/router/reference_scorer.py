"""The complexity scorer by its plain definition, for checking the optimised one against.

Every hand feature is its original pattern run over the text (no substring pre-checks, no word-based
counting), the embedding follows BERT's steps with an uncached greedy WordPiece and a float64 mean, and
the score comes from the training-time model (`router.model.Linear`, float64). The packaged artifact was
trained on exactly these definitions.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hybridgate.router.artifact import RouterArtifact
from hybridgate.router.retrain import linear_of
from hybridgate.router.text import RequestText, request_text

PATTERNS = {
    "word": (r"\w+", 0),
    "number": (r"\d+(?:[.,]\d+)*", 0),
    "math_op": (r"(?:\d\s*[-+*/^=<>×÷]\s*[\d(a-z])|[=^√∑∫π≤≥≠]|\\(?:frac|sqrt|sum|int|cdot|le|ge)", 0),
    "latex": (r"\$[^$\n]{1,200}\$|\\\(|\\\[", 0),
    "code": (
        r"```|\bdef \w+\(|\bclass \w+|\breturn\b|\bimport \w+|#include|\bfunction\b|=>|\bSELECT\b|"
        r"[{};]\s*$|\bprint\(|\bconsole\.log|\bpublic static\b",
        re.MULTILINE,
    ),
    "math_words": (
        r"\b(?:solve|equation|integral|derivative|probability|prove|calculate|compute|how many|how much|"
        r"percent|ratio|sum|product|total|average|remainder|polynomial|matrix|theorem|function)\b",
        re.IGNORECASE,
    ),
    "reasoning": (
        r"\b(?:step by step|explain why|justify|derive|reason|implies|therefore|if and only if|"
        r"suppose|assume|must be true|cannot be)\b",
        re.IGNORECASE,
    ),
    "negation": (r"\b(?:NOT|EXCEPT|LEAST|never|false|incorrect)\b", 0),
    "choice_line": (r"^\s*\(?[A-Ja-j][.)]\s", re.MULTILINE),
    "statements": (r"\bStatement \d\b|\bI{1,3}\.\s|\bI and II\b", 0),
    "which": (r"\bwhich of the following\b", re.IGNORECASE),
    "open_task": (
        r"^\s*(?:write|compose|draft|imagine|describe|summari[sz]e|translate|rewrite|list|give|tell|"
        r"pretend|act as|edit|create)\b",
        re.IGNORECASE,
    ),
    "wh_start": (r"^\s*(?:what|who|when|where|which|why|how)\b", re.IGNORECASE),
    "sentence": (r"[.!?](?:\s|$)", 0),
}
P = {name: re.compile(*spec) for name, spec in PATTERNS.items()}


def _n(name: str, text: str) -> int:
    return len(P[name].findall(text))


def _log(x: float) -> float:
    return math.log1p(max(0.0, x))


def _share(count: int, text: str) -> float:
    return count / len(text) if text else 0.0


def hand_features(t: RequestText) -> list[float]:
    user, text = t.last_user, t.all_text
    words = P["word"].findall(user)
    n = len(words)
    return [
        _log(len(text)),
        _log(n),
        _log(text.count("\n") + 1),
        _log(_n("sentence", user)),
        _log(t.n_messages),
        float(bool(t.system)),
        _log(len(t.system)),
        float(t.tools),
        _share(sum(ch.isdigit() for ch in user), user),
        _log(_n("number", user)),
        _log(_n("math_op", user)),
        float(_n("latex", user) > 0),
        _log(_n("math_words", user)),
        _log(_n("code", text)),
        _log(_n("reasoning", user)),
        _log(_n("negation", user)),
        _log(_n("choice_line", user)),
        float(_n("statements", user) > 0),
        float(_n("which", user) > 0),
        float(_n("open_task", user) > 0),
        float(_n("wh_start", user) > 0),
        _log(user.count("?")),
        sum(len(w) for w in words) / n / 10.0 if n else 0.0,
        sum(len(w) >= 9 for w in words) / n if n else 0.0,
        len({w.lower() for w in words}) / n if n else 0.0,
        _share(sum(ch.isupper() for ch in user), user),
        _share(sum(ord(ch) > 127 for ch in user), user),
        _share(sum("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in user), user),
    ]


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(ch)[0] == "P"


def _is_cjk(cp: int) -> bool:
    ranges = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
    return any(lo <= cp <= hi for lo, hi in ranges)


def bert_words(text: str) -> list[str]:
    """BertTokenizer's basic step: lower-case, strip accents, drop controls, split on space and punctuation."""
    out: list[str] = []
    for raw in text.lower().split():
        word = "".join(ch for ch in unicodedata.normalize("NFD", raw) if unicodedata.category(ch) != "Mn")
        cur = ""
        for ch in word:
            if _is_punct(ch) or _is_cjk(ord(ch)):
                out += [cur, ch] if cur else [ch]
                cur = ""
            elif unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\n\r":
                cur += ch
        if cur:
            out.append(cur)
    return out


def wordpiece(word: str, index: Mapping[str, int]) -> list[int]:
    """Greedy longest-match-first sub-words; a word with an unknown piece (or over 100 characters) is [UNK]."""
    if len(word) > 100:
        return [index["[UNK]"]]
    ids, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in index:
                ids.append(index[piece])
                start = end
                break
        else:
            return [index["[UNK]"]]
    return ids


@functools.lru_cache(maxsize=4)
def _index(vocab: tuple[str, ...]) -> dict[str, int]:
    return {tok: i for i, tok in enumerate(vocab)}


def embedding(a: RouterArtifact, text: str) -> list[float]:
    index = _index(tuple(a.vocab))
    ids = [i for w in bert_words(text)[:1024] for i in wordpiece(w, index)]
    if not ids:
        return [0.0] * a.table.shape[1]
    vec = (a.table[ids].astype(np.float64) * a.table_scale.astype(np.float64)).mean(axis=0)
    norm = float(np.linalg.norm(vec))
    return list(vec / norm if norm > 0 else vec)


def vector(a: RouterArtifact, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> npt.NDArray[np.float64]:
    t = request_text(messages, tools=tools)
    return np.array(hand_features(t) + embedding(a, t.last_user))


def score(a: RouterArtifact, v: npt.NDArray[np.float64]) -> float:
    return float(linear_of(a).predict(v[None, :])[0])
