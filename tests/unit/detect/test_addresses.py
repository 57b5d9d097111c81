"""Street addresses: the US shape and the continental ones (table tests: found, not found, edges)."""

from __future__ import annotations

import pytest

from hybridgate.detect.pii.addresses import addresses, international_addresses


def _found(text: str) -> list[str]:
    return [text[c.start : c.end] for c in addresses(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # leading street type + name + house number
        ("Send it to Via Roma 131 please", ["Via Roma 131"]),
        ("lives at Rue de la Paix 5", ["Rue de la Paix 5"]),
        ("Avda. Generalisimo 6 Apt. 868", ["Avda. Generalisimo 6", "Apt. 868"]),
        # one-word street names with a street-type ending
        ("The bus station is on Vesterskovvej 79", ["Vesterskovvej 79"]),
        ("41086 Kiannonkatu 98", ["41086 Kiannonkatu 98"]),
        ("Hauptstrasse 5a, Berlin", ["Hauptstrasse 5a"]),
        # number, capitalised words, number
        ("213 Pilekrogen 53, Grand-Leez", ["213 Pilekrogen 53"]),
        # unit designators
        ("Suite 757", ["Suite 757"]),
        ("Unit #12 upstairs", ["Unit #12"]),
        # country + postal code, one and two words
        ("Montafia\n Italy 39767", ["Italy 39767"]),
        ("Brno, Czech Republic 60200", ["Czech Republic 60200"]),
        # the US shape still works
        ("ship to 8418 Aspen Dr, Springfield, SC 76456", ["8418 Aspen Dr, Springfield, SC 76456"]),
    ],
)
def test_finds_addresses(text: str, expected: list[str]) -> None:
    found = _found(text)
    assert all(any(e in f or f in e for f in found) for e in expected), found


@pytest.mark.parametrize(
    "text",
    [
        "Natalia sold clips to 48 friends in April.",
        "The patient is 47 years old and weighs 80 kg.",
        "She bought 3 apples and 5 pears for 12 dollars.",
        "Via email, please.",  # a street type without a number
        "Italy 39",  # a country with too short a postal code
        "Apartment 5 of the novel",  # not a unit designator
        "Version 2 of the Plan 9",  # one capitalised word between numbers is not preceded by a number
        "a patient 12",  # a street-type ending ("tie") in a lower-case word
        "Unit\n12",  # the number is on another line
    ],
)
def test_finds_no_address(text: str) -> None:
    assert list(international_addresses(text)) == [], text


def test_spans_end_at_the_house_number_and_start_at_the_street() -> None:
    text = "Verda, Grossgstottenvej 50b, 1234 Town"
    (c,) = [c for c in international_addresses(text) if c.start < 30]
    assert text[c.start : c.end] == "Grossgstottenvej 50b"
    assert c.type == "STREET_ADDRESS"
