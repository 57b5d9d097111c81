"""TCO arithmetic against a hand-computed case, and the break-even's properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.sensitivity import TornadoRow, tornado
from hybridgate.economics.tco import (
    ApiPrice,
    Fleet,
    Scenario,
    Workload,
    api_monthly,
    break_even,
    evaluate,
    hybrid_monthly,
    self_hosted_monthly,
)

# API: 500 in x $1 + 250 out x $2 per million = $0.001 per request.
# Replica: 2 GPUs x $1/h x 730 h = $1,460/month; 1,000 tok/s x 50% x 2,628,000 s / 750 tokens
# = 1,752,000 requests/month. Ops: 10 h x $50 = $500.
HAND = Scenario(Workload(1_000_000, 500, 250), ApiPrice(1.0, 2.0), Fleet(1.0, 2, 1000, 0.5, 10, 50))


def test_hand_computed_monthly_costs() -> None:
    r = evaluate(HAND)
    assert r.api == pytest.approx(1000.0)
    assert HAND.fleet.capacity(HAND.workload) == pytest.approx(1_752_000)
    assert (r.self_hosted.replicas, r.self_hosted.gpu, r.self_hosted.ops) == (1, pytest.approx(1460), 500)
    assert r.self_hosted.total == pytest.approx(1960)
    assert r.hybrid.total == pytest.approx(1000) and r.hybrid.replicas == 0  # below break-even: all API
    assert r.cheapest == "api"


def test_hand_computed_break_even() -> None:
    be = break_even(HAND)
    # one replica saves 1,752 - 1,460 = $292/month against the API, so ops ($500) needs n = 2 replicas:
    # (2 x 1,460 + 500) / 0.001
    assert be.first == pytest.approx(3_420_000)
    # from the 8th replica on, every step stays below the API: (7 x 1,460 + 500) / 0.001
    assert be.sustained == pytest.approx(10_720_000)
    assert be.fluid == pytest.approx(500 / (0.001 - 1460 / 1_752_000))


def test_hand_computed_hybrid_split() -> None:
    # 4M requests: 2 replicas carry 3,504,000, the API the other 496,000
    h = hybrid_monthly(HAND.at_volume(4_000_000))
    assert h.replicas == 2 and h.total == pytest.approx(2 * 1460 + 500 + 496)


def test_required_self_hosted_share_forces_replicas() -> None:
    s = Scenario(HAND.workload, HAND.api, HAND.fleet, self_hosted_share=0.5)
    h = hybrid_monthly(s)
    assert h.replicas == 1 and h.total == pytest.approx(1960)


def test_min_replicas_raise_the_floor() -> None:
    s = Scenario(HAND.workload, HAND.api, Fleet(1.0, 2, 1000, 0.5, 10, 50, min_replicas=2))
    assert self_hosted_monthly(s).replicas == 2
    assert break_even(s).first == pytest.approx((2 * 1460 + 500) / 0.001)


def test_no_break_even_when_the_api_is_cheaper_per_token() -> None:
    cheap_api = Scenario(HAND.workload, ApiPrice(0.01, 0.01), HAND.fleet)
    assert break_even(cheap_api).first is None and break_even(cheap_api).sustained is None


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("requests_per_month", 0, "requests_per_month"),
        ("requests_per_month", -5, "requests_per_month"),
        ("tokens_in", -1, "tokens_in"),
        ("cached_in", 600, "cached_in"),
    ],
)
def test_bad_workload_names_the_input(field: str, value: float, param: str) -> None:
    from dataclasses import replace

    with pytest.raises(EconomicsError) as e:
        evaluate(Scenario(replace(HAND.workload, **{field: value}), HAND.api, HAND.fleet))
    assert e.value.param == param


def test_tornado_rows_and_order() -> None:
    rows = tornado(HAND.at_volume(4_000_000), band=0.25)
    assert {r.input for r in rows} >= {"API price", "GPU price per hour", "throughput", "ops hours x rate"}
    swings = [r.savings_swing for r in rows]
    assert swings == sorted(swings, reverse=True)
    ops = next(r for r in rows if r.input == "ops hours x rate")
    # ops $375: ceil(375 / 292) = 2 replicas -> (2 x 1,460 + 375) / 0.001 = 3,295,000
    # ops $625: ceil(625 / 292) = 3 replicas -> (3 x 1,460 + 625) / 0.001 = 5,005,000
    assert ops.low.break_even.first == pytest.approx(3_295_000)
    assert ops.high.break_even.first == pytest.approx(5_005_000)
    assert ops.break_even_swing == pytest.approx(1_710_000)
    assert TornadoRow.savings(ops.low) >= TornadoRow.savings(ops.high)


scenarios = st.builds(
    Scenario,
    workload=st.builds(Workload, st.floats(1e3, 1e8), st.floats(1, 4000), st.floats(1, 2000)),
    api=st.builds(ApiPrice, st.floats(0.01, 20), st.floats(0.01, 80)),
    fleet=st.builds(
        Fleet,
        st.floats(0.2, 10),
        st.integers(1, 8),
        st.floats(100, 20000),
        st.floats(0.1, 1.0),
        st.floats(0, 200),
        st.floats(0, 300),
        st.integers(1, 3),
    ),
)


@settings(max_examples=200, deadline=None)
@given(scenarios, st.floats(1.0, 50.0))
def test_more_volume_never_makes_self_hosting_relatively_worse(s: Scenario, factor: float) -> None:
    """What the best self-hosted/hybrid plan saves against all-API never shrinks as volume grows."""
    lo, hi = s, s.at_volume(s.workload.requests_per_month * factor)
    saved_lo = api_monthly(lo) - hybrid_monthly(lo).total
    saved_hi = api_monthly(hi) - hybrid_monthly(hi).total
    assert saved_hi >= saved_lo - 1e-6 * max(1.0, api_monthly(hi))
    # and without whole-replica steps, the self-hosted cost per request never rises with volume
    per_req = [(self_hosted_monthly(v).total / v.workload.requests_per_month) for v in (lo, hi)]
    fluid = [
        (v.fleet.ops_monthly + v.workload.requests_per_month / v.fleet.capacity(v.workload) * v.fleet.replica_monthly)
        / v.workload.requests_per_month
        for v in (lo, hi)
    ]
    assert fluid[1] <= fluid[0] * (1 + 1e-9)
    assert min(per_req) > 0


@settings(max_examples=200, deadline=None)
@given(scenarios, st.floats(0.0, 1.0))
def test_break_even_is_the_first_crossing(s: Scenario, u: float) -> None:
    be = break_even(s)
    assume(be.first is not None and be.sustained is not None)
    assert be.first is not None and be.sustained is not None
    tol = 1e-7 * max(1.0, api_monthly(s.at_volume(be.first)))
    at = s.at_volume(be.first)
    assert self_hosted_monthly(at).total <= api_monthly(at) + tol
    below = s.at_volume(be.first * u * (1 - 1e-6))  # anywhere before the crossing
    assume(below.workload.requests_per_month > 0)
    assert self_hosted_monthly(below).total >= api_monthly(below) - tol
    past = s.at_volume(be.sustained * (1 + 10 * u) + 1)  # anywhere after the sustained point
    assert self_hosted_monthly(past).total <= api_monthly(past) + tol
    assert be.sustained >= be.first


@settings(max_examples=100, deadline=None)
@given(scenarios)
def test_break_even_agrees_with_a_grid_scan(s: Scenario) -> None:
    be = break_even(s)
    assume(be.first is not None and be.first < 5e8)
    assert be.first is not None
    grid = [be.first * k / 200 for k in range(1, 200)]
    assert all(self_hosted_monthly(s.at_volume(v)).total > api_monthly(s.at_volume(v)) * (1 - 1e-9) for v in grid)
    assert not math.isnan(be.first)
