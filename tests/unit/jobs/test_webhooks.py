"""Webhook signing and the host allow-list."""

from __future__ import annotations

import pytest

from hybridgate.jobs.webhooks import backoff_s, host_allowed, sign, verify


def test_signature_round_trip_and_tamper() -> None:
    sig = sign(b"s3cret", 1700000000, b'{"a":1}')
    assert sig.startswith("sha256=")
    assert verify(b"s3cret", 1700000000, b'{"a":1}', sig)
    assert not verify(b"s3cret", 1700000000, b'{"a":2}', sig)
    assert not verify(b"s3cret", 1700000001, b'{"a":1}', sig)
    assert not verify(b"other", 1700000000, b'{"a":1}', sig)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/x", True),
        ("http://127.0.0.1:9000/hook", True),
        ("https://a.b.internal.example.org/x", True),
        ("https://internal.example.org/x", False),  # `*.` means subdomains only
        ("https://evil.com/x", False),
        ("https://hooks.example.com.evil.com/x", False),
        ("https://hooks.example.com@evil.com/x", False),
        ("ftp://hooks.example.com/x", False),
        ("not a url", False),
    ],
)
def test_host_allowed(url: str, allowed: bool) -> None:
    assert host_allowed(url, ["hooks.example.com", "127.0.0.1", "*.internal.example.org"]) is allowed


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff_s(n, 2.0, 100.0) for n in range(1, 6)]
    assert waits == sorted(waits) and waits[0] == 2.0 and waits[-1] == 100.0
