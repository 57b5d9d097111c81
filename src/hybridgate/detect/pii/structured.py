"""Structured identifiers recognised by their shape and a validator: contact details, cards, bank and network ids,
national ids. Identifiers that only a label makes recognisable (MRN, passport, ...) live in `labelled`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hybridgate.detect.pii import validators as v
from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.recognizer import Candidate, Recognizer, boost, ignore_context, words
from hybridgate.detect.pii.scopes import AnchorScope, Gate, RunScope

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}\s?(?:@|\[at\]|\(at\))\s?"
    r"[A-Za-z0-9-]+(?:(?:\.|\[dot\]|\(dot\))[A-Za-z0-9-]+)*(?:\.|\[dot\]|\(dot\))[A-Za-z]{2,24}(?![\w-])"
)

# Phones: an international prefix (with an optional "(0)" trunk and area code), a parenthesised area code, or
# separators between digit groups. National formats group digits in every way ("0378 3549890", "01.84.17.61.18",
# "21 253 109 8211"): the shape only finds candidates, the validator and the context decide.
_PHONE = re.compile(
    r"(?<![\w+/.@-])"
    r"(?:\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])?|\(\d{2,5}\)[ .-]?|\d{2,5}[ .-])"
    r"(?:\d{2,8}[ .-]){0,4}\d{2,8}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w]|-\d|\.\d)"
)
_PHONE_COMPACT = re.compile(r"(?<![\w+/.@-])\+?\d{10,13}(?![\w]|-\d|\.\d)")
_PHONE_WORDS = words(
    "phone",
    "tel",
    "mobile",
    "cell",
    "call",
    "fax",
    "text me",
    "whatsapp",
    "contact",
    "reach",
    "dial",
    "ring",
    "sms",
    "messages? to",
    "answering",
    "landline",
    "desk",
    "office",
    "number",
    "no\\.",
    "mob",
)
# Where each context pattern can match (`words` patterns open at a word start): its literals, found by the
# text's literal scan. The phone words' regex alternatives start with "message" and "no.".
_PHONE_LITERALS = (
    "phone", "tel", "mobile", "cell", "call", "fax", "text me", "whatsapp", "contact", "reach", "dial", "ring", "sms",
    "message", "answering", "landline", "desk", "office", "number", "no.", "mob",
)  # fmt: skip
_PHONE_AT = literal_set(_PHONE_LITERALS, word_start=True)
# Labels written after the number in signatures and address blocks ("416 60 039 office", "...-Fax").
_PHONE_AFTER = re.compile(r"(?i)[ \t]?[-(]?[ \t]?(?:office|fax|mobile|cell|home|work|desk|tel|phone)(?![a-z])")

_SSN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])")
_SSN_COMPACT = re.compile(r"(?<![\w-])\d{9}(?![\w-])")
_SSN_LITERALS = ("ssn", "social security", "soc sec", "ss#", "itin", "tax id", "taxpayer")
_SSN_WORDS = words(*_SSN_LITERALS)
_SSN_AT = literal_set(_SSN_LITERALS, word_start=True)

_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){11,18}\d(?![\w-])")
_CARD_LITERALS = ("card", "visa", "mastercard", "amex", "discover", "cc", "credit", "debit", "payment")
_CARD_WORDS = words(*_CARD_LITERALS)
_CARD_AT = literal_set(_CARD_LITERALS, word_start=True)

_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}(?![\w-])")
_IBAN_LITERALS = ("iban", "account", "acct", "bank", "transfer", "wire", "destination", "beneficiary", "sepa")
_IBAN_WORDS = words(*_IBAN_LITERALS)
_IBAN_AT = literal_set(_IBAN_LITERALS, word_start=True)

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4})(?![\w:])")
_MAC = re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])")
_MAC_DOTTED = re.compile(r"(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])")

_NINO = re.compile(r"(?<![\w-])[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])")
_STEUER_ID = re.compile(r"(?<![\w-])\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w-])")
_INSEE = re.compile(r"(?<![\w-])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])")
_AADHAAR = re.compile(r"(?<![\w-])[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}(?![\w-])")
_AADHAAR_LITERALS = ("aadhaar", "aadhar", "uid", "uidai")
_AADHAAR_WORDS = words(*_AADHAAR_LITERALS)
_AADHAAR_AT = literal_set(_AADHAAR_LITERALS, word_start=True)
_NHS = re.compile(r"(?<![\w-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w-])")
_NHS_WORDS = words("nhs")
_NHS_AT = literal_set(("nhs",), word_start=True)
_ROUTING = re.compile(r"(?<![\w-])\d{9}(?![\w-])")
_ROUTING_LITERALS = ("routing", "aba", "rtn", "transit", "bank", "account", "acct", "wire", "ach", "deposit")
_ROUTING_WORDS = words(*_ROUTING_LITERALS)
_ROUTING_AT = literal_set(_ROUTING_LITERALS, word_start=True)
# Lower-case IBANs ("gb42nawi0445..."): only the compact form, labelled, with a valid checksum.
_IBAN_LOWER = re.compile(r"(?<![\w-])[a-z]{2}\d{2}[a-z0-9]{10,30}(?![\w-])")
# SWIFT/BIC: bank (4 letters), country (2), location (2), optional branch (3).
# (`(?<![\w-])[A-Z]{6}...`, the lookbehind after the first letter: a full scan is cheaper than any scope here.)
_BIC = re.compile(r"[A-Z](?<![\w-][A-Z])[A-Z]{5}[A-Z0-9]{2}(?:[A-Z0-9]{3})?(?![\w-])")
_BIC_LITERALS = ("swift", "bic", "bank", "wire", "transfer", "beneficiary", "iban", "account")
_BIC_WORDS = words(*_BIC_LITERALS)
_BIC_AT = literal_set(_BIC_LITERALS, word_start=True)
# Every `_BIC` match holds six ASCII capitals in a row. Looked for in the text's class marks (capitals "A"), or in
# its UTF-8 bytes with the capitals marked "A" and every other byte (multi-byte characters' included) a blank:
# a substring search in C, ~8x cheaper than the regex's scan, which tries its character class everywhere.
_CAPITAL_MARKS = bytes(ord("A") if ord("A") <= i <= ord("Z") else ord(" ") for i in range(256))


def _six_capitals(scan: Scan) -> bool:
    marks = scan.marks
    if marks is None:
        marks = scan.text.encode("utf-8", "surrogatepass").translate(_CAPITAL_MARKS)
    return b"AAAAAA" in marks


def _phone_digits_ok(value: str) -> bool:
    return 7 <= len(v.digits(value)) <= 15


def _phone_loose(value: str, ctx: bool) -> float:
    digits = v.digits(value)
    if not 7 <= len(digits) <= 15:
        return 0.0
    # Bare digit groups read as phones only with 10+ digits or a phone word: "12 345 678" is usually not one.
    marked = value.lstrip().startswith(("+", "(")) or len(digits) >= 10
    if not (marked or ctx):
        return 0.0
    # A labelled number the library cannot place (no country code, foreign trunk prefix) is still a phone.
    return v.phone(value) or (0.5 if ctx else 0.0)


def _phone_compact(value: str, ctx: bool) -> float:
    return v.phone(value) if (ctx or value.startswith("+")) else 0.0


def _card(value: str, ctx: bool) -> float:
    return v.credit_card(value, ctx)


def _aadhaar(value: str, ctx: bool) -> float:
    # A bare 12-digit run passes Verhoeff one time in ten: require the 4-4-4 grouping or a label.
    return v.aadhaar(value) if (ctx or not value.isdigit()) else 0.0


def _routing(value: str, ctx: bool) -> float:
    """ABA checksum; unlabelled, the first two digits must also be a Federal Reserve routing symbol."""
    if v.routing_number(value) == 0:
        return 0.0
    return 0.8 if ctx else (0.55 if v.routing_prefix_ok(value) else 0.0)


def _bic(value: str, ctx: bool) -> float:
    # All-letter codes read like words ("DOCUMENT" is a valid BIC shape): unlabelled, a digit must show.
    return v.bic(value) if (ctx or any(c.isdigit() for c in value[6:])) else 0.0


def _iban(value: str, ctx: bool) -> float:
    return v.iban_shaped(value, ctx or re.match(r"[A-Z]{2}\d{2}[A-Z]{4}\d{6,}", value.replace(" ", "")) is not None)


# Scopes (see `scopes`): where each pattern can match. Every digit/phone pattern above is made of digits, `+`,
# `(`, `)`, spaces, `.`, `-`, `x`/`ext`, `A`/`B` (INSEE's Corsican 2A/2B) and starts with a digit, `+` or `(`;
# none yields a candidate with fewer than 7 digits, so runs with fewer are skipped outright.
# The region is `[+(\d](?:[+() .\-\sxetAB]*\d){6}[\d+() .\-\sxetAB]*` with the group repeat written out and
# the repeats possessive (giving back a separator can never bring a digit): the same matches, a little faster.
_SEPARATOR = r"[+() .\-\sxetAB]"
NUMERIC = RunScope(
    re.compile(r"[+(\d]" + (_SEPARATOR + r"*+\d") * 6 + r"[\d+() .\-\sxetAB]*+"), margin=2, gate=Gate(min_digits=6)
)
_UPPER_DIGITS = RunScope(re.compile(r"[A-Z]{2} ?\d{2}[A-Z\d ]*"), gate=Gate(min_digits=2))  # IBAN, NINO
# Found from its check digits, two characters in: a regex led by a digit skips ahead, one led by a letter cannot.
# (`(?<=[a-z]{2})\d\d...` with the lookbehind after the first digit, so only digits after two letters are tried.)
_LOWER_DIGITS = AnchorScope(
    re.compile(r"\d(?<=[a-z]{2}\d)\d[a-z\d]{10}"), 2, re.compile(r"[a-z\d]*"), gate=Gate(min_digits=2)
)
_AT = AnchorScope(
    re.compile(r"@|\[at\]|\(at\)"),
    65,
    re.compile(r"(?:@|\[at\]|\(at\))\s?[A-Za-z0-9.\[\]()-]*"),
    gate=Gate(any_of=("@", "[at]", "(at)")),
)  # the local part is at most 65 characters (with the space before `@`); the domain never leaves the tail
_DOTTED_QUAD = AnchorScope(re.compile(r"\.\d"), 3, re.compile(r"[\d.]*"), margin=2, gate=Gate(1, (".",)))
_COLON_HEX = AnchorScope(re.compile(r":[0-9A-Fa-f:]"), 4, re.compile(r"[0-9A-Fa-f:]*"), gate=Gate(any_of=(":",)))
# Two pairs between separators, from a MAC's first separator on: dates ("2025-01-27") hold one, no MAC fewer.
_MAC_PAIR = AnchorScope(
    re.compile(r"[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]"),
    2,
    re.compile(r"[0-9A-Fa-f:-]*"),
    gate=Gate(count_of=(":", "-"), min_count=3),
)
_DOTTED_HEX = AnchorScope(
    re.compile(r"\.[0-9A-Fa-f]{4}\."), 4, re.compile(r"[0-9A-Fa-f.]*"), gate=Gate(count_of=(".",), min_count=2)
)

# Order matters: overlap resolution is stable, so among equal-ranked candidates the earlier recogniser wins.
STRUCTURED: tuple[Recognizer, ...] = (
    Recognizer("EMAIL_ADDRESS", _EMAIL, score=0.95, scope=_AT),
    Recognizer("US_SSN", _SSN, ignore_context(v.ssn), _SSN_WORDS, scope=NUMERIC, min_digits=9, context_words=_SSN_AT),
    Recognizer(
        "US_SSN",
        _SSN_COMPACT,
        ignore_context(v.ssn),
        _SSN_WORDS,
        True,
        scope=NUMERIC,
        min_digits=9,
        context_words=_SSN_AT,
    ),
    Recognizer("CREDIT_CARD", _CARD, _card, _CARD_WORDS, scope=NUMERIC, min_digits=12, context_words=_CARD_AT),
    Recognizer("IBAN_CODE", _IBAN, _iban, _IBAN_WORDS, scope=_UPPER_DIGITS, context_words=_IBAN_AT),
    Recognizer(
        "IBAN_CODE",
        _IBAN_LOWER,
        ignore_context(v.iban),
        _IBAN_WORDS,
        True,
        scope=_LOWER_DIGITS,
        context_words=_IBAN_AT,
    ),
    Recognizer("BANK_ACCOUNT", _BIC, _bic, _BIC_WORDS, context_words=_BIC_AT, needs=_six_capitals),
    Recognizer("IP_ADDRESS", _IPV4, ignore_context(v.ip_address), scope=_DOTTED_QUAD),
    Recognizer("IP_ADDRESS", _IPV6, ignore_context(v.ip_address), scope=_COLON_HEX),
    Recognizer("MAC_ADDRESS", _MAC, ignore_context(v.mac), scope=_MAC_PAIR),
    Recognizer("MAC_ADDRESS", _MAC_DOTTED, ignore_context(v.mac), scope=_DOTTED_HEX),
    Recognizer(
        "PHONE_NUMBER",
        _PHONE,
        _phone_loose,
        _PHONE_WORDS,
        scope=NUMERIC,
        min_digits=7,
        context_after=_PHONE_AFTER,
        precheck=_phone_digits_ok,
        lazy_context=True,
        context_words=_PHONE_AT,
    ),
    Recognizer(
        "PHONE_NUMBER",
        _PHONE_COMPACT,
        _phone_compact,
        _PHONE_WORDS,
        scope=NUMERIC,
        min_digits=10,
        context_after=_PHONE_AFTER,
        lazy_context=True,
        context_words=_PHONE_AT,
    ),
    Recognizer("NATIONAL_ID", _NINO, ignore_context(v.uk_nino), scope=_UPPER_DIGITS),
    Recognizer("NATIONAL_ID", _STEUER_ID, ignore_context(v.de_steuer_id), scope=NUMERIC, min_digits=11),
    Recognizer("NATIONAL_ID", _INSEE, ignore_context(v.fr_insee), scope=NUMERIC, min_digits=13),
    Recognizer(
        "NATIONAL_ID", _AADHAAR, _aadhaar, _AADHAAR_WORDS, scope=NUMERIC, min_digits=12, context_words=_AADHAAR_AT
    ),
    Recognizer(
        "NATIONAL_ID",
        _NHS,
        boost(v.uk_nhs, 0.0),
        _NHS_WORDS,
        True,
        scope=NUMERIC,
        min_digits=10,
        context_words=_NHS_AT,
    ),
    Recognizer(
        "BANK_ACCOUNT", _ROUTING, _routing, _ROUTING_WORDS, scope=NUMERIC, min_digits=9, context_words=_ROUTING_AT
    ),
)


# Per recogniser, fixed at import: its scope, and the context words it needs when a text without any can yield
# no candidate from it (it needs a context word, and no label after the candidate stands in for one).
_PLAN = tuple(
    (r, r.scope, r.context_words if r.needs_context and r.context_after is None else None) for r in STRUCTURED
)
# The plan for a text with d digits (the last: d or more), in order: the recognisers needing more are left out
# beforehand, not tested one by one on every text (most prose holds no digit, and then 8 of 19 remain).
_MOST_DIGITS = max(r.min_digits for r in STRUCTURED)
_PLANS = tuple(tuple(step for step in _PLAN if step[0].min_digits <= d) for d in range(_MOST_DIGITS + 1))


# The structured types that outrank a phone number in overlap resolution, whatever the scores
# (`detector._PRIORITY`); those found before the phones (all but NATIONAL_ID) prune them.
OUTRANK_PHONE = frozenset(
    {"EMAIL_ADDRESS", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "BANK_ACCOUNT", "IP_ADDRESS", "MAC_ADDRESS", "NATIONAL_ID"}
)


def find_structured(text: str, scan: Scan | None = None, *, prune: bool = False) -> Iterator[Candidate]:
    """Every structured recogniser's candidates, each scope's windows computed once (`scan`: of this text).

    `prune`: leave out the phone candidates that contain a candidate of a type that outranks phones, found
    before them (an IP address or SSN in phone shape), without validating them (the costly step): overlap
    resolution drops them whatever their score, so the resolved findings are the same. (The outranking
    candidate, or whatever beats it, overlaps the phone candidate too: it lies inside it.)"""
    scan = scan or Scan.of(text)
    digits = scan.digits
    most_digits: dict[int, int] = {}  # per scope; -1 without windows
    strong: list[tuple[int, int]] | None = [] if prune else None
    # A recogniser needing more digits than the text holds finds nothing (most prose holds few or none).
    for r, scope, needed in _PLANS[min(digits, _MOST_DIGITS)]:
        if needed is not None and scan.positions(needed) == []:
            continue  # (positions None: no ASCII fold, the context words may be anywhere)
        if r.needs is not None and not r.needs(scan):
            continue
        if scope is None:
            found = r.find(text, None, scan)
        else:
            windows = scan.windows(scope)
            if not windows:
                continue
            most = most_digits.get(id(scope))
            if most is None:
                most = most_digits[id(scope)] = max(w[3] for w in windows)
            # No window can hold a match: skip the recogniser.
            if most < r.min_digits:
                continue
            found = r.find(text, windows, scan, strong if r.type == "PHONE_NUMBER" else None)
        if strong is None or r.type not in OUTRANK_PHONE:
            yield from found
            continue
        for c in found:
            strong.append((c.start, c.end))
            yield c
