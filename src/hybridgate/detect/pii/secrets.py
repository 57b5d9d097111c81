"""Credentials: known token formats, private keys, passwords in URLs, `key = value` assignments to secret-named
keys, and high-entropy tokens next to a secret word. Usernames in the same assignments are reported too.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterator

from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.recognizer import CONTEXT_WINDOW, Candidate
from hybridgate.detect.pii.scopes import in_windows, token_windows

_KNOWN: tuple[tuple[str, str], ...] = (
    ("aws_access_key", r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[0-9A-Z]{16}"),
    ("github", r"gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{40,255}"),
    ("gitlab", r"gl(?:pat|dt|ptt|rt|soat)-[A-Za-z0-9_-]{20,}"),
    ("slack", r"xox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
    ("stripe", r"(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{8,}"),
    ("anthropic", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    ("google", r"AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{20,}"),
    ("jwt", r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]{4,}){1,2}|eyJ[A-Za-z0-9_-]{4,}\.{3}"),
    ("huggingface", r"hf_[A-Za-z0-9]{30,}"),
    ("npm", r"npm_[A-Za-z0-9]{36}"),
    ("twilio", r"SK[0-9a-f]{32}"),
    ("sendgrid", r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    ("pem", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END [A-Z0-9 ]*-----|[\s\S]*)"),
    ("url_password", r"(?<=://)[^\s:/@\"']{1,64}:[^\s@/\"']{1,128}(?=@)"),
    ("bearer", r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/-]{12,}=*"),
)
# Literals every match of a format contains. One alternation over all formats costs ~0.5 ms per KB (the
# lookbehind defeats the regex engine's first-character skip); `in` over these is ~100x cheaper, so a
# format's regex runs only on text that contains one of its literals. Same matches, by construction.
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "aws_access_key": ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA"),
    "github": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab": ("glpat-", "gldt-", "glptt-", "glrt-", "glsoat-"),
    "slack": ("xox", "hooks.slack.com/services/"),
    "stripe": ("_live_", "_test_"),
    "anthropic": ("sk-ant-",),
    "openai": ("sk-",),
    "google": ("AIza", "ya29.", "GOCSPX-"),
    "jwt": ("eyJ",),
    "huggingface": ("hf_",),
    "npm": ("npm_",),
    "twilio": ("SK",),
    "sendgrid": ("SG.",),
    "pem": ("PRIVATE KEY",),
    "url_password": ("://",),
}
_BEARER_SET = literal_set(("bearer", "basic"))  # the one case-insensitive format
_TRIGGER_LIST = tuple((lit, name) for name, lits in _TRIGGERS.items() for lit in lits)
_ANY_TRIGGER = literal_set(tuple(lit for lit, _ in _TRIGGER_LIST), cased=True)
_KNOWN_RES = tuple((name, re.compile(f"(?<![\\w-]){p}")) for name, p in _KNOWN)

# Ordinary words that end in "pass" ("compass: north", "bypass: open"): not a password label. A prefix glued to
# "pass" otherwise is one ("dbpass", "rootPass"). Written as lookbehinds, so such a word yields no match at all.
_NOT_PASS_WORDS = ("com", "by", "over", "under", "tres", "sur")  # compass/encompass, bypass, ..., surpass
_SECRET_KEY = (
    "".join(f"(?<!{w})" for w in _NOT_PASS_WORDS)
    + r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth"
    r"|credential|signature|session[_-]?(?:id|key)|cookie|client[_-]?secret|conn(?:ection)?[_-]?str(?:ing)?"
)
_USER_KEY = r"user(?:[_-]?name|[_-]?id)?|login|uid|handle|account[_-]?name"
# key <sep> value, where the key may carry a prefix ("DB_PASS", "dbPass", "admin_password").
_ASSIGN = re.compile(
    r"(?i)(?<![a-z0-9])(?P<key>[a-z0-9_.-]{0,24}?(?:(?P<secret>" + _SECRET_KEY + ")|(?P<user>" + _USER_KEY + r")))"
    r"[\"']?\s*(?P<sep>:=|=>|=|:|\bis\b|\bwas\b)\s*(?P<q>[\"'`]?)(?P<value>[^\s\"'`,;]{3,200})"
)
# SQL grants: `IDENTIFIED BY 'pw'` is a password, `CREATE USER 'name'` / `TO 'name'@host` a username.
_SQL_SECRET = re.compile(r"(?i)identified\s+(?:by|with\s+\w+\s+by)\s+['\"](?P<value>[^'\"]{3,200})['\"]")
_SQL_USER = re.compile(
    r"(?i)(?:(?:create|alter|drop)\s+user(?:\s+if\s+not\s+exists)?\s+|\bto\s+)['\"`](?P<value>[\w.$-]{2,64})['\"`]@"
)
# "@handle" mentions. Code decorators share the shape ("@lru_cache", "@app.get(...)"): an `@` that opens its
# line and is followed by `(` or the line's end is read as one. (`(?<![\w.@/:+-])@`, the lookbehind written
# after the `@` so the regex engine can skip to it.)
_HANDLE = re.compile(r"@(?<![\w.@/:+-]@)(?P<value>[A-Za-z][A-Za-z0-9_]{1,29}(?:\.[A-Za-z0-9_]+)*)(?![\w@-])")
_HANDLE_WORDS = re.compile(
    r"(?i)(?<![a-z])(?:handle|user(?:name)?|login|follow|dm|twitter|instagram|insta|tiktok|telegram|ig|mention"
    r"|account|profile|x\.com|github)"
)
# A username given in prose ("my handle is elizabeth.king33"): only values that look like handles.
_HANDLE_LIKE = re.compile(r"[A-Za-z0-9]+(?:[._][A-Za-z0-9]+)*")
_PLACEHOLDER_VALUES = frozenset(
    {"none", "null", "true", "false", "required", "optional", "string", "redacted", "xxx", "****", "changeme"}
)
_ENTROPY_TOKEN = re.compile(r"(?<![\w/+=-])[A-Za-z0-9+/_=-]{20,120}(?![\w/+=-])")
_MIN_ENTROPY_TOKEN = 20
_SECRET_WORDS = re.compile(r"(?i)key|secret|token|passw|credential|auth|bearer|signature|private")


def entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _mixed(s: str) -> bool:
    return any(c.isdigit() for c in s) and any(c.isupper() for c in s) and any(c.islower() for c in s)


def _present_formats(text: str, scan: Scan) -> set[str]:
    # Most texts hold no trigger at all (the shared scan says so); the few that do are checked per format.
    present = {name for lit, name in _TRIGGER_LIST if lit in text} if scan.positions(_ANY_TRIGGER) else set()
    if scan.positions(_BEARER_SET) != []:  # None: no ASCII fold, the regex decides
        present.add("bearer")
    return present


def known_secrets(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    present = _present_formats(text, scan or Scan.of(text))
    if not present:  # most texts: no format's literal at all
        return
    for name, pattern in _KNOWN_RES:
        if name in present:
            for m in pattern.finditer(text):
                yield Candidate("SECRET", m.start(), m.end(), 0.95, name)


def _value_span(m: re.Match[str]) -> tuple[int, int]:
    start, end = m.span("value")
    value = m.group("value")
    # An unquoted value stops at closing brackets a config format put there: `pass=abc)` -> `abc`.
    if not m.group("q"):
        # In a URL query (`?user=ann&email=...`) the next parameter starts at `&`.
        if m.start() > 0 and m.string[m.start() - 1] in "?&" and "&" in value:
            value = value[: value.index("&")]
        trimmed = value.rstrip(")]}>.")
        end = start + len(trimmed)
    return start, end


# Every key alternative above starts with one of these (lower-case) literals.
_KEY_LITERALS = (
    "pass", "pwd", "secret", "token", "api", "access", "private", "auth", "credential", "signature", "session",
    "cookie", "client", "conn", "user", "login", "uid", "handle", "account",
)  # fmt: skip
_KEY_SET = literal_set(_KEY_LITERALS)
_KEY_PREFIX = 24  # the most characters `_ASSIGN` allows before the key word


_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")  # `[a-z0-9_.-]` under `(?i)`
# What follows a key word in every `_ASSIGN` match. Each key alternative ends with a letter, and after it comes
# `["']?\s*` and a separator, none of which starts with a letter, digit, `_` or `-` (and `\bis\b`/`\bwas\b` cannot
# follow a letter directly): so the key word runs to the end of the `[a-z0-9_-]` run it starts, and that run is
# followed by an optional quote, blanks and `:`, `=`, `is` or `was`. A key word found without this ("handles
# overload", "user requests") can be no match's key; testing it is ~10x cheaper than trying `_ASSIGN` there.
_AFTER_KEY = re.compile(r"(?i)[a-z0-9_-]*[\"']?\s*(?:[:=]|is|was)")
_WORD_CHARS = frozenset(string.ascii_letters + string.digits)  # `[a-z0-9]` under `(?i)`


def _assignment_matches(text: str, scan: Scan | None = None) -> Iterator[re.Match[str]]:
    """`_ASSIGN.finditer(text)`, but trying the (slow, case-insensitive) regex only at the few positions a
    match can start: within `_KEY_PREFIX` characters before a key word. Leftmost, non-overlapping, in order -
    the same matches as the full scan (a match's key word starts with one of `_KEY_LITERALS`, and is followed as
    `_AFTER_KEY` says).

    For each key word at `p` the positions `st` in [p - _KEY_PREFIX, p] are tried in order, as the full scan
    would, except those where no match can start: right after a letter or digit (the opening lookbehind), or
    where no key word starts within `_KEY_PREFIX` characters through key characters only (a match's key runs
    from `st` to its key word). The second leaves, of that range, the runs of key characters that end at a key
    word. (With the text's ASCII fold, `(?i)` classes match only ASCII characters: see `ascii_fold`.)"""
    hits = (scan or Scan.of(text)).positions(_KEY_SET)
    if hits is None:  # "İ", "K" (Kelvin): case folding the literal search cannot follow
        yield from _ASSIGN.finditer(text)
        return
    # Only the key words a separator can follow (`_AFTER_KEY`): every match's key word is still among them.
    hits = [p for p in hits if _AFTER_KEY.match(text, p) is not None]
    last = 0
    for i, p in enumerate(hits):
        if p < last:
            continue
        lo = max(last, p - _KEY_PREFIX)
        starts: set[int] = set()
        j = i
        while j >= 0 and hits[j] >= lo:  # the key words in [lo, p]: each with the key run before it
            h = st = hits[j]
            while st > lo and text[st - 1] in _KEY_CHARS:
                st -= 1
            starts.update(range(st, h + 1))
            j -= 1
        for st in sorted(starts):
            if st and text[st - 1] in _WORD_CHARS:
                continue
            m = _ASSIGN.match(text, st)
            if m is not None:
                yield m
                last = m.end()
                break


def assignments(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    for m in _assignment_matches(text, scan):
        value = m.group("value").strip(".")
        if value.lower() in _PLACEHOLDER_VALUES or set(value) <= {"*", "x", "X", "."}:
            continue
        start, end = _value_span(m)
        if m.group("secret") is not None:
            yield Candidate("SECRET", start, end, 0.85, "assignment")
        elif _is_username(m, value, m.string[start:end]):
            yield Candidate("USERNAME", start, end, 0.7, "assignment")


def _is_username(m: re.Match[str], value: str, span_text: str) -> bool:
    if m.group("sep") in ("=", ":", ":=", "=>"):
        return any(c.isalnum() for c in value)
    return _handle_like(span_text)  # "my username is jsmith42", not "the user is happy"


def _handle_like(value: str) -> bool:
    return (
        len(value) >= 3
        and _HANDLE_LIKE.fullmatch(value) is not None
        and (any(c.isdigit() for c in value) or "_" in value or "." in value)
        and not value.replace(".", "").isdigit()
    )


def handles(text: str) -> Iterator[Candidate]:
    for m in _HANDLE.finditer(text):
        value = m.group("value")
        line_start = text.rfind("\n", 0, m.start()) + 1
        if not text[line_start : m.start()].strip() and (text[m.end() : m.end() + 1] in ("(", "\n", "")):
            continue  # a decorator
        cue = _HANDLE_WORDS.search(text, max(0, m.start() - CONTEXT_WINDOW), m.start()) is not None
        if cue or any(c.isdigit() for c in value) or "_" in value:
            yield Candidate("USERNAME", m.start(), m.end(), 0.7, "handle")


_SQL_SET = literal_set(("identified",))


def sql_credentials(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    if (scan or Scan.of(text)).positions(_SQL_SET) != []:
        for m in _SQL_SECRET.finditer(text):
            yield Candidate("SECRET", *m.span("value"), 0.9, "sql")
    if "'@" in text or '"@' in text or "`@" in text:  # every `_SQL_USER` match ends with a quote and `@`
        for m in _SQL_USER.finditer(text):
            yield Candidate("USERNAME", *m.span("value"), 0.8, "sql")


def entropy_tokens(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    long_tokens = None if scan is None else scan.long_tokens
    if long_tokens is None:
        windows = token_windows(text, _MIN_ENTROPY_TOKEN)
    else:  # the tokens normalisation found (12+ characters): the same windows as `token_windows`
        n = len(text)
        windows = [(s, e, min(n, e + 1), e - s) for s, e in long_tokens if e - s >= _MIN_ENTROPY_TOKEN]
    for m in in_windows(_ENTROPY_TOKEN, text, windows, 0):
        tok = m.group()
        if not _mixed(tok):
            continue
        near = _SECRET_WORDS.search(text, max(0, m.start() - CONTEXT_WINDOW), m.start()) is not None
        h = entropy(tok)
        if (near and h >= 3.5) or (len(tok) >= 32 and h >= 4.3):
            yield Candidate("SECRET", m.start(), m.end(), 0.75 if near else 0.55, "entropy")


def secrets(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    scan = scan or Scan.of(text)
    yield from known_secrets(text, scan)
    yield from assignments(text, scan)
    if "'" in text or '"' in text:
        yield from sql_credentials(text, scan)
    yield from entropy_tokens(text, scan)
    if "@" in text:
        yield from handles(text)
