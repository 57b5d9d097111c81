"""Identifiers that only their label makes recognisable: MRN, insurance and member ids, NPI/DEA, passport and
driving-licence numbers, bank accounts, dates of birth - plus record-system ids written as `PREFIX-digits`.

A bare `7095748` means nothing; `MRN: 7095748` or `MRN-7095748` is a medical record number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hybridgate.detect.pii import validators as v
from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.scopes import in_windows, matches_at
from hybridgate.detect.pii.structured import NUMERIC

# Label text (case-insensitive) -> finding type. Order matters: the first alternative that matches wins.
_LABELS: tuple[tuple[str, str], ...] = (
    (
        r"mrn|medical record(?: number| no\.?| #)?|med(?:ical)? rec(?:ord)? ?(?:no|#)|patient id|chart (?:no|number|#)",
        "MRN",
    ),
    (r"npi(?: number| no\.?| #)?", "NPI"),
    (r"dea(?: number| no\.?| #)?", "DEA_NUMBER"),
    (
        r"(?:health |medical )?insurance(?: id| number| no\.?| #| member id| policy)?|member id|subscriber id"
        r"|medicare(?: number| id)?|medicaid(?: number| id)?|policy(?: number| no\.?| #| id)?|group (?:number|no\.?)"
        r"|rx(?: number| no\.?| #)?|prescription(?: number| no\.?| #)?|health (?:plan|card)(?: number| id)?",
        "HEALTH_ID",
    ),
    (r"passport(?: number| no\.?| #)?", "PASSPORT"),
    (
        r"driver'?s? ?licen[cs]e(?: number| no\.?| #)?|licen[cs]e(?: number| no\.?| #)?|dl(?: number| no\.?| #)?",
        "DRIVER_LICENSE",
    ),
    (r"ssn|social security(?: number| no\.?| #)?", "US_SSN"),
    (
        r"national id(?:entity)?(?: number| no\.?| card)?|nid|national insurance(?: number| no\.?)?|nino"
        r"|tax ?id|tin|ein|itin|sin|aadhaa?r|steuer-?id|insee|personal id(?: number)?|id card(?: number)?",
        "NATIONAL_ID",
    ),
    (
        r"(?:bank |checking |savings )?account(?: number| no\.?| #)?|acct(?: number| no\.?| #)?"
        r"|routing(?: number| no\.?)?|sort code|bsb|swift(?: code)?|bic",
        "BANK_ACCOUNT",
    ),
    (
        r"employee(?: id| number| no\.?| #)|emp ?id|staff id|badge(?: id| number)?|visa(?: number| no\.?)",
        "OTHER_ID",
    ),
    (r"vin|vehicle id(?:entification number)?|licen[cs]e plate|plate(?: number)?", "OTHER_ID"),
    (r"device id|serial(?: number| no\.?)?|imei|biometric id", "OTHER_ID"),
)

_LABEL_RE = re.compile(
    r"(?i)(?<![a-z0-9])(?:" + "|".join(f"(?P<L{i}>{p})" for i, (p, _) in enumerate(_LABELS)) + r")(?![a-z])"
    r"[\"']?\s*(?:is|was|=|:=|:|#|-|=>)?\s*[\"']?\s*(?:is\s+)?"
    # The value: hyphens join freely; a space continues it only into another digit group ("GB29 6016 1331").
    r"(?P<value>[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?: (?=[A-Z]{0,4}\d)[A-Z0-9]+(?:-[A-Za-z0-9]+)*){0,6})"
)

# Every label alternative above starts with one of these (lower-case) literals: the label regex is tried only
# where one occurs (a 60-way case-insensitive alternation tried at every word costs ~0.2 ms per KB).
_LABEL_STARTS = (
    "mrn", "med", "patient id", "chart ", "npi", "dea", "health ", "insurance", "member id", "subscriber id",
    "policy", "group ", "rx", "prescription", "passport", "driver", "licen", "dl", "ssn", "social security",
    "national ", "nid", "nino", "tax", "tin", "ein", "itin", "sin", "aadha", "steuer", "insee", "personal id",
    "id card", "bank ", "checking ", "savings ", "account", "acct", "routing", "sort code", "bsb", "swift", "bic",
    "emp", "staff id", "badge", "visa", "vin", "vehicle id", "plate", "device id", "serial", "imei",
    "biometric id",
)  # fmt: skip
_LABEL_SET = literal_set(_LABEL_STARTS)

# PREFIX-digits record ids; the prefix decides the type when it is a known one.
_PREFIXED = re.compile(  # `(?<![\w-])[A-Z]{2,5}`, the lookbehind after the first letter (see `_OCR_RUN`)
    r"(?P<prefix>[A-Z](?<![\w-][A-Z])[A-Z]{1,4})-(?:[A-Z]{1,3}-?)?[A-Za-z]?\d{4,12}(?:-[A-Za-z0-9]{1,6})?(?![\w-])"
)
_PREFIX_TYPES = {
    "MRN": "MRN", "MR": "MRN", "MED": "MRN", "PAT": "MRN", "PT": "MRN",
    "INS": "HEALTH_ID", "HIC": "HEALTH_ID", "MBI": "HEALTH_ID", "MEM": "HEALTH_ID", "POL": "HEALTH_ID",
    "RX": "HEALTH_ID", "HIN": "HEALTH_ID", "BIO": "OTHER_ID",
    "DL": "DRIVER_LICENSE", "NID": "NATIONAL_ID", "SSN": "US_SSN", "TIN": "NATIONAL_ID",
    "EMP": "OTHER_ID", "ACCT": "BANK_ACCOUNT", "ACC": "BANK_ACCOUNT",
}  # fmt: skip
# Standards and product codes that share the shape and are not about a person.
_PREFIX_IGNORE = frozenset({"ISO", "RFC", "CVE", "COVID", "SARS", "IEC", "IEEE", "EN", "DIN", "ANSI", "SHA", "UTF"})

_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
    r"|\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,? \d{4})"
)
_DOB = re.compile(
    r"(?i)(?<![a-z])(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthday|born(?: on)?|b\.)"
    r"[\"']?\s*(?:[:=#-]|is|was)?\s*[\"']?\s*(?:on\s+)?(?P<value>" + _DATE + r")"
)


_DOB_STARTS = ("dob", "d.o.b", "date of birth", "birth", "born", "b.")
_DOB_SET = literal_set(_DOB_STARTS)

# A bare run of 8-17 digits (`(?<![\w.,$-])\d{8,17}`, the lookbehind after the first digit): on its own a number,
# but in a record that already holds an identifier it is most likely another one (an account, a member number).
_BARE_NUMBER = re.compile(r"\d(?<![\w.,$-]\d)\d{7,16}(?![\w,-]|\.\d)")


# Group numbers of the label alternatives (L0, L1, ... come first, in order: the labels hold no other groups).
_LABEL_GROUPS = tuple((_LABEL_RE.groupindex[f"L{i}"] - 1, typ) for i, (_, typ) in enumerate(_LABELS))


def _label_type(m: re.Match[str]) -> str:
    groups = m.groups()  # one call, rather than formatting and looking up each group's name
    for i, typ in _LABEL_GROUPS:
        if groups[i] is not None:
            return typ
    return "OTHER_ID"


def _labelled_score(typ: str, value: str) -> float:
    if typ == "NPI":
        return v.npi(value) or 0.8
    if typ == "DEA_NUMBER":
        return v.dea(value) or 0.8
    if typ == "US_SSN":
        return v.ssn(value) or 0.7
    return 0.85


def _label_matches(text: str, scan: Scan | None = None) -> Iterator[re.Match[str]]:
    starts = (scan or Scan.of(text)).positions(_LABEL_SET)
    return _LABEL_RE.finditer(text) if starts is None else matches_at(_LABEL_RE, text, starts)


# The fewest digits a finding of each finder holds: a text with fewer (most prose) is skipped.
_LABELLED_DIGITS = 4  # a labelled value needs 4 (ASCII, since the value is) digits
_PREFIXED_DIGITS = 4  # `\d{4,12}`
_DOB_DIGITS = 4  # the shortest `_DATE`: `\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}`


def labelled_ids(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    scan = scan or Scan.of(text)
    if scan.digits < _LABELLED_DIGITS:
        return
    for m in _label_matches(text, scan):
        value = m.group("value").rstrip(" -")
        if len(value) < 5 or sum(map(str.isdigit, value)) < 4:
            continue
        typ = _label_type(m)
        # A value that names its own kind ("Insurance ID: NID-900198093") is what its prefix says.
        own = _PREFIXED.match(value)
        if own is not None and own.end() == len(value) and own.group("prefix") in _PREFIX_TYPES:
            typ = _PREFIX_TYPES[own.group("prefix")]
        start = m.start("value")
        yield Candidate(typ, start, start + len(value), _labelled_score(typ, value), "label")


def prefixed_ids(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    if scan is not None and scan.digits < _PREFIXED_DIGITS:
        return
    for m in _PREFIXED.finditer(text):
        prefix = m.group("prefix")
        if prefix in _PREFIX_IGNORE:
            continue
        typ = _PREFIX_TYPES.get(prefix)
        yield Candidate(typ or "OTHER_ID", m.start(), m.end(), 0.9 if typ else 0.6, "prefix")


def record_numbers(text: str, found: list[Candidate], scan: Scan | None = None) -> list[Candidate]:
    """Bare long numbers that overlap no finding, to add when `found` already holds an identifier. `scan`: this
    text's scan; its numeric windows (computed for the structured ids) hold every bare number: 8+ digits in a
    row are a run of the numeric scope's characters with 7+ digits, and the window's 2-character margin covers
    the lookahead past the last digit."""
    out: list[Candidate] = []
    i = 0
    matches = _BARE_NUMBER.finditer(text) if scan is None else in_windows(_BARE_NUMBER, text, scan.windows(NUMERIC), 8)
    for m in matches:
        while i < len(found) and found[i].end <= m.start():
            i += 1
        if i < len(found) and found[i].start < m.end():
            continue  # `found` is disjoint and sorted: only this one can overlap
        out.append(Candidate("OTHER_ID", m.start(), m.end(), 0.3, "record"))
    return out


def dates_of_birth(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    scan = scan or Scan.of(text)
    if scan.digits < _DOB_DIGITS:
        return
    starts = scan.positions(_DOB_SET)
    found = _DOB.finditer(text) if starts is None else matches_at(_DOB, text, starts)
    for m in found:
        yield Candidate("DATE_OF_BIRTH", m.start("value"), m.end("value"), 0.9, "dob")
