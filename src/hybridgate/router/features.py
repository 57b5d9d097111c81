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
# The same on the text's ASCII bytes (bytes.translate is ~3x faster than str.translate).
_NON_WORD_BYTES = bytes(i if i < 128 and (chr(i).isalnum() or chr(i) == "_") else ord(" ") for i in range(256))
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


# Lower-cased whole words at least one of which every match of a case-sensitive pattern, or of a multi-word
# term, contains (the word it starts with): when the request's words hold none, the scan is skipped.
# Each phrase comes with its words: a match of `\b<phrase>\b` makes every one of them a whole word of the text.
_MATH_PHRASE_FIRST = {
    w: tuple((t, frozenset(t.split())) for t in _MATH_PHRASES if t.split()[0] == w)
    for w in (t.split()[0] for t in _MATH_PHRASES)
}
_REASONING_PHRASE_FIRST = {
    w: tuple((t, frozenset(t.split())) for t in _REASONING_PHRASES if t.split()[0] == w)
    for w in (t.split()[0] for t in _REASONING_PHRASES)
}
_NEGATION_LOWER = frozenset(w.lower() for w in _NEGATION_WORDS)
_STATEMENT_WORDS = frozenset(("statement", "i", "ii", "iii"))


_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_DIGITS = b"0123456789"
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_CJK = re.compile(r"[\u3040-\u9fff\uac00-\ud7af]")


def _char_counts(text: str) -> tuple[int, int, int, int]:
    """Digits (str.isdigit), upper-case letters (str.isupper), non-ASCII and CJK characters.

    On ASCII characters isdigit and isupper are exactly 0-9 and A-Z, which deleting them from the bytes
    in C counts ~10x faster than a Python loop; only the non-ASCII characters (often a few quotes or
    dashes) are tested one by one.
    """
    narrow = text.encode("ascii", "ignore")
    digits = len(narrow) - len(narrow.translate(None, _ASCII_DIGITS))
    upper = len(narrow) - len(narrow.translate(None, _ASCII_UPPER))
    if len(narrow) == len(text):
        return digits, upper, 0, 0
    wide = "".join(_NON_ASCII_RUN.findall(text))
    return digits + sum(map(str.isdigit, wide)), upper + sum(map(str.isupper, wide)), len(wide), len(_CJK.findall(wide))


# Characters that match an ASCII letter under re.IGNORECASE without being one (dotted/dotless i, long s,
# Kelvin sign), and those str.lower maps to several characters (İ) or by their context (final sigma).
_CASE_TRAPS = re.compile("[\u0130\u0131\u017f\u212a\u03a3]")


def _lowered(text: str) -> str | None:
    """text.lower() when the case-insensitive keyword patterns (ASCII words) match on `text` exactly where
    their lower-case forms match on it, character for character; None when a character breaks that."""
    return text.lower() if text.isascii() or not _CASE_TRAPS.search(text) else None


def _phrase_count(
    pattern: re.Pattern[str],
    by_first: dict[str, tuple[tuple[str, frozenset[str]], ...]],
    lower: str,
    distinct: set[str],
) -> int:
    """len(pattern.findall(lower)), scanned only when one of its phrases whose words are all whole words of the
    text (`distinct`) occurs in it: every match is such a phrase. (Its words are tested first: a set lookup or
    two, where the substring search reads the whole text.)"""
    for first in by_first.keys() & distinct:
        for ph, ph_words in by_first[first]:
            if ph_words <= distinct and ph in lower:
                return len(pattern.findall(lower))
    return 0


