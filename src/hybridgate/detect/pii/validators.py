"""Checksums and issuing rules: a candidate that passes is an identifier, not a coincidence of digits.

Each validator takes the matched text and returns a confidence in [0, 1]; 0 rejects the candidate.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum import luhn, verhoeff
from stdnum.de import idnr as de_idnr
from stdnum.exceptions import ValidationError
from stdnum.fr import nir as fr_nir
from stdnum.gb import nhs as gb_nhs
from stdnum.us import rtn as us_rtn

# phonenumbers recompiles each metadata pattern through `re.compile` on every use unless asked to keep them (a
# dict lookup instead: ~20% of a validation). Same patterns, same answers; older releases lack the switch.
if hasattr(phonenumbers, "enable_pattern_cache"):
    phonenumbers.enable_pattern_cache()

_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def digits(s: str) -> str:
    return _NON_DIGIT.sub("", s)


def luhn_ok(number: str) -> bool:
    try:
        return bool(luhn.is_valid(number))
    except ValidationError:
        return False


def ssn(s: str) -> float:
    """US SSN area/group/serial rules. Area 9xx is an ITIN - a tax id all the same, so it stays, scored lower."""
    d = digits(s)
    if len(d) != 9:
        return 0.0
    area, group, serial = d[:3], d[3:5], d[5:]
    if area in ("000", "666") or group == "00" or serial == "0000":
        return 0.0
    if len(set(d)) == 1:
        return 0.0
    if d in ("123456789", "987654321"):
        return 0.5  # the classic example number: often a placeholder, but reported
    return 0.6 if area[0] == "9" else 0.9


# Issuer prefixes: Visa, Mastercard (51-55, 2221-2720), Amex, Discover, Diners, JCB, UnionPay, Maestro.
_IIN = re.compile(r"^(?:1800|2131|4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9]|2)|3(?:0[0-5]|[68])|35|5[06-8]|6[0-9])")


def credit_card(s: str, context: bool) -> float:
    """Luhn + IIN. A grouped or card-labelled number failing Luhn is still a (mistyped) card number."""
    d = digits(s)
    if not (12 if context else 13) <= len(d) <= 19 or not _IIN.match(d) or len(set(d)) == 1:
        return 0.0
    if luhn_ok(d):
        return 0.95
    grouped = len(d) == 16 and re.fullmatch(r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}", s.strip()) is not None
    return 0.5 if (context or grouped) else 0.0


def iban(s: str) -> float:
    try:
        std_iban.validate(_NON_ALNUM.sub("", s))
    except ValidationError:
        return 0.0
    return 0.95


def iban_shaped(s: str, context: bool) -> float:
    """Checksum first; an IBAN-shaped string labelled as an account is kept even when the checksum fails."""
    if iban(s):
        return 0.95
    return 0.5 if context else 0.0


# Where a national number written with its trunk prefix ("079 2718 1155", "01.84.17.61.18") is tried when it
# is not a US number: the countries whose numbers the gateway's users most often write without "+".
_TRUNK_REGIONS = ("GB", "FR", "DE", "IT", "ES", "NL", "BE", "CH", "AT", "AU", "IE", "SE", "PT", "IN", "BR", "MX")


def phone(s: str) -> float:
    """`phonenumbers` only ever sees the candidate. Possible (right length for the region) is enough to keep."""
    region = None if s.lstrip().startswith("+") else "US"
    try:
        num = phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        return 0.0
    if phonenumbers.is_valid_number(num):
        return 0.9
    if region is not None and digits(s).startswith("0") and _valid_national(s):
        return 0.8
    return 0.6 if phonenumbers.is_possible_number(num) else 0.0


_TRUNK_CODES = tuple(phonenumbers.country_code_for_region(r) for r in _TRUNK_REGIONS)


def _valid_national(s: str) -> bool:
    # Built directly rather than parsed once per region (parsing is the costly step): the trunk "0" dropped,
    # except in Italy, where it is part of the number.
    national = digits(s)
    rest = int(national[1:] or "0")
    for code in _TRUNK_CODES:
        num = phonenumbers.PhoneNumber(country_code=code, national_number=rest)
        if code == 39:
            num = phonenumbers.PhoneNumber(country_code=39, national_number=int(national), italian_leading_zero=True)
        if phonenumbers.is_valid_number(num):
            return True
    return False


def ip_address(s: str) -> float:
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return 0.0
    if addr.is_unspecified or (addr.version == 4 and s.count(".") != 3):
        return 0.0
    return 0.9 if not addr.is_loopback else 0.5


def aadhaar(s: str) -> float:
    d = digits(s)
    if len(d) != 12 or d[0] in "01":
        return 0.0
    try:
        return 0.9 if verhoeff.is_valid(d) else 0.0
    except ValidationError:
        return 0.0


def de_steuer_id(s: str) -> float:
    return 0.85 if de_idnr.is_valid(digits(s)) else 0.0


def fr_insee(s: str) -> float:
    return 0.9 if fr_nir.is_valid(_NON_ALNUM.sub("", s)) else 0.0


def uk_nhs(s: str) -> float:
    return 0.8 if gb_nhs.is_valid(digits(s)) else 0.0


_NINO_BAD_PREFIX = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def uk_nino(s: str) -> float:
    n = _NON_ALNUM.sub("", s).upper()
    if not re.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]?", n):
        return 0.0
    return 0.0 if n[:2] in _NINO_BAD_PREFIX else 0.85


def npi(s: str) -> float:
    """US National Provider Identifier: Luhn over the number prefixed with the 80840 health-industry code."""
    d = digits(s)
    return 0.95 if len(d) == 10 and luhn_ok("80840" + d) else 0.0


def dea(s: str) -> float:
    """DEA registration: two letters + 7 digits whose weighted sum's last digit is the check digit."""
    m = re.fullmatch(r"[A-Za-z]{2}(\d{7})", s)
    if not m:
        return 0.0
    d = [int(c) for c in m.group(1)]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return 0.95 if check == d[6] else 0.0


def routing_number(s: str) -> float:
    return 0.8 if us_rtn.is_valid(digits(s)) else 0.0


def routing_prefix_ok(s: str) -> bool:
    """ABA routing numbers start with a Federal Reserve routing symbol: 00-12, 21-32, 61-72 or 80."""
    p = int(digits(s)[:2])
    return p <= 12 or 21 <= p <= 32 or 61 <= p <= 72 or p == 80


def bic(s: str) -> float:
    """SWIFT/BIC: shape and ISO country code (python-stdnum)."""
    return 0.85 if std_bic.is_valid(s) else 0.0


def mac(s: str) -> float:
    d = _NON_ALNUM.sub("", s)
    return 0.0 if len(set(d.lower())) == 1 else 0.9
