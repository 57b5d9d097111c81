"""Keys and teams as data: hashing, states, rotation, and how scopes narrow into a Principal."""

from __future__ import annotations

import pytest

from hybridgate.auth.keys import KeyRecord, Scopes, Team, WorkloadHints, hash_secret, new_key, principal_for, rotated
from hybridgate.labels import DataClass, Trust


def test_secret_is_random_and_only_its_hash_is_kept() -> None:
    s1, r1 = new_key("n", "t", 100.0)
    s2, _r2 = new_key("n", "t", 100.0)
    assert s1 != s2 and s1.startswith("hg-") and len(s1) >= 40
    assert r1.key_hash == hash_secret(s1) and s1 not in repr(r1)
    assert r1.hint == s1[:7]


def test_pepper_changes_the_hash() -> None:
    assert hash_secret("hg-x", b"a") != hash_secret("hg-x", b"b")


@pytest.mark.parametrize(
    ("expires_at", "revoked_at", "now", "state"),
    [
        (None, None, 1e9, "active"),
        (200.0, None, 199.0, "active"),
        (200.0, None, 200.0, "expired"),
        (None, 150.0, 160.0, "revoked"),
        (100.0, 50.0, 300.0, "revoked"),
    ],
)
def test_key_state(expires_at: float | None, revoked_at: float | None, now: float, state: str) -> None:
    rec = KeyRecord("k", "h", "n", None, "hg-abcd", expires_at=expires_at, revoked_at=revoked_at)
    assert rec.state(now) == state


def test_expiry_from_duration() -> None:
    _, rec = new_key("n", None, 1000.0, expires_in_s=60.0)
    assert rec.expires_at == 1060.0


def test_rotation_keeps_identity_changes_secret() -> None:
    s, rec = new_key("n", "t", 1.0, scopes=Scopes(models=["gpt-4o"]))
    s2, rec2 = rotated(rec)
    assert s2 != s and rec2.id == rec.id and rec2.scopes == rec.scopes
    assert rec2.key_hash == hash_secret(s2) != rec.key_hash


def _key(scopes: Scopes) -> KeyRecord:
    return KeyRecord("key_1", "h", "svc", "hr", "hg-abcd", scopes=scopes)


@pytest.mark.parametrize(
    ("key_scopes", "team_scopes", "models", "floor"),
    [
        (Scopes(), Scopes(), None, DataClass.PUBLIC),
        (Scopes(models=["a", "b"]), Scopes(), frozenset({"a", "b"}), DataClass.PUBLIC),
        (Scopes(), Scopes(models=["a"]), frozenset({"a"}), DataClass.PUBLIC),
        (Scopes(models=["a", "b"]), Scopes(models=["b", "c"]), frozenset({"b"}), DataClass.PUBLIC),
        (Scopes(class_floor=DataClass.INTERNAL), Scopes(class_floor=DataClass.CONFIDENTIAL), None,
         DataClass.CONFIDENTIAL),
        (Scopes(class_floor=DataClass.RESTRICTED), Scopes(), None, DataClass.RESTRICTED),
    ],
)  # fmt: skip
def test_key_scopes_only_narrow_the_team(
    key_scopes: Scopes, team_scopes: Scopes, models: frozenset[str] | None, floor: DataClass
) -> None:
    p = principal_for(_key(key_scopes), Team("hr", scopes=team_scopes))
    assert p.allowed_models == models
    assert p.class_floor == floor
    assert p.key_id == "key_1" and p.team == "hr"


def test_trust_classes_and_hints() -> None:
    key = Scopes(trust=[Trust.SELF_HOSTED], hints=WorkloadHints(volume="high"))
    team = Scopes(classes=[DataClass.PUBLIC, DataClass.INTERNAL], hints=WorkloadHints(purpose="x", volume="normal"))
    p = principal_for(_key(key), Team("hr", scopes=team))
    assert p.allowed_trust == frozenset({Trust.SELF_HOSTED})
    assert p.allowed_classes == frozenset({DataClass.PUBLIC, DataClass.INTERNAL})
    assert p.default_hints.volume == "high" and p.default_hints.purpose == "x"
