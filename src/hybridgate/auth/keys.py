"""Virtual keys and teams as plain data, and how they become a Principal.

A key is `hg-` + 43 url-safe characters (256 random bits). Only an HMAC-SHA256 of it is stored: with that
much entropy a fast hash cannot be brute-forced, and the optional pepper ($HYBRIDGATE_KEY_PEPPER) means a
stolen database alone does not even allow offline checks. The secret is shown once and never recoverable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import Field

from hybridgate.access.config import Budget, Limits, StrictModel
from hybridgate.auth.principal import Principal
from hybridgate.detect.signals import Hints
from hybridgate.labels import DataClass, Trust, highest

KEY_PREFIX = "hg-"
PEPPER_ENV = "HYBRIDGATE_KEY_PEPPER"
KeyState = Literal["active", "revoked", "expired"]


class WorkloadHints(StrictModel):
    data_class: DataClass | None = None
    latency_budget: Literal["interactive", "relaxed"] | None = None
    volume: Literal["normal", "high"] | None = None
    purpose: str | None = Field(None, max_length=200)


class Scopes(StrictModel):
    """None means "no restriction" for the allow-lists."""

    models: list[str] | None = None
    tiers: list[str] | None = None
    trust: list[Trust] | None = None
    classes: list[DataClass] | None = None
    class_floor: DataClass | None = None
    hints: WorkloadHints = Field(default_factory=WorkloadHints)


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...] = ()
    scopes: Scopes = field(default_factory=Scopes)  # defaults for every key of the team; keys only narrow
    limits: Limits = field(default_factory=Limits)
    budget: Budget = field(default_factory=Budget)
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    key_hash: str
    name: str
    team: str | None
    hint: str  # the first characters, to recognise a key in listings
    scopes: Scopes = field(default_factory=Scopes)
    limits: Limits = field(default_factory=Limits)
    budget: Budget = field(default_factory=Budget)
    created_at: float = 0.0
    expires_at: float | None = None
    revoked_at: float | None = None

    def state(self, now: float) -> KeyState:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def pepper() -> bytes:
    return os.environ.get(PEPPER_ENV, "hybridgate-key-v1").encode()


def hash_secret(secret: str, key: bytes | None = None) -> str:
    # hmac.digest: the one-shot C path, several times faster than hmac.new(...).hexdigest(); same value
    return hmac.digest(key if key is not None else pepper(), secret.encode(), hashlib.sha256).hex()


def new_key(
    name: str,
    team: str | None,
    now: float,
    *,
    scopes: Scopes | None = None,
    limits: Limits | None = None,
    budget: Budget | None = None,
    expires_in_s: float | None = None,
) -> tuple[str, KeyRecord]:
    """(secret, record). The caller shows the secret once and stores only the record."""
    secret = new_secret()
    rec = KeyRecord(
        id=new_key_id(),
        key_hash=hash_secret(secret),
        name=name,
        team=team,
        hint=secret[:7],
        scopes=scopes or Scopes(),
        limits=limits or Limits(),
        budget=budget or Budget(),
        created_at=now,
        expires_at=now + expires_in_s if expires_in_s else None,
    )
    return secret, rec


def rotated(rec: KeyRecord) -> tuple[str, KeyRecord]:
    """Same id, scopes and limits; a new secret. The old secret stops working at once."""
    secret = new_secret()
    return secret, replace(rec, key_hash=hash_secret(secret), hint=secret[:7])


def _narrow(a: list[str] | None, b: list[str] | None) -> frozenset[str] | None:
    """Both set: the intersection (a key can never escape its team's restriction)."""
    if a is None and b is None:
        return None
    if a is None or b is None:
        return frozenset(a if a is not None else b or ())
    return frozenset(a) & frozenset(b)


def principal_for(key: KeyRecord, team: Team | None) -> Principal:
    ks, ts = key.scopes, team.scopes if team else Scopes()
    floors = [f for f in (ks.class_floor, ts.class_floor) if f is not None]
    trust = _narrow(
        [t.value for t in ks.trust] if ks.trust else None, [t.value for t in ts.trust] if ts.trust else None
    )
    classes = _narrow(
        [c.value for c in ks.classes] if ks.classes is not None else None,
        [c.value for c in ts.classes] if ts.classes is not None else None,
    )
    kh, th = ks.hints, ts.hints
    return Principal(
        key_id=key.id,
        name=key.name,
        team=key.team,
        allowed_models=_narrow(ks.models, ts.models),
        allowed_tiers=_narrow(ks.tiers, ts.tiers),
        allowed_trust=frozenset(Trust(t) for t in trust) if trust is not None else None,
        allowed_classes=frozenset(DataClass(c) for c in classes) if classes is not None else None,
        class_floor=highest(*floors),
        default_hints=Hints(
            kh.data_class or th.data_class,
            kh.latency_budget or th.latency_budget,
            kh.volume or th.volume,
            kh.purpose or th.purpose,
        ),
    )
