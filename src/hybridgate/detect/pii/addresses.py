"""Street-address heuristics: the US shape ("8418 Aspen Dr, Springfield, SC 76456", "P.O. Box 12") and the
European / Latin American ones ("974 Via Roma 131", "Vesterskovvej 79", "Apt. 425", "Italy 39767").

An address is personal data on its own (where someone lives), so none of these needs a name next to it. Each
rule wants a house or postal number next to a street-ish word, so prices and counts in word problems
("48 clips") do not read as addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.scopes import AnchorScope, Gate, in_windows

_SUFFIXES = (
    r"St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Ct|Court|Pl|Place|Ter|Terrace|Pkwy"
    r"|Parkway|Cir|Circle|Hwy|Highway|Sq|Square|Trl|Trail|Loop|Row|Walk|Crescent|Cres|Close|Plaza|Plz|Path"
    r"|Pike|Alley|Run|Crossing|Xing|Point|Pt|Ridge|Heights|Hts|Park|Grove|Gardens|Hill|Hills|View|Vista"
    r"|Station|Stravenue|Mall|Mews|Manor|Meadows?|Fork|Forks|Glen|Harbor|Haven|Island|Junction|Lake|Lakes"
    r"|Landing|Mill|Mills|Mission|Motorway|Oval|Pass|Port|Ranch|Route|Shoals?|Spring|Springs|Summit"
    r"|Throughway|Track|Turnpike|Union|Valley|Village|Ville|Well|Wells|Estates?|Expressway|Freeway|Green"
)
_ADDRESS = re.compile(  # `(?<![\w-])\d{1,6}`, the lookbehind after the first digit (see _GIVEN_ALONE)
    r"\d(?<![\w-]\d)\d{0,5}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'.-]*\s+){1,4}(?:" + _SUFFIXES + r")\.?"
    r"(?:,?\s+(?:Apt\.?|Suite|Ste\.?|Unit|#)\s*[\w-]+)?"
    r"(?:,?\s+[A-Z][A-Za-z .'-]{1,30},?\s+[A-Z]{2}\.?\s+\d{5}(?:-\d{4})?)?(?![\w])"
)
_CITY_STATE_ZIP = re.compile(r"(?<![\w])[A-Z][A-Za-z .'-]{1,30},\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?(?![\w-])")
# Its one comma, then the state and ZIP: the city starts at most 31 characters before the comma.
_STATE_ZIP = AnchorScope(
    re.compile(r",\s+[A-Z]{2}\s+\d{5}"), 31, re.compile(r",\s+[A-Z]{2}\s+[\d-]*"), gate=Gate(5, (",",))
)
_PO_BOX = re.compile(r"(?i)(?<![a-z])p\.?\s?o\.?\s+box\s+\d{1,8}")
# US military mail: "PSC 3294, Box 9168 / APO AA 61487", "USNS Bergman / FPO AP 93757", "Unit 1009 Box 0219 / DPO AP
# 51065". The APO/FPO/DPO line with its armed-forces "state" (AA, AE, AP) and ZIP is the anchor.
_MILITARY = re.compile(
    r"(?i)(?:(?<![a-z])(?:(?:psc|cmr|unit)\s+\d{1,5},?\s+box\s+\d{1,5}|(?:usns|uss|uscgc)\s+[^\W\d_][\w'-]*)"
    r",?\s+)?(?<![a-z])[adf]po\s+a[aep]\s+\d{5}(?:-\d{4})?(?!\d)"
)


# The continental forms all end in a house or postal number after a word: one scan finds those numbers, and
# the few words before each decide ("Via Roma 131", "Vesterskovvej 79", "974 Via Roma 131", "Apt. 425",
# "Italy 39767"). The lookbehind sits after the first character so the engine can skip to blanks.
_NUMBER_AFTER_WORD = re.compile(r"[ \t](?<=[A-Za-z.][ \t])#?(?P<number>\d{1,6})[a-z]?(?![\w-])")
_WORDS_BACK = 60  # how far back (on the same line) the words before a number are read
_WORDS_USED = 4  # and how many of them the rules look at: no more are split off
_LEADING_NAMES = (
    "Via", "Viale", "Rue", "Avenue", "avenue", "Avda.", "Avenida", "Calle", "Rua", "Praca", "Piazza", "Plaza",
    "Carrer", "Strada", "ul.", "Ulica",
)  # fmt: skip
_LEADING_TYPES = frozenset(_LEADING_NAMES)
_TRAILING_TYPES = (
    "vej", "gade", "gatan", "gata", "veien", "vegen", "strasse", "str.", "weg", "gasse", "allee", "katu",
    "tie", "utca", "laan", "straat", "plein", "vagen", "torget", "centret",
)  # fmt: skip
_UNITS = frozenset(("Apt", "Apt.", "Suite", "Unit"))
# A postal code after a country name ends many international address blocks ("Italy 39767").
_COUNTRY_NAMES = (
    "Italy", "Portugal", "Belgium", "Finland", "Spain", "France", "Germany", "Austria", "Switzerland",
    "Netherlands", "Denmark", "Sweden", "Norway", "Iceland", "Poland", "Czechia", "Slovakia", "Slovenia",
    "Hungary", "Croatia", "Greece", "Ireland", "Brazil", "Mexico", "Argentina", "Chile", "Colombia", "Peru",
    "Canada", "Australia", "Japan", "China", "India", "Russia", "Ukraine", "Romania", "Bulgaria", "Serbia",
    "Turkey", "Israel", "Luxembourg", "Estonia", "Latvia", "Lithuania", "Malta", "Cyprus", "United Kingdom",
    "Czech Republic", "New Zealand", "South Africa", "United States",
)  # fmt: skip
_COUNTRIES = frozenset(_COUNTRY_NAMES)


def _address(start: int, end: int) -> Candidate:
    return Candidate("STREET_ADDRESS", start, end, 0.8, "address")


_BOX = literal_set(("box",))  # in every `_PO_BOX` match
_APO = literal_set(("po a",))


def us_addresses(text: str, scan: Scan) -> Iterator[Candidate]:
    for m in _ADDRESS.finditer(text):
        yield _address(*m.span())
    for m in in_windows(_CITY_STATE_ZIP, text, scan.windows(_STATE_ZIP), 0):
        yield _address(*m.span())
    if scan.low is None:  # no ASCII fold: the plain lower-case test
        low = text.lower()
        box, military = "box" in low, "po a" in low
    else:
        box, military = bool(scan.positions(_BOX)), bool(scan.positions(_APO))
    if box:
        for m in _PO_BOX.finditer(text):
            yield _address(*m.span())
    if military:  # every military address has "APO A", "FPO A" or "DPO A"
        for m in _MILITARY.finditer(text):
            yield _address(*m.span())


def _words_before(text: str, end: int) -> list[tuple[int, str]]:
    """The (offset, word) pairs right before `end` on its line, nearest last, at most `_WORDS_USED` of them;
    stops at a double blank."""
    lo = max(text.rfind("\n", 0, end) + 1, end - _WORDS_BACK)
    out: list[tuple[int, str]] = []
    pos = end
    for word in reversed(text[lo:end].rsplit(" ", _WORDS_USED)[-_WORDS_USED:]):
        pos -= len(word)
        if not word:
            break
        out.append((pos, word))
        pos -= 1
    out.reverse()
    return out


def _continental(text: str, m: re.Match[str]) -> int | None:
    """Where the address ending with this number starts, or None when the words before make it no address."""
    words = _words_before(text, m.start())
    if not words:
        return None
    start, last = words[-1]
    number = m.group("number")
    if last in _UNITS or (last[0].isupper() and last.endswith(_TRAILING_TYPES)):
        return start
    if len(number) >= 4 and m.group().strip().isdigit():
        if last in _COUNTRIES:
            return start
        if len(words) > 1 and f"{words[-2][1]} {last}" in _COUNTRIES:
            return words[-2][0]
    for offset, word in reversed(words):
        if word in _LEADING_TYPES:
            return offset
    for named, (offset, word) in enumerate(reversed(words)):  # "974 Via Roma 131": number, 1-3 names
        if word.isdigit() and len(word) <= 5 and named >= 1:
            return offset
        if not word[0].isupper():
            return None
    return None


def international_addresses(text: str) -> Iterator[Candidate]:
    for m in _NUMBER_AFTER_WORD.finditer(text):
        start = _continental(text, m)
        if start is not None:
            yield _address(start, m.end())


def addresses(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    scan = scan or Scan.of(text)
    if scan.digits == 0:  # every rule wants a house, postal or box number: a `\d` (most prose has none)
        return
    yield from us_addresses(text, scan)
    yield from international_addresses(text)
