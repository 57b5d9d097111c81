"""Key and team operations shared by the admin API and the CLI: validate, apply, describe.

Names are free text (stored verbatim through bound parameters, so `'; DROP TABLE --` is just a name);
they only have to be non-empty, printable and at most 200 characters.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from pydantic import Field, field_validator

from hybridgate.access.config import Budget, Limits, StrictModel
from hybridgate.access.durations import parse_duration
from hybridgate.auth.keys import KeyRecord, Scopes, Team, new_key, rotated
from hybridgate.errors import BadRequest, NotFound
from hybridgate.store.base import Store


def _name(v: str) -> str:
    if not v.strip() or not v.isprintable():
        raise ValueError("must be non-empty printable text")
    return v


class KeySpec(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    team: str | None = Field(None, min_length=1, max_length=200)
    scopes: Scopes = Field(default_factory=Scopes)
    limits: Limits = Field(default_factory=Limits)
    budget: Budget = Field(default_factory=Budget)
    expires_in: str | None = None  # 30d, 12h, ...

    _check_name = field_validator("name", "team")(lambda v: v if v is None else _name(v))


class TeamSpec(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list, max_length=10_000)
    scopes: Scopes = Field(default_factory=Scopes)
    limits: Limits = Field(default_factory=Limits)
    budget: Budget = Field(default_factory=Budget)

    _check_name = field_validator("name")(_name)


async def create_key(store: Store, spec: KeySpec, now: float | None = None) -> tuple[str, KeyRecord]:
    now = time.time() if now is None else now
    expires = parse_duration(spec.expires_in) if spec.expires_in else None
    if spec.team is not None and await store.team(spec.team) is None:
        await store.put_team(Team(spec.team, created_at=now))  # a key's team exists from its first key
    secret, rec = new_key(
        spec.name, spec.team, now, scopes=spec.scopes, limits=spec.limits, budget=spec.budget, expires_in_s=expires
    )
    await store.add_key(rec)
    return secret, rec


async def _existing(store: Store, key_id: str) -> KeyRecord:
    rec = await store.key(key_id)
    if rec is None:
        raise NotFound(f"no key with id {key_id!r}", code="key_not_found")
    return rec


async def revoke_key(store: Store, key_id: str, now: float | None = None) -> KeyRecord:
    rec = await _existing(store, key_id)
    if rec.revoked_at is None:
        rec = replace(rec, revoked_at=time.time() if now is None else now)
        await store.put_key(rec)
    return rec


async def rotate_key(store: Store, key_id: str) -> tuple[str, KeyRecord]:
    rec = await _existing(store, key_id)
    if rec.revoked_at is not None:
        raise BadRequest(f"key {key_id} is revoked; create a new one", code="key_revoked")
    secret, new = rotated(rec)
    await store.put_key(new)
    return secret, new


async def put_team(store: Store, spec: TeamSpec, now: float | None = None) -> Team:
    old = await store.team(spec.name)
    created = old.created_at if old else (time.time() if now is None else now)
    team = Team(spec.name, tuple(spec.members), spec.scopes, spec.limits, spec.budget, created)
    await store.put_team(team)
    return team


def describe_key(rec: KeyRecord, now: float | None = None) -> dict[str, Any]:
    """What listings show: never the hash, never the secret."""
    return {
        "id": rec.id,
        "name": rec.name,
        "team": rec.team,
        "hint": rec.hint + "...",
        "state": rec.state(time.time() if now is None else now),
        "created_at": rec.created_at,
        "expires_at": rec.expires_at,
        "revoked_at": rec.revoked_at,
        "scopes": rec.scopes.model_dump(mode="json", exclude_none=True),
        "limits": rec.limits.model_dump(mode="json", exclude_none=True),
        "budget": rec.budget.model_dump(mode="json", exclude_none=True),
    }


def describe_team(t: Team) -> dict[str, Any]:
    return {
        "name": t.name,
        "members": list(t.members),
        "scopes": t.scopes.model_dump(mode="json", exclude_none=True),
        "limits": t.limits.model_dump(mode="json", exclude_none=True),
        "budget": t.budget.model_dump(mode="json", exclude_none=True),
        "created_at": t.created_at,
    }
