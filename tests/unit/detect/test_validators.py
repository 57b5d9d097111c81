"""Checksums and issuing rules: valid examples pass, one-digit-off and rule-breaking ones fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hybridgate.detect.pii import validators as v

CASES: list[tuple[Callable[[str], float], str, bool]] = [
    (v.ssn, "123-45-6788", True),
    (v.ssn, "912-45-6788", True),  # 9xx: ITIN range, a tax id all the same
    (v.ssn, "000-12-3456", False),
    (v.ssn, "666-12-3456", False),
    (v.ssn, "123-00-4567", False),
    (v.ssn, "123-45-0000", False),
    (v.ssn, "111-11-1111", False),
    (v.iban, "GB29 NWBK 6016 1331 9268 19", True),
    (v.iban, "DE89370400440532013000", True),
    (v.iban, "DE89370400440532013001", False),
    (v.npi, "1234567893", True),
    (v.npi, "1234567890", False),
    (v.dea, "AB1234563", True),
    (v.dea, "AB1234564", False),
    (v.aadhaar, "2341 2341 2346", True),
    (v.aadhaar, "2341 2341 2345", False),
    (v.aadhaar, "1341 2341 2346", False),  # never starts with 0/1
    (v.uk_nino, "AB 12 34 56 C", True),
    (v.uk_nino, "GB 12 34 56 C", False),  # reserved prefix
    (v.uk_nino, "DA 12 34 56 C", False),  # D never first
    (v.de_steuer_id, "36 574 261 809", True),
    (v.de_steuer_id, "36 574 261 808", False),
    (v.fr_insee, "2 95 10 99 126 111 93", True),
    (v.fr_insee, "2 95 10 99 126 111 94", False),
    (v.uk_nhs, "943 476 5919", True),
    (v.uk_nhs, "943 476 5918", False),
    (v.routing_number, "021000021", True),
    (v.routing_number, "021000022", False),
    (v.bic, "CHASUS33", True),
    (v.bic, "DEUTDEFF500", True),
    (v.bic, "PASSWORD", False),  # "WO" is no country
    (v.phone, "079 2718 1155", True),  # a UK mobile with its trunk 0
    (v.phone, "01.84.17.61.18", True),  # French
    (v.phone, "0000 000 0000", False),
    (v.ip_address, "192.168.1.1", True),
    (v.ip_address, "256.1.1.1", False),
    (v.ip_address, "2001:db8::1", True),
    (v.ip_address, "0.0.0.0", False),
    (v.phone, "+1 (954) 487-7934", True),
    (v.phone, "+44 20 7952 7952", True),
    (v.phone, "+1 (882) 974-6866", True),  # unassigned area code: possible, so kept
    (v.phone, "12345", False),
    (v.mac, "3e:c8:d5:df:b5:59", True),
    (v.mac, "00:00:00:00:00:00", False),
]


@pytest.mark.parametrize(("fn", "value", "ok"), CASES, ids=[f"{f.__name__}-{s}" for f, s, _ in CASES])
def test_validator(fn: Callable[[str], float], value: str, ok: bool) -> None:
    assert (fn(value) > 0) is ok


@pytest.mark.parametrize(
    ("number", "context", "ok"),
    [
        ("4111 1111 1111 1111", False, True),  # Luhn + Visa IIN
        ("378282246310005", False, True),  # Amex
        ("5555555555554444", False, True),  # Mastercard
        ("4111111111111112", False, False),  # Luhn fails, no grouping, no label
        ("4111-1111-1111-1112", False, True),  # grouped like a card: a mistyped card is still a card
        ("4111111111111112", True, True),  # labelled "card"
        ("9111111111111111", True, False),  # no issuer starts with 9
        ("0000 0000 0000 0000", True, False),
    ],
)
def test_credit_card(number: str, context: bool, ok: bool) -> None:
    assert (v.credit_card(number, context) > 0) is ok


@pytest.mark.parametrize(
    ("number", "ok"),
    [("021000021", True), ("121000358", True), ("611000000", True), ("331000000", False), ("900000000", False)],
)
def test_routing_prefix(number: str, ok: bool) -> None:
    """Federal Reserve routing symbols: 00-12, 21-32, 61-72, 80."""
    assert v.routing_prefix_ok(number) is ok
