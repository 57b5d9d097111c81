"""Bearer key (or x-api-key) -> Principal, with a short-lived cache so the hot path rarely reads the store.

While no key has ever been created the gateway stays open (everyone is anonymous; cli.serve allows that
only on loopback). Once one exists, every request needs a valid one. A revoked or expired key fails at
the latest `cache_ttl_s` after the change on other replicas, at once on the replica that made it.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hybridgate.access.config import Budget, Limits
from hybridgate.access.limits import Grant, default_grant
from hybridgate.auth.keys import KeyRecord, Team, hash_secret, pepper, principal_for
from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.errors import AuthenticationError
from hybridgate.store.base import Store

MAX_CACHED = 50_000


def presented(headers: Mapping[str, str]) -> str | None:
    """The header value that carries the client's key: `Authorization` (OpenAI SDK) or `x-api-key` (Anthropic SDK)."""
    return headers.get("authorization") or headers.get("x-api-key")


def credential(authorization: str | None) -> str | None:
    """The secret from `Bearer <key>` or a bare x-api-key value."""
    if not authorization:
        return None
    value = authorization.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


@dataclass(frozen=True, slots=True)
class _Entry:
    fetched: float
    key: KeyRecord | None
    team: Team | None
    principal: Principal | None


class KeyAuthenticator:
    def __init__(
        self,
        store: Store,
        *,
        admin_key: str | None = None,
        cache_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.admin_key = admin_key
        self.ttl = cache_ttl_s
        self.clock = clock
        self.pepper = pepper()
        self._cache: dict[str, _Entry] = {}
        # Header value -> the key's hash, for keys seen recently. The HMAC is deterministic, so the memo never
        # goes stale; it saves the hash on every request (OpenSSL's one-shot HMAC also releases the GIL, and
        # getting it back behind the usage writer's thread cost more than the hash itself).
        self._hashes: dict[str, str] = {}
        self._grants: dict[str, Grant] = {}
        # Header value -> (fetched, expires_at or inf, principal) for active keys: a repeat within the cache
        # TTL is one lookup and two comparisons. A dict lookup compares the stored string only after its
        # full hash matched (SipHash with a per-process seed), so timing says nothing about other keys.
        self._valid: dict[str, tuple[float, float, Principal]] = {}
        self._has_keys = False
        self._checked_at = float("-inf")

    async def keys_exist(self) -> bool:
        now = self.clock()
        if not self._has_keys and now - self._checked_at >= self.ttl:
            self._has_keys = await self.store.count_keys() > 0  # once true, never rechecked
            self._checked_at = now
        return self._has_keys

    async def authenticate(self, authorization: str | None) -> Principal:
        if authorization:
            hit = self._valid.get(authorization)
            if hit is not None:
                now = self.clock()
                if now - hit[0] < self.ttl and now < hit[1]:  # the checks below, for a cached active key
                    return hit[2]
        if not self._has_keys and (self.clock() - self._checked_at < self.ttl or not await self.keys_exist()):
            return ANONYMOUS
        key_hash = self._hashes.get(authorization) if authorization else None
        if key_hash is None:
            key_hash = self._hash(authorization)
        now = self.clock()
        entry = self._cache.get(key_hash)
        if entry is None or now - entry.fetched >= self.ttl:
            entry = await self._lookup(key_hash)
            now = self.clock()
        if entry.key is None or entry.principal is None:
            raise AuthenticationError("invalid API key")
        state = entry.key.state(now)
        if state != "active":
            raise AuthenticationError(f"API key {entry.key.hint}... is {state}", code=f"key_{state}")
        if authorization:
            if len(self._valid) >= MAX_CACHED:
                self._valid.clear()  # a flood of keys: start over rather than grow without bound
            expires = entry.key.expires_at
            self._valid[authorization] = (entry.fetched, math.inf if expires is None else expires, entry.principal)
        return entry.principal

    def _hash(self, authorization: str | None) -> str:
        """The stored hash of the presented key, memoised by the header value as sent (so that a repeat
        skips parsing it too); the admin key never gets into the memo, it is refused first."""
        secret = credential(authorization)
        if authorization is None or secret is None:
            raise AuthenticationError(
                "missing API key: send `Authorization: Bearer <key>` (create one with `hybridgate keys create`)"
            )
        if self.admin_key and hmac.compare_digest(secret.encode(), self.admin_key.encode()):
            raise AuthenticationError("the admin key cannot be used for inference; use a virtual key")
        if len(self._hashes) >= MAX_CACHED:
            self._hashes.clear()  # a flood of random keys: start over rather than grow without bound
        key_hash = self._hashes[authorization] = hash_secret(secret, self.pepper)
        return key_hash

    async def _lookup(self, key_hash: str) -> _Entry:
        now = self.clock()
        entry = self._cache.get(key_hash)
        if entry is not None and now - entry.fetched < self.ttl:
            return entry
        key = await self.store.key_by_hash(key_hash)
        team = await self.store.team(key.team) if key is not None and key.team is not None else None
        principal = principal_for(key, team) if key is not None else None
        entry = _Entry(now, key, team, principal)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()  # a flood of random keys: start over rather than grow without bound
        self._cache[key_hash] = entry
        if key is not None:
            self._grants[key.id] = Grant(
                key.id,
                key.team,
                key.limits,
                team.limits if team else Limits(),
                key.budget,
                team.budget if team else Budget(),
            )
        return entry

    def grant(self, principal: Principal) -> Grant:
        got = self._grants.get(principal.key_id) if principal.key_id is not None else None
        return got if got is not None else default_grant(principal.key_id, principal.team)

    def invalidate(self) -> None:
        """After an admin change on this replica: forget every cached lookup."""
        self._cache.clear()
        self._valid.clear()
        self._checked_at = float("-inf")
