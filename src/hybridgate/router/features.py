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
# On ASCII text \w is [A-Za-z0-9_]: blanking every other character and splitting gives _WORD's words ~4x faster.
_NON_WORD_TO_SPACE = str.maketrans({chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")})
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MATH_OP = re.compile(r"(?:\d\s*[-+*/^=<>×÷]\s*[\d(a-z])|[=^√∑∫π≤≥≠]|\\(?:frac|sqrt|sum|int|cdot|le|ge)")
_LATEX = re.compile(r"\$[^$\n]{1,200}\$|\\\(|\\\[")
# Each keyword pattern starts with a lookahead on the first characters its alternatives can begin with,
# and where those alternatives start with \b before a letter, a look-behind for a non-word character:
# neither changes a match, but they let the engine skip most positions (the middle of words) with a set
# test or two instead of trying every alternative (3-4x faster on prose; the scorer runs on every request).
_CODE = re.compile(
    r"(?=[`#={};cdfiprS])(?:(?<!\w)|(?=[`#={};]))"
    r"(?:```|\bdef \w+\(|\bclass \w+|\breturn\b|\bimport \w+|#include|\bfunction\b|=>|\bSELECT\b|"
    r"[{};]\s*$|\bprint\(|\bconsole\.log|\bpublic static\b)",
    re.MULTILINE,
)
# Terms of the case-insensitive keyword cues. They are counted from the lower-cased words (_keyword_counts)
# unless the text does not lower-case exactly (_lowered); the patterns serve that text.
_MATH_TERMS = (
    "solve", "equation", "integral", "derivative", "probability", "prove", "calculate", "compute", "how many",
    "how much", "percent", "ratio", "sum", "product", "total", "average", "remainder", "polynomial", "matrix",
    "theorem", "function",
)  # fmt: skip
_REASONING_TERMS = (
    "step by step", "explain why", "justify", "derive", "reason", "implies", "therefore", "if and only if",
    "suppose", "assume", "must be true", "cannot be",
)  # fmt: skip
_WHICH_PHRASE = "which of the following"


def _terms(terms: tuple[str, ...], flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(terms) + r")\b", flags)


_MATH_WORDS = _terms(_MATH_TERMS)
_REASONING = _terms(_REASONING_TERMS)
_NEGATION = re.compile(r"(?=[ELNfin])(?<!\w)(?:NOT|EXCEPT|LEAST|never|false|incorrect)\b")
_CHOICE_LINE = re.compile(r"^\s*\(?[A-Ja-j][.)]\s", re.MULTILINE)
_STATEMENTS = re.compile(r"(?=[SI])(?<!\w)(?:Statement \d\b|I{1,3}\.\s|I and II\b)")
_WHICH = _terms((_WHICH_PHRASE,))
_OPEN_TASK = re.compile(
    r"^\s*(?:write|compose|draft|imagine|describe|summari[sz]e|translate|rewrite|list|give|tell|"
    r"pretend|act as|edit|create)\b",
    re.IGNORECASE,
)
# Substrings every match of a pattern contains: when none is there, the scan is skipped.
_NEGATION_WORDS = ("NOT", "EXCEPT", "LEAST", "never", "false", "incorrect")
_STATEMENT_MARKS = ("Statement ", "I.", "I and II")
_CODE_MARKS = (
    "```", "def ", "class ", "return", "import ", "#include", "function", "=>", "SELECT", "{", "}", ";", "print(",
    "console.log", "public static",
)  # fmt: skip
_MATH_OP_MARKS = ("=", "^", "\\", "√", "∑", "∫", "π", "≤", "≥", "≠")  # and any digit
_LATEX_MARKS = ("$", "\\")
# The one-word terms as sets; the multi-word ones, lower-case, as patterns of their own.
_MATH_ONE_WORD = frozenset(t for t in _MATH_TERMS if " " not in t)
_REASONING_ONE_WORD = frozenset(t for t in _REASONING_TERMS if " " not in t)
_ONE_WORD = _MATH_ONE_WORD | _REASONING_ONE_WORD  # disjoint
_MATH_PHRASES = tuple(t for t in _MATH_TERMS if " " in t)
_REASONING_PHRASES = tuple(t for t in _REASONING_TERMS if " " in t)
_MATH_PHRASE = _terms(_MATH_PHRASES, 0)
_REASONING_PHRASE = _terms(_REASONING_PHRASES, 0)
_WHICH_LOWER = _terms((_WHICH_PHRASE,), 0)
_WH_START = re.compile(r"^\s*(?:what|who|when|where|which|why|how)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[.!?](?:\s|$)")


def _log(x: float) -> float:
    return math.log1p(max(0.0, x))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


_ASCII_UPPER = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_DIGITS = str.maketrans("", "", "0123456789")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_CJK = re.compile(r"[\u3040-\u9fff\uac00-\ud7af]")


def _char_counts(text: str) -> tuple[int, int, int, int]:
    """Digits (str.isdigit), upper-case letters (str.isupper), non-ASCII and CJK characters.

    On ASCII characters isdigit and isupper are exactly 0-9 and A-Z, which deleting them in C counts
    ~10x faster than a Python loop; only the non-ASCII characters (often a few quotes or dashes) are
    tested one by one.
    """
    if text.isascii():
        return len(text) - len(text.translate(_ASCII_DIGITS)), len(text) - len(text.translate(_ASCII_UPPER)), 0, 0
    narrow = text.encode("ascii", "ignore")
    wide = "".join(_NON_ASCII_RUN.findall(text))
    digits = len(narrow) - len(narrow.translate(None, b"0123456789")) + sum(map(str.isdigit, wide))
    upper = len(narrow) - len(narrow.translate(None, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")) + sum(map(str.isupper, wide))
    return digits, upper, len(wide), len(_CJK.findall(wide))


# Characters that match an ASCII letter under re.IGNORECASE without being one (dotted/dotless i, long s,
# Kelvin sign), and those str.lower maps to several characters (İ) or by their context (final sigma).
_CASE_TRAPS = re.compile("[\u0130\u0131\u017f\u212a\u03a3]")


def _lowered(text: str) -> str | None:
    """text.lower() when the case-insensitive keyword patterns (ASCII words) match on `text` exactly where
    their lower-case forms match on it, character for character; None when a character breaks that."""
    return text.lower() if text.isascii() or not _CASE_TRAPS.search(text) else None


def _phrase_count(pattern: re.Pattern[str], phrases: tuple[str, ...], lower: str) -> int:
    return len(pattern.findall(lower)) if any(ph in lower for ph in phrases) else 0


def _keyword_counts(user: str, lower: str | None, words: list[str]) -> tuple[int, int, bool]:
    """Matches of _MATH_WORDS and _REASONING, and whether _WHICH matches.

    With `lower` (see _lowered) and `words` its \\w+ runs, a one-word term matches exactly where a whole
    word equals it, so one pass over the words counts them all; the multi-word terms share no word with
    the one-word ones, so their matches are counted apart, and only when their text occurs at all.
    """
    if lower is None:
        which = bool(_WHICH.search(user))
        return len(_MATH_WORDS.findall(user)), len(_REASONING.findall(user)), which
    math_n = _phrase_count(_MATH_PHRASE, _MATH_PHRASES, lower)
    reasoning_n = _phrase_count(_REASONING_PHRASE, _REASONING_PHRASES, lower)
    hits = list(filter(_ONE_WORD.__contains__, words))  # usually a handful
    in_math = sum(map(_MATH_ONE_WORD.__contains__, hits))
    return math_n + in_math, reasoning_n + len(hits) - in_math, _which(lower)


def _which(lower: str) -> bool:
    return _WHICH_PHRASE in lower and bool(_WHICH_LOWER.search(lower))


def _words(user: str, lower: str | None) -> list[str]:
    """_WORD's words, lower-cased when `lower` is given (they are the same runs: see _lowered)."""
    if lower is None:
        return _WORD.findall(user)
    return lower.translate(_NON_WORD_TO_SPACE).split() if lower.isascii() else _WORD.findall(lower)


def _word_stats(words: list[str], lowered: bool) -> tuple[float, float, float]:
    if not words:
        return 0.0, 0.0, 0.0
    lengths = list(map(len, words))
    mean_len = sum(lengths) / len(words)
    long_share = sum(map((9).__le__, lengths)) / len(words)
    ttr = len(set(words if lowered else map(str.lower, words))) / len(words)
    return mean_len, long_share, ttr


def _count(pattern: re.Pattern[str], marks: tuple[str, ...], text: str) -> int:
    """Matches of `pattern`, whose every match contains one of `marks`: a few substring tests skip most scans."""
    return len(pattern.findall(text)) if any(m in text for m in marks) else 0


def _text_features(t: RequestText) -> dict[str, float]:
    text = t.all_text
    user = t.last_user
    # Lower-cased once (when that is exact): the words, the keyword cues and their case-folding all read it.
    lower = _lowered(user)
    words = _words(user, lower)
    mean_len, long_share, ttr = _word_stats(words, lower is not None)
    math_words, reasoning, which = _keyword_counts(user, lower, words)
    digits, upper, non_ascii, cjk = _char_counts(user)  # str.isdigit covers every \d: no digit, no number
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
        "digit_share": _ratio(digits, len(user)),
        "log_numbers": _log(len(_NUMBER.findall(user)) if digits else 0),
        "log_math_ops": _log(len(_MATH_OP.findall(user)) if digits else _count(_MATH_OP, _MATH_OP_MARKS, user)),
        "latex": float(_count(_LATEX, _LATEX_MARKS, user) > 0),
        "log_math_words": _log(math_words),
        "log_code": _log(_count(_CODE, _CODE_MARKS, text)),
        "log_reasoning": _log(reasoning),
        "log_negation": _log(_count(_NEGATION, _NEGATION_WORDS, user)),
        "log_choices": _log(len(_CHOICE_LINE.findall(user))),
        "statements": float(any(m in user for m in _STATEMENT_MARKS) and bool(_STATEMENTS.search(user))),
        "which_following": float(which),
        "open_task": float(bool(_OPEN_TASK.search(user))),
        "wh_start": float(bool(_WH_START.search(user))),
        "log_questions": _log(user.count("?")),
        "mean_word_len": mean_len / 10.0,
        "long_word_share": long_share,
        "type_token_ratio": ttr,
        "upper_share": _ratio(upper, len(user)),
        "non_ascii": _ratio(non_ascii, len(user)),
        "cjk": _ratio(cjk, len(user)),
    }


FEATURE_NAMES: tuple[str, ...] = tuple(_text_features(RequestText("", "", "", 0, False)))

Extractor = Callable[[RequestText], FloatArray]


def hand_features(t: RequestText) -> FloatArray:
    # The dict's order is FEATURE_NAMES' order (that tuple is read from it).
    return np.array(tuple(_text_features(t).values()), dtype=np.float32)