def _keyword_counts(
    user: str, lower: str | None, words: list[str], distinct: set[str] | None = None
) -> tuple[int, int, bool]:
    """Matches of _MATH_WORDS and _REASONING, and whether _WHICH matches.

    With `lower` (see _lowered) and `words` its \\w+ runs (`distinct`: their set, if at hand), a one-word
    term matches exactly where a whole word equals it, so the words equal to a term are counted (usually
    none: one set intersection); the multi-word terms share no word with the one-word ones, so their
    matches are counted apart, and only when their first word and their text occur at all.
    """
    if lower is None:
        which = bool(_WHICH.search(user))
        return len(_MATH_WORDS.findall(user)), len(_REASONING.findall(user)), which
    if distinct is None:
        distinct = set(words)
    math_n = _phrase_count(_MATH_PHRASE, _MATH_PHRASE_FIRST, lower, distinct)
    reasoning_n = _phrase_count(_REASONING_PHRASE, _REASONING_PHRASE_FIRST, lower, distinct)
    for term in _ONE_WORD.intersection(distinct):
        if term in _MATH_ONE_WORD:
            math_n += words.count(term)
        else:
            reasoning_n += words.count(term)
    return math_n, reasoning_n, "which" in distinct and _which(lower)


def _which(lower: str) -> bool:
    return _WHICH_PHRASE in lower and bool(_WHICH_LOWER.search(lower))


def _words(user: str, lower: str | None) -> list[str]:
    """_WORD's words, lower-cased when `lower` is given (they are the same runs: see _lowered)."""
    if lower is None:
        return _WORD.findall(user)
    return lower.translate(_NON_WORD_TO_SPACE).split() if lower.isascii() else _WORD.findall(lower)


_LONG_WORD = 9  # characters in a word that counts as long
_LONG_LENGTHS = bytes(range(_LONG_WORD, 256))  # word lengths that count as long, as bytes to delete
# The blanked ASCII text (word characters and spaces) with every word character an "x": a word is long where
# `_LONG_WORD` of them are followed by a blank (or the end), and these occurrences cannot overlap (each holds one
# blank), so counting them counts the long words in C, with no per-word step. (Ending with the blank, the rarer
# byte, the needle lets the substring search move on at every position it does not end.)
_WORD_MARKS = bytes(ord(" ") if i == ord(" ") else ord("x") for i in range(256))
_LONG_MARK = b"x" * _LONG_WORD
_LONG_WORD_END = _LONG_MARK + b" "


def _long_blanked_words(blanked: bytes) -> int:
    """_long_words(blanked.split()) for bytes of word characters and spaces."""
    marks = blanked.translate(_WORD_MARKS)
    return marks.count(_LONG_WORD_END) + marks.endswith(_LONG_MARK)


def _long_words(words: list[str]) -> int:
    """How many words have 9 or more characters: their lengths as bytes, the long ones deleted in C."""
    try:
        lengths = bytes(map(len, words))
    except ValueError:  # a word of more than 255 characters
        return sum(map((9).__le__, map(len, words)))
    return len(lengths) - len(lengths.translate(None, _LONG_LENGTHS))


# Bytes for _SENTENCE on ASCII text: '.', '!' and '?' -> '.', what \s matches -> ' ', the rest -> 'x'.
_SENTENCE_BYTES = bytes(ord(".") if chr(i) in ".!?" else ord(" ") if chr(i).isspace() else ord("x") for i in range(256))


# ASCII text's bytes as classes for `_ascii_counts`: digits "d", capitals "u", '.', '!' and '?' '.', what \s
# matches ' ', the rest 'x' (the classes of _SENTENCE_BYTES, with digits and capitals told apart).
_CLASS_BYTES = bytes(
    ord("d") if chr(i).isdigit() else ord("u") if chr(i).isupper() else _SENTENCE_BYTES[i] for i in range(256)
)  # (only ASCII text is translated: the upper half is never read)


def _ascii_counts(user: str) -> tuple[int, int, int]:
    """Digits and upper-case letters (`_char_counts`) and `_sentences` of ASCII text, from one translation.
    (Digits, rare in prose, are counted only when a byte search finds one: a count reads every byte.)"""
    marks = user.encode("ascii").translate(_CLASS_BYTES)
    digits = marks.count(b"d") if b"d" in marks else 0
    return digits, marks.count(b"u"), marks.count(b". ") + marks.endswith(b".")


