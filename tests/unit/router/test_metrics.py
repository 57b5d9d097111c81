from __future__ import annotations

import math

import numpy as np
import pytest

from hybridgate.router import metrics

QS = [1, 1, 0, 1]
QW = [0, 1, 0, 0]  # gain = [1, 0, 0, 1], total 2


def test_constant_score_is_exactly_random() -> None:
    assert metrics.apgr([0.3] * 4, QS, QW) == 0.5


def test_random_router_cpt_is_the_target_share() -> None:
    assert metrics.cpt([0.0] * 4, QS, QW, 0.5) == pytest.approx(0.5)
    assert metrics.cpt([0.0] * 4, QS, QW, 0.8) == pytest.approx(0.8)


def test_oracle_by_hand() -> None:
    # Oracle order: gains 1, 1, 0, 0 -> PGR at c = 0, .25, .5, .75, 1 is 0, .5, 1, 1, 1.
    gain = np.subtract(QS, QW)
    assert metrics.apgr(gain, QS, QW) == pytest.approx((0.25 + 0.75 + 1 + 1) / 4)
    assert metrics.cpt(gain, QS, QW, 0.5) == pytest.approx(0.25)
    assert metrics.cpt(gain, QS, QW, 0.8) == pytest.approx(0.25 + 0.6 * 0.25)


def test_anti_oracle_is_below_random() -> None:
    gain = np.subtract(QS, QW)
    assert metrics.apgr(-gain, QS, QW) == pytest.approx(0.25)


def test_ties_count_as_random_within_the_group() -> None:
    # Two tie groups each holding one gain: the curve is the straight line.
    assert metrics.apgr([1, 1, 0, 0], QS, QW) == pytest.approx(0.5)
    # Tie group {1, 0} ranked first, then {0, 1}... and a group holding both gains first:
    assert metrics.apgr([1, 0, 0, 1], QS, QW) == pytest.approx(0.75)


def test_pgr_can_exceed_one_when_weak_wins_somewhere() -> None:
    qs, qw = [1, 0], [0, 1]  # gains +1, -1: total 0 -> undefined
    assert math.isnan(metrics.apgr([1, 0], qs, qw))
    qs, qw = [1, 1, 0], [0, 0, 1]  # gains 1, 1, -1: total 1
    _, p = metrics.pgr_curve([3, 2, 1], qs, qw)
    assert p.max() == pytest.approx(2.0)


def test_binned_apgr_matches_exact_on_distinct_scores_of_an_oracle() -> None:
    qs = [1] * 10
    qw = [0] * 5 + [1] * 5
    gain = np.subtract(qs, qw).astype(float) + np.linspace(0, 0.01, 10)[::-1]
    assert metrics.apgr_binned(gain, qs, qw) == pytest.approx(metrics.apgr(gain, qs, qw), abs=0.05)


def test_binned_apgr_collapses_on_constant_scores() -> None:
    assert metrics.apgr_binned([0.5] * 4, QS, QW) == pytest.approx(0.5)


def test_bootstrap_of_a_constant_router_is_degenerate() -> None:
    iv = metrics.bootstrap_apgr([0.0] * 50, [1] * 50, [0] * 25 + [1] * 25, n_boot=50)
    assert (iv.value, iv.low, iv.high) == (0.5, 0.5, 0.5)


def test_paired_bootstrap_detects_a_better_router() -> None:
    rng = np.random.default_rng(1)
    qs = np.ones(400)
    qw = (rng.random(400) < 0.5).astype(float)
    good = (1 - qw) + rng.normal(0, 0.3, 400)
    iv = metrics.paired_bootstrap(good, np.zeros(400), qs, qw, n_boot=200)
    assert iv.low > 0
    same = metrics.paired_bootstrap(good, good, qs, qw, n_boot=50)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
