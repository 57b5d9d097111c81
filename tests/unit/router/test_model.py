"""The anchored within-group model: what it may learn (inside a task) and what it may not (which task)."""

from __future__ import annotations

import numpy as np
import pytest

from hybridgate.router.data import Item
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import fit_anchored, fit_logistic
from hybridgate.router.train import TrainConfig, fit_rows, groups_of


def _synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns: 0 anchor (length), 1 a task-identity cue, 2 a within-task cue, 3 noise.

    The task cue is constant inside each task and tracks the task's base rate perfectly; the
    within-task cue moves the target inside every task.
    """
    rng = np.random.default_rng(seed)
    n_tasks, per = 8, 200
    task = np.repeat(np.arange(n_tasks), per)
    base = np.linspace(0.3, 0.7, n_tasks)[task]
    within = rng.normal(size=len(task))
    length = rng.normal(size=len(task))
    y = np.clip(base + 0.1 * within + 0.05 * length + rng.normal(scale=0.05, size=len(task)), 0, 1)
    x = np.c_[length, base * 10, within, rng.normal(size=len(task))]
    return x, y, task.astype(str)


def test_the_residual_ignores_task_identity_and_keeps_the_within_task_cue() -> None:
    x, y, groups = _synthetic()
    m = fit_anchored(x, y, groups, anchor=0, l2=1.0)
    assert abs(m.weights[1]) < 1e-9  # constant inside every task: nothing left after demeaning
    assert m.weights[2] == pytest.approx(0.4, rel=0.1)  # 0.1 per sd on the probability scale, x4
    assert abs(m.weights[3]) < 0.05


def test_a_plain_logistic_model_does_learn_task_identity() -> None:
    # The contrast that makes the test above meaningful.
    x, y, _ = _synthetic()
    assert fit_logistic(x, y, l2=1.0).weights[1] > 0.5


def test_the_anchor_keeps_its_own_slope_and_there_is_no_intercept() -> None:
    x, y, groups = _synthetic()
    m = fit_anchored(x, y, groups, anchor=0, l2=1e12)  # residual shrunk to nothing
    alone = fit_logistic(x[:, [0]], y, l2=1.0)
    assert m.weights[0] == pytest.approx(alone.weights[0], rel=1e-6)
    assert np.abs(m.weights[1:]).max() < 1e-6
    assert m.bias == 0.0
    assert m.predict(m.mean[None, :])[0] == pytest.approx(0.5)


@pytest.mark.parametrize(("weight", "expected_ratio"), [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)])
def test_residual_weight_scales_only_the_residual(weight: float, expected_ratio: float) -> None:
    x, y, groups = _synthetic()
    one = fit_anchored(x, y, groups, anchor=0, l2=1.0, weight=1.0)
    m = fit_anchored(x, y, groups, anchor=0, l2=1.0, weight=weight)
    assert m.weights[2] == pytest.approx(expected_ratio * one.weights[2])


def test_fit_rows_without_groups_is_the_logistic_model_feedback_retraining_uses() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, len(FEATURE_NAMES)))
    y = (x[:, 3] > 0).astype(float)
    plain = fit_rows(x, y, TrainConfig(l2=10.0))
    np.testing.assert_allclose(plain.weights, fit_logistic(x, y, l2=10.0).weights)
    grouped = fit_rows(x, y, TrainConfig(), np.zeros(300).astype(str))
    assert grouped.bias == 0.0
    assert grouped.weights[3] > 0


def test_groups_are_the_subject_inside_its_benchmark() -> None:
    items = [
        Item("a", "mmlu", "anatomy", "p", 1.0, 0.0),
        Item("b", "gsm8k", "gsm8k", "q", 1.0, 1.0),
    ]
    assert list(groups_of(items)) == ["mmlu/anatomy", "gsm8k/gsm8k"]
