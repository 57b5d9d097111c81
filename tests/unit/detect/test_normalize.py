"""normalize(): what each fold undoes, and that spans map back to the original text."""

from __future__ import annotations

import base64
import binascii
import random
import string

import pytest

from hybridgate.detect.normalize import _HEX, _printable, decode_segment, normalize


@pytest.mark.parametrize(
    ("original", "view_prefix"),
    [
        ("plain ascii text", "plain ascii text"),
        ("Ａｌｉｃｅ １２３", "Alice 123"),  # fullwidth -> NFKC
        ("Amand\u200ba Sco\u200dtt", "Amanda Scott"),  # zero-width
        ("\u202eRichard Miller\u202c", "Richard Miller"),  # bidi override
        ("dоrothy@protоnmаil.com", "dorothy@protonmail.com"),  # Cyrillic о, а
        ("ΑΒΕ-ΚΜ", "ABE-KM"),  # Greek capitals
        ("jane%40example.com", "jane@example.com"),  # percent-encoding
        ("José Núñez", "Jose Nunez"),  # accents folded for the ASCII-minded heuristics
    ],
)
def test_folds(original: str, view_prefix: str) -> None:
    assert normalize(original).text.startswith(view_prefix)


def test_plain_ascii_is_identity_without_a_map() -> None:
    n = normalize("Natalia sold clips to 48 friends")
    assert n.identity and n.text == n.original


@pytest.mark.parametrize(
    ("original", "needle"),
    [
        ("mail: jane%40example.com now", "jane@example.com"),
        ("Contact Amand\u200ba Sco\u200dtt today", "Amanda Scott"),
        ("x dоrothy@protоnmаil.com y", "dorothy@protonmail.com"),
        ("ＳＳＮ １２３-４５-６７８９", "123-45-6789"),
    ],
)
def test_spans_map_back_to_the_original(original: str, needle: str) -> None:
    n = normalize(original)
    i = n.text.index(needle)
    start, end = n.span(i, i + len(needle))
    # The original slice is the obfuscated form of the needle, with nothing either side.
    assert normalize(original[start:end]).text == needle


@pytest.mark.parametrize(
    ("segment", "decoded"),
    [
        ("Sm9obiBKb2huc29u", "John Johnson"),
        ("VGhvbWFzIFNhbmNoZXo=", "Thomas Sanchez"),
        ("am9obi5kb2VAZXhhbXBsZS5jb20", "john.doe@example.com"),  # unpadded
        ("6a6f686e2e646f65406578616d706c652e636f6d", "john.doe@example.com"),  # hex
        ("internationalization", None),  # a word, not an encoding
        ("sk-QIv6Gv5NoYUqN16qjIYnEHl8jTWNVi5s", None),  # random bytes are not text
    ],
)
def test_decode_segment(segment: str, decoded: str | None) -> None:
    assert decode_segment(segment) == decoded


def test_decoded_text_is_appended_and_maps_to_the_encoded_run() -> None:
    original = "id Sm9obiBKb2huc29u (base64)"
    n = normalize(original)
    i = n.text.index("John Johnson")
    start, end = n.span(i, i + 4)
    assert original[start:end] == "Sm9obiBKb2huc29u"
    assert n.text.startswith(original)  # the encoded form stays visible too


def _decode_without_precheck(seg: str) -> str | None:
    """`decode_segment` minus its first-byte shortcut: decode, then let `_printable` judge."""
    body = seg.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded) if ("-" in body or "_" in body) else base64.b64decode(padded)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


def test_first_byte_shortcut_turns_down_only_what_decoding_would() -> None:
    rng = random.Random(3)
    alphabets = ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", string.ascii_letters + "-_"]
    segments = ["".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(12, 40))) for _ in range(20000)]
    words = ["hospitalization", "Levothyroxine", "Electronically", "wxyzwxyzwxyz", "HHHHHHHHHHHH"]
    texts = ["".join(rng.choice("abcdefghij klmnop@.-_+:/()0123ABCÉé") for _ in range(20)) for _ in range(3000)]
    encoded = [base64.b64encode(t.encode()).decode() for t in texts]
    encoded += [base64.urlsafe_b64encode(t.encode()).decode() for t in texts]
    readable = 0
    for seg in segments + words + encoded:
        if not _HEX.fullmatch(seg):
            expected = _decode_without_precheck(seg)
            assert decode_segment(seg) == expected, seg
            readable += expected is not None
    assert readable > 3000