def _sentences(user: str) -> int:
    """len(_SENTENCE.findall(user)): on ASCII text, the '.' followed by ' ' (matches never overlap), plus
    one for a final '.' ('$' matches elsewhere only before a final newline, which \\s matches too)."""
    if not user.isascii():
        return len(_SENTENCE.findall(user))
    marks = user.encode("ascii").translate(_SENTENCE_BYTES)
    return marks.count(b". ") + marks.endswith(b".")


def _choice_lines(user: str) -> int:
    # Without a newline, '^' (MULTILINE) matches only at the start.
    if "\n" in user:
        return len(_CHOICE_LINE.findall(user))
    return 1 if _CHOICE_LINE.match(user) else 0


def _count(pattern: re.Pattern[str], marks: tuple[str, ...], text: str) -> int:
    """Matches of `pattern`, whose every match contains one of `marks`: a few substring tests skip most scans."""
    return len(pattern.findall(text)) if any(m in text for m in marks) else 0


_MATH_OP_ASCII_MARKS = tuple(m for m in _MATH_OP_MARKS if m.isascii())


def _math_ops(user: str, digits: int) -> int:
    """Matches of _MATH_OP: without a digit, each contains one of its marks (in ASCII text, an ASCII one)."""
    if not digits and not any(m in user for m in (_MATH_OP_ASCII_MARKS if user.isascii() else _MATH_OP_MARKS)):
        return 0
    return len(_MATH_OP.findall(user))


def _has_statement_mark(user: str) -> bool:
    """any(m in user for m in _STATEMENT_MARKS), without a generator."""
    return "Statement " in user or "I." in user or "I and II" in user


def _code(text: str) -> int:
    return len(_CODE.findall(text)) if _has_code_mark(text) else 0


# Whole words (lower-cased) at least one of which each `_CODE` alternative led by `\b` and a word needs, and the
# characters at least one of which each of the others needs ("```", "#include", "=>", "[{};]").
_CODE_WORDS = frozenset(("def", "class", "return", "import", "function", "select", "print", "console", "public"))


def _request_code(text: str, user: str, distinct: set[str]) -> int:
    """_code(text), for a request's text and its last user turn, whose lower-cased words are `distinct`.

    Where the text ends with the user turn after a line break (as the messages are joined), no `_CODE` match
    starts before the break and reaches past it without a code mark before it (only `[{};]\\s*$` can hold a
    line break, after its mark), and one starting in the user turn needs one of `_CODE_WORDS` as a whole word
    or one of the characters tested below. Without those there is no match: tested on the words at hand, where
    the marks are ~15 substring searches of the whole text."""
    rest = len(text) - len(user)
    if not text.endswith(user) or (rest and text[rest - 1] != "\n"):
        return _code(text)
    if (
        _has_code_mark(text[:rest])
        or not _CODE_WORDS.isdisjoint(distinct)
        or "`" in user
        or "#" in user
        or "=" in user
        or "{" in user
        or "}" in user
        or ";" in user
    ):
        return len(_CODE.findall(text))
    return 0


def _has_code_mark(text: str) -> bool:
    """any(m in text for m in _CODE_MARKS), the marks with a rare character tested for that character first
    (a one-character test is a memchr, ~10x cheaper than a substring search), without a generator."""
    return (
        "{" in text
        or "}" in text
        or ";" in text
        or ("`" in text and "```" in text)
        or ("#" in text and "#include" in text)
        or ("=" in text and "=>" in text)
        or ("(" in text and "print(" in text)
        or "def " in text
        or "class " in text
        or "return" in text
        or "import " in text
        or "function" in text
        or "SELECT" in text
        or "console.log" in text
        or "public static" in text
    )


