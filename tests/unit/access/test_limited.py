"""`limited`: whether admission needs an estimate and counters at all (the fast path skips both)."""

from __future__ import annotations

import pytest

from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.limits import Estimate, Grant, checks_for, limited

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("grant", "cfg", "expected"),
    [
        (Grant(None, None), AccessConfig(), False),
        (Grant("k1", "t1"), AccessConfig(), False),
        (Grant(None, None), AccessConfig(gateway=Limits(rpm=10)), True),
        (Grant("k1", None), AccessConfig(key_defaults=Limits(concurrent=2)), True),
        (Grant(None, None), AccessConfig(key_defaults=Limits(concurrent=2)), False),  # defaults are for keys
        (Grant("k1", "t1", team_limits=Limits(tpm=100)), AccessConfig(), True),
        (Grant("k1", "t1", key_budget=Budget(daily_usd=1.0)), AccessConfig(), True),
        (Grant("k1", None, team_budget=Budget(monthly_usd=1.0)), AccessConfig(), False),  # no team, no team budget
    ],
)
def test_limited_agrees_with_checks_for(grant: Grant, cfg: AccessConfig, expected: bool) -> None:
    assert limited(grant, cfg, NOW) is expected
    assert bool(checks_for(grant, Estimate(10, 5), cfg, NOW)) is expected
