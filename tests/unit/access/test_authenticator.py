"""KeyAuthenticator: open until a key exists, then 401 for anything but an active key; cache TTL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hybridgate.access.config import Limits
from hybridgate.auth.authenticator import KeyAuthenticator, credential
from hybridgate.auth.keys import Team, new_key
from hybridgate.auth.principal import ANONYMOUS
from hybridgate.errors import AuthenticationError
from hybridgate.store.base import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        (None, None),
        ("", None),
        ("Bearer hg-x", "hg-x"),
        ("bearer  hg-x ", "hg-x"),
        ("hg-x", "hg-x"),
        ("Bearer  ", "Bearer"),
    ],
)
def test_credential(header: str | None, secret: str | None) -> None:
    assert credential(header) == secret


async def test_open_until_the_first_key() -> None:
    store, clock = MemoryStore(), Clock()
    auth = KeyAuthenticator(store, cache_ttl_s=5, clock=clock)
    assert await auth.authenticate(None) is ANONYMOUS
    secret, rec = new_key("n", "t", clock.t, limits=Limits(rpm=3))
    await store.add_key(rec)
    await store.put_team(Team("t", limits=Limits(tpm=7)))
    clock.t += 5
    with pytest.raises(AuthenticationError):
        await auth.authenticate(None)
    p = await auth.authenticate(f"Bearer {secret}")
    assert p.key_id == rec.id and p.team == "t"
    g = auth.grant(p)
    assert g.key_limits.rpm == 3 and g.team_limits.tpm == 7


async def test_refusals() -> None:
    store, clock = MemoryStore(), Clock()
    auth = KeyAuthenticator(store, admin_key="admin-secret-123", cache_ttl_s=5, clock=clock)
    secret, rec = new_key("n", None, clock.t, expires_in_s=60)
    await store.add_key(rec)
    for bad in ("Bearer hg-unknown", "Bearer admin-secret-123", "Bearer " + secret[:-1]):
        with pytest.raises(AuthenticationError):
            await auth.authenticate(bad)
    assert (await auth.authenticate(secret)).key_id == rec.id
    clock.t += 61
    with pytest.raises(AuthenticationError) as e:
        await auth.authenticate(secret)
    assert e.value.code == "key_expired" and e.value.status == 401


async def test_revocation_reaches_other_replicas_within_the_ttl() -> None:
    store, clock = MemoryStore(), Clock()
    auth = KeyAuthenticator(store, cache_ttl_s=5, clock=clock)
    secret, rec = new_key("n", None, clock.t)
    await store.add_key(rec)
    await auth.authenticate(secret)
    await store.put_key(replace(rec, revoked_at=clock.t))  # another replica revoked it
    clock.t += 1
    await auth.authenticate(secret)  # still cached
    clock.t += 5
    with pytest.raises(AuthenticationError) as e:
        await auth.authenticate(secret)
    assert e.value.code == "key_revoked"


async def test_a_key_refused_before_it_existed_is_accepted_once_created() -> None:
    store, clock = MemoryStore(), Clock()
    first_secret, first = new_key("first", None, clock.t)
    await store.add_key(first)  # the gateway is no longer open
    auth = KeyAuthenticator(store, cache_ttl_s=5, clock=clock)
    secret, rec = new_key("n", None, clock.t)
    for _ in range(2):  # the second time comes from the cached lookup
        with pytest.raises(AuthenticationError):
            await auth.authenticate(secret)
    await store.add_key(rec)  # created on another replica
    clock.t += 5
    assert (await auth.authenticate(secret)).key_id == rec.id
    assert (await auth.authenticate(first_secret)).key_id == first.id


async def test_a_cached_key_stops_at_its_expiry_and_at_a_local_revocation() -> None:
    store, clock = MemoryStore(), Clock()
    auth = KeyAuthenticator(store, cache_ttl_s=5, clock=clock)
    secret, rec = new_key("n", None, clock.t, expires_in_s=3)
    await store.add_key(rec)
    for header in (secret, f"Bearer {secret}", secret):  # each form is served from the cache the second time
        assert (await auth.authenticate(header)).key_id == rec.id
    clock.t += 2.999
    assert (await auth.authenticate(secret)).key_id == rec.id
    clock.t += 0.001  # expired, though the lookup is still fresh
    with pytest.raises(AuthenticationError) as e:
        await auth.authenticate(secret)
    assert e.value.code == "key_expired"
    other, rec2 = new_key("m", None, clock.t)
    await store.add_key(rec2)
    assert (await auth.authenticate(other)).key_id == rec2.id
    await store.put_key(replace(rec2, revoked_at=clock.t))  # revoked on this replica: at once
    auth.invalidate()
    with pytest.raises(AuthenticationError) as e:
        await auth.authenticate(other)
    assert e.value.code == "key_revoked"
