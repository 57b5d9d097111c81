"""The pure decisions: which checks, how they settle, and the x-ratelimit-* headers."""

from __future__ import annotations

import datetime as dt

import pytest

from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.counters import NANO, Check, Hit
from hybridgate.access.durations import parse_duration
from hybridgate.access.limits import Estimate, Grant, checks_for, duration, ident, rate_headers, settles_for
from hybridgate.errors import BadRequest

NOW = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC).timestamp()


def names(checks: list[Check]) -> list[str]:
    return [c.name for c in checks]


def test_no_limits_no_checks() -> None:
    assert checks_for(Grant("k", "t"), Estimate(10, 5), AccessConfig(), NOW) == []


def test_every_scope_and_kind() -> None:
    cfg = AccessConfig(gateway=Limits(rpm=1000), window_s=2)
    g = Grant("k", "t", Limits(rpm=60, tpm=1000, concurrent=2), Limits(rpm=100), Budget(daily_usd=1.0),
              Budget(monthly_usd=10.0))  # fmt: skip
    checks = checks_for(g, Estimate(50, 7), cfg, NOW)
    assert names(checks) == [
        "key.requests", "key.tokens", "key.concurrent", "team.requests", "gateway.requests", "key.day", "team.month",
    ]  # fmt: skip
    by = {c.name: c for c in checks}
    assert by["key.tokens"].amount == 50 and by["key.tokens"].ttl_s == 2
    assert by["key.day"].limit == NANO and by["key.day"].amount == 7
    assert by["key.day"].base_key == "spent:key:k:day:2026-11-29"
    assert by["team.month"].base_key == "spent:team:t:month:2026-11"


def test_key_defaults_apply_only_to_keys_without_limits() -> None:
    cfg = AccessConfig(key_defaults=Limits(rpm=5))
    assert [c.limit for c in checks_for(Grant("k", None), Estimate(1, 0), cfg, NOW)] == [5]
    assert [c.limit for c in checks_for(Grant("k", None, Limits(rpm=9)), Estimate(1, 0), cfg, NOW)] == [9]
    assert checks_for(Grant(None, None), Estimate(1, 0), cfg, NOW) == []  # anonymous: gateway limits only


def test_team_names_cannot_alias_counters() -> None:
    assert ident("a:req") != "a" and ":" not in ident("x:y:z")


def test_settles() -> None:
    g = Grant("k", None, Limits(rpm=1, tpm=100, concurrent=1), key_budget=Budget(daily_usd=1))
    checks = checks_for(g, Estimate(80, 9), AccessConfig(), NOW)
    out = {s.key: s for s in settles_for(checks, 30, 4, NOW)}
    assert "rl:key:k:req" not in out  # a request stays counted for its window
    assert out["rl:key:k:tok"].action == "adjust" and out["rl:key:k:tok"].amount == 30
    assert out["cc:key:k"].action == "remove"
    bud = out["bud:key:k:day"]
    assert bud.action == "remove" and bud.base_add == 4 and bud.base_ttl_s > 3600  # one hour left + a day


@pytest.mark.parametrize(("s", "text"), [(0.25, "250ms"), (0.0, "0ms"), (1.2, "2s"), (59, "59s"), (61, "1m1s")])
def test_duration_format(s: float, text: str) -> None:
    assert duration(s) == text


def test_sub_second_durations_match_the_formula() -> None:
    import math
    import random

    rng = random.Random(5)
    values = [-1.0, -1e-9, 0.0, 1e-12, 0.0005, 0.001, 0.0011, 0.999, 0.9994, 0.99999, 1 - 1e-12]
    values += [rng.random() for _ in range(5000)]
    for v in values:
        assert duration(v) == f"{max(0, math.ceil(v * 1000))}ms", v


def test_headers_report_the_tightest_scope() -> None:
    checks = [Check("a", 1, 60, 60, name="key.requests"), Check("b", 1, 10, 60, name="team.requests"),
              Check("c", 5, 1000, 60, name="key.tokens")]  # fmt: skip
    hits = [Hit(True, 3, 60, 59.0), Hit(True, 9, 10, 2.0), Hit(True, 5, 1000, 60.0)]
    h = rate_headers(checks, hits)
    assert h["x-ratelimit-limit-requests"] == "10" and h["x-ratelimit-remaining-requests"] == "1"
    assert h["x-ratelimit-reset-requests"] == "2s"
    assert h["x-ratelimit-remaining-tokens"] == "995"
    assert list(h) == [f"x-ratelimit-{w}-{k}" for k in ("requests", "tokens") for w in ("limit", "remaining", "reset")]


def test_headers_on_a_tie_name_the_first_scope_and_never_go_negative() -> None:
    checks = [Check("a", 1, 10, 60, name="key.requests"), Check("b", 1, 20, 60, name="team.requests"),
              Check("c", 1, 5, 900, name="key.concurrent")]  # fmt: skip
    hits = [Hit(False, 12, 10, 1.5), Hit(False, 22, 20, 30.0), Hit(True, 1, 5, 900.0)]
    h = rate_headers(checks, hits)
    assert h == {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "0",
                 "x-ratelimit-reset-requests": "2s"}  # fmt: skip


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("12h", 43200), ("30d", 2592000)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "-1d", "0d", "1y", "1d; DROP"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_duration(text)
