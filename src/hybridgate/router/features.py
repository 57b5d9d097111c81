"""Hand-crafted request features: generic cues that should transfer across tasks.

Each feature is about the *form* of a request (length, structure, math/code density, question
type, language), never about a benchmark's topic, because topic cues are what fails to generalise
when whole subjects are held out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hybridgate.router.text import RequestText

FloatArray = npt.NDArray[np.float32]

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MATH_OP = re.compile(r"(?:\d\s*[-+*/^=<>×÷]\s*[\d(a-z])|[=^√∑∫π≤≥≠]|\\(?:frac|sqrt|sum|int|cdot|le|ge)")
_LATEX = re.compile(r"\$[^$\n]{1,200}\$|\\\(|\\\[")
# Each keyword pattern starts with a lookahead on the first characters its alternatives can begin with:
# it changes no match, but lets the engine skip most positions with one set test instead of trying
# every alternative (3-4x faster on prose; the scorer runs on every request).
_CODE = re.compile(
    r"(?=[`#={};cdfiprS])(?:```|\bdef \w+\(|\bclass \w+|\breturn\b|\bimport \w+|#include|\bfunction\b|=>|\bSELECT\b|"
    r"[{};]\s*$|\bprint\(|\bconsole\.log|\bpublic static\b)",
    re.MULTILINE,
)
_MATH_WORDS = re.compile(
    r"\b(?=[acdefhimprst])(?:solve|equation|integral|derivative|probability|prove|calculate|compute|how many|how much|"
    r"percent|ratio|sum|product|total|average|remainder|polynomial|matrix|theorem|function)\b",
    re.IGNORECASE,
)
_REASONING = re.compile(
    r"\b(?=[acdeijmrst])(?:step by step|explain why|justify|derive|reason|implies|therefore|if and only if|"
    r"suppose|assume|must be true|cannot be)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?=[ELNfin])(?:NOT|EXCEPT|LEAST|never|false|incorrect)\b")
_CHOICE_LINE = re.compile(r"^\s*\(?[A-Ja-j][.)]\s", re.MULTILINE)
_STATEMENTS = re.compile(r"\b(?=[SI])(?:Statement \d\b|I{1,3}\.\s|I and II\b)")
_WHICH = re.compile(r"\b(?=w)which of the following\b", re.IGNORECASE)
_OPEN_TASK = re.compile(
    r"^\s*(?:write|compose|draft|imagine|describe|summari[sz]e|translate|rewrite|list|give|tell|"
    r"pretend|act as|edit|create)\b",
    re.IGNORECASE,
)
# Substrings every match of a case-sensitive pattern contains: when none is there, skip the scan.
_NEGATION_WORDS = ("NOT", "EXCEPT", "LEAST", "never", "false", "incorrect")
_STATEMENT_MARKS = ("Statement ", "I.", "I and II")
# On ASCII text, a case-insensitive match equals a case-sensitive match of the (lower-case) pattern on
# the lower-cased text, which the engine does ~2x faster.
_LOWER = {p: re.compile(p.pattern, p.flags & ~re.IGNORECASE) for p in (_MATH_WORDS, _REASONING, _WHICH)}
_WH_START = re.compile(r"^\s*(?:what|who|when|where|which|why|how)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[.!?](?:\s|$)")


def _log(x: float) -> float:
    return math.log1p(max(0.0, x))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


_ASCII_UPPER = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_DIGITS = str.maketrans("", "", "0123456789")


def _non_ascii(text: str) -> float:
    if text.isascii():
        return 0.0
    return _ratio(sum(1 for ch in text if ord(ch) > 127), len(text))


def _cjk(text: str) -> float:
    if text.isascii():
        return 0.0
    return _ratio(sum(1 for ch in text if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"), len(text))


def _count_digits(text: str) -> int:
    # str.isdigit is exactly 0-9 on ASCII text, and deleting them in C beats a Python loop ~10x.
    if text.isascii():
        return len(text) - len(text.translate(_ASCII_DIGITS))
    return sum(map(str.isdigit, text))


def _count_upper(text: str) -> int:
    if text.isascii():
        return len(text) - len(text.translate(_ASCII_UPPER))
    return sum(map(str.isupper, text))


def _count_ci(pattern: re.Pattern[str], text: str, lower: str | None) -> int:
    """Matches of a case-insensitive pattern; `lower` is text.lower() when the text is ASCII."""
    return len(_LOWER[pattern].findall(lower) if lower is not None else pattern.findall(text))


def _word_stats(words: list[str]) -> tuple[float, float, float]:
    if not words:
        return 0.0, 0.0, 0.0
    lengths = list(map(len, words))
    mean_len = sum(lengths) / len(words)
    long_share = len([n for n in lengths if n >= 9]) / len(words)
    ttr = len(set(map(str.lower, words))) / len(words)
    return mean_len, long_share, ttr


def _text_features(t: RequestText) -> dict[str, float]:
    text = t.all_text
    user = t.last_user
    lower = user.lower() if user.isascii() else None
    words = _WORD.findall(user)
    mean_len, long_share, ttr = _word_stats(words)
    n_chars = len(text)
    return {
        "log_chars": _log(n_chars),
        "log_user_words": _log(len(words)),
        "log_lines": _log(text.count("\n") + 1),
        "log_sentences": _log(len(_SENTENCE.findall(user))),
        "log_messages": _log(t.n_messages),
        "has_system": float(bool(t.system)),
        "log_system_chars": _log(len(t.system)),
        "tools": float(t.tools),
        "digit_share": _ratio(_count_digits(user), len(user)),
        "log_numbers": _log(len(_NUMBER.findall(user))),
        "log_math_ops": _log(len(_MATH_OP.findall(user))),
        "latex": float(bool(_LATEX.search(user))),
        "log_math_words": _log(_count_ci(_MATH_WORDS, user, lower)),
        "log_code": _log(len(_CODE.findall(text))),
        "log_reasoning": _log(_count_ci(_REASONING, user, lower)),
        "log_negation": _log(len(_NEGATION.findall(user)) if any(w in user for w in _NEGATION_WORDS) else 0),
        "log_choices": _log(len(_CHOICE_LINE.findall(user))),
        "statements": float(any(m in user for m in _STATEMENT_MARKS) and bool(_STATEMENTS.search(user))),
        "which_following": float(_count_ci(_WHICH, user, lower) > 0),
        "open_task": float(bool(_OPEN_TASK.search(user))),
        "wh_start": float(bool(_WH_START.search(user))),
        "log_questions": _log(user.count("?")),
        "mean_word_len": mean_len / 10.0,
        "long_word_share": long_share,
        "type_token_ratio": ttr,
        "upper_share": _ratio(_count_upper(user), len(user)),
        "non_ascii": _non_ascii(user),
        "cjk": _cjk(user),
    }


FEATURE_NAMES: tuple[str, ...] = tuple(_text_features(RequestText("", "", "", 0, False)))

Extractor = Callable[[RequestText], FloatArray]


def hand_features(t: RequestText) -> FloatArray:
    values = _text_features(t)
    return np.fromiter((values[k] for k in FEATURE_NAMES), dtype=np.float32, count=len(FEATURE_NAMES))
