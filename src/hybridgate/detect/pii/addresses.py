"""Street-address heuristics: the US shape ("8418 Aspen Dr, Springfield, SC 76456", "P.O. Box 12") and the
European / Latin American ones ("974 Via Roma 131", "Vesterskovvej 79", "Apt. 425", "Italy 39767").

An address is personal data on its own (where someone lives), so none of these needs a name next to it. Each
rule wants a house or postal number next to a street-ish word, so prices and counts in word problems
("48 clips") do not read as addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.scopes import AnchorScope, in_windows, literal_positions, matches_at

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
_STATE_ZIP = AnchorScope(re.compile(r",\s+[A-Z]{2}\s+\d{5}"), 31, re.compile(r",\s+[A-Z]{2}\s+[\d-]*"))
_PO_BOX = re.compile(r"(?i)(?<![a-z])p\.?\s?o\.?\s+box\s+\d{1,8}")


# "974 Via Roma 131", "213 Pilekrogen 53": a building/postal number, one to three capitalised words, a house
# number (the continental order). `(?<![\w-])\d`, with the lookbehind after the first digit.
_NUMBERED_STREET = re.compile(r"\d(?<![\w-]\d)\d{0,4}[ \t]+(?:[A-Z][\w'.-]*[ \t]+){1,3}\d{1,5}(?![\w-])")
# Street-type words that come first ("Via Roma 131", "Rue de la Paix 5", "Avda. Libertad 12").
_LEADING_TYPES = (
    "Via ", "Viale ", "Rue ", "Avenue ", "avenue ", "Avda. ", "Avenida ", "Calle ", "Rua ", "Praca ", "Piazza ",
    "Plaza ", "Carrer ", "Strada ", "ul. ", "Ulica ",
)  # fmt: skip
_LEADING_STREET = re.compile(r"(?:[A-Za-z]+\.?)[ ](?:[\w'.-]+[ ]){0,3}\d{1,5}[a-z]?(?![\w])")
# Street-type endings of one-word street names ("Vesterskovvej 79", "Kiannonkatu 98", "Hauptstrasse 5").
_TRAILING_TYPES = (
    "vej", "gade", "gatan", "gata", "veien", "vegen", "strasse", "str.", "weg", "gasse", "allee", "katu",
    "tie", "utca", "laan", "straat", "plein", "vagen", "torget", "centret",
)  # fmt: skip
_HOUSE_NUMBER = re.compile(r"[ \t]+\d{1,5}[a-z]?(?![\w])")
_UNIT = re.compile(r"(?:Apt\.?|Suite|Unit)[ \t]+#?\d{1,5}(?![\w])")
_UNIT_STARTS = ("Apt", "Suite", "Unit")
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
_COUNTRY_POSTAL = re.compile(r"[A-Z](?<![\w][A-Z])[a-z]+(?: [A-Z][a-z]+)?[ \t]+\d{4,6}(?![\w])")


def _address(start: int, end: int) -> Candidate:
    return Candidate("STREET_ADDRESS", start, end, 0.8, "address")


def us_addresses(text: str) -> Iterator[Candidate]:
    for m in _ADDRESS.finditer(text):
        yield _address(*m.span())
    for m in in_windows(_CITY_STATE_ZIP, text, _STATE_ZIP.windows(text), 0):
        yield _address(*m.span())
    if "box" in text.lower():
        for m in _PO_BOX.finditer(text):
            yield _address(*m.span())


def _word_start(text: str, i: int) -> int:
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "'-_"):
        i -= 1
    return i


def trailing_type_streets(text: str) -> Iterator[Candidate]:
    for lit in _TRAILING_TYPES:
        i = text.find(lit)
        while i >= 0:
            num = _HOUSE_NUMBER.match(text, i + len(lit))
            start = _word_start(text, i)
            if num is not None and start < i and text[start].isupper():
                yield _address(start, num.end())
            i = text.find(lit, i + 1)


def country_postal_codes(text: str) -> Iterator[Candidate]:
    for m in _COUNTRY_POSTAL.finditer(text):
        words = m.group().split()
        name = " ".join(words[:-1])
        if name in _COUNTRIES:
            yield _address(*m.span())
        elif len(words) == 3 and words[1] in _COUNTRIES:
            yield _address(m.start() + len(words[0]) + 1, m.end())


def international_addresses(text: str) -> Iterator[Candidate]:
    for m in _NUMBERED_STREET.finditer(text):
        yield _address(*m.span())
    for m in matches_at(_LEADING_STREET, text, literal_positions(text, _LEADING_TYPES)):
        if m.start() == 0 or not (text[m.start() - 1].isalnum()):
            yield _address(*m.span())
    yield from trailing_type_streets(text)
    for m in matches_at(_UNIT, text, literal_positions(text, _UNIT_STARTS)):
        if m.start() == 0 or not text[m.start() - 1].isalnum():
            yield _address(*m.span())
    yield from country_postal_codes(text)


def addresses(text: str) -> Iterator[Candidate]:
    yield from us_addresses(text)
    yield from international_addresses(text)