FEATURE_NAMES: tuple[str, ...] = (
    "log_chars", "log_user_words", "log_lines", "log_sentences", "log_messages", "has_system",
    "log_system_chars", "tools", "digit_share", "log_numbers", "log_math_ops", "latex", "log_math_words",
    "log_code", "log_reasoning", "log_negation", "log_choices", "statements", "which_following", "open_task",
    "wh_start", "log_questions", "mean_word_len", "long_word_share", "type_token_ratio", "upper_share",
    "non_ascii", "cjk",
)  # fmt: skip


def hand_feature_list(t: RequestText) -> list[float]:
    """The hand features, in FEATURE_NAMES' order, as Python floats (every count is >= 0: log1p directly)."""
    text = t.all_text
    user = t.last_user
    log1p = math.log1p
    # Lower-cased once (when that is exact): the words, the keyword cues and their case-folding all read it.
    lower = _lowered(user)
    if lower is not None and lower.isascii():
        blanked = lower.encode("ascii").translate(_NON_WORD_BYTES)  # word characters and spaces only
        words = blanked.decode("ascii").split()  # _words(user, lower)
        word_chars = len(blanked) - blanked.count(b" ")
        long_words = _long_blanked_words(blanked)
    else:
        words = _words(user, lower)
        word_chars = sum(map(len, words))
        long_words = _long_words(words)
    n_words = len(words)
    distinct = set(words) if lower is not None else set(map(str.lower, words))
    math_words, reasoning, which = _keyword_counts(user, lower, words, distinct)
    # str.isdigit covers every \d: no digit, no number
    if user.isascii():
        digits, upper, sentences = _ascii_counts(user)
        non_ascii = cjk = 0
    else:
        digits, upper, non_ascii, cjk = _char_counts(user)
        sentences = _sentences(user)
    n_user = len(user)
    # Line breaks: the text's joined messages end with the last user turn, usually one line (a byte search says
    # so); then only the text before it is counted. "?" likewise: counted only when there is one.
    one_line = "\n" not in user and text.endswith(user)
    newlines = text.count("\n", 0, len(text) - n_user) if one_line else text.count("\n")
    questions = user.count("?") if "?" in user else 0
    # Case-sensitive patterns need one of their words among the lower-cased ones (when those are exact).
    negation = (
        _count(_NEGATION, _NEGATION_WORDS, user) if lower is None or not _NEGATION_LOWER.isdisjoint(distinct) else 0
    )
    statements = (
        (lower is None or not _STATEMENT_WORDS.isdisjoint(distinct))
        and _has_statement_mark(user)
        and _STATEMENTS.search(user)
    )
    return [
        log1p(len(text)),
        log1p(n_words),
        log1p(newlines + 1),
        log1p(sentences),
        log1p(t.n_messages),
        1.0 if t.system else 0.0,
        log1p(len(t.system)),
        1.0 if t.tools else 0.0,
        digits / n_user if n_user else 0.0,
        log1p(len(_NUMBER.findall(user)) if digits else 0),
        log1p(_math_ops(user, digits)),
        1.0 if _count(_LATEX, _LATEX_MARKS, user) else 0.0,
        log1p(math_words),
        log1p(_request_code(text, user, distinct)),
        log1p(reasoning),
        log1p(negation),
        log1p(_choice_lines(user)),
        1.0 if statements else 0.0,
        1.0 if which else 0.0,
        1.0 if _OPEN_TASK.search(user) else 0.0,
        1.0 if _WH_START.search(user) else 0.0,
        log1p(questions),
        word_chars / n_words / 10.0 if n_words else 0.0,
        long_words / n_words if n_words else 0.0,
        len(distinct) / n_words if n_words else 0.0,
        upper / n_user if n_user else 0.0,
        non_ascii / n_user if n_user else 0.0,
        cjk / n_user if n_user else 0.0,
    ]


Extractor = Callable[[RequestText], FloatArray]


def hand_features(t: RequestText) -> FloatArray:
    return np.array(hand_feature_list(t), dtype=np.float32)
