"""The anchored within-group model: what it may learn (inside a task) and what it may not (which task)."""

from __future__ import annotations

import numpy as np
import pytest

from hybridgate.router.data import Item
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import fit_anchored, fit_logistic, fit_topic_prior
from hybridgate.router.train import TrainConfig, config_of, fit_rows, groups_of, select_prior


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


def _topics(seed: int = 0, n_tasks: int = 9, per: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of [hand features..., 2-d embedding]: each task sits at an angle, its gain rises with it."""
    rng = np.random.default_rng(seed)
    task = np.repeat(np.arange(n_tasks), per)
    angle = np.linspace(0.0, np.pi / 2, n_tasks)[task] + rng.normal(scale=0.02, size=len(task))
    emb = np.c_[np.cos(angle), np.sin(angle)]
    hand = rng.normal(size=(len(task), len(FEATURE_NAMES)))
    y = np.clip(0.3 + 0.4 * angle / (np.pi / 2) + rng.normal(scale=0.05, size=len(task)), 0, 1)
    return np.c_[hand, emb], y, task.astype(str)


def test_topic_prior_gives_an_unseen_task_the_gain_of_the_tasks_it_resembles() -> None:
    x, y, groups = _topics()
    seen = groups != "4"  # the middle task is held out of the fit
    prior = fit_topic_prior(x[seen], y[seen], groups[seen], start=len(FEATURE_NAMES), tau=0.05, weight=1.0)
    assert prior.centroids.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(prior.centroids, axis=1), 1.0)
    by_task = {t: float(prior.logits(x[groups == t]).mean()) for t in ("0", "4", "8")}
    assert by_task["0"] < by_task["4"] < by_task["8"]


def test_topic_prior_shrinks_small_tasks_and_scales_with_its_weight() -> None:
    x, y, groups = _topics()
    loose = fit_topic_prior(x, y, groups, start=len(FEATURE_NAMES), tau=0.05, weight=1.0, shrink=0.0)
    tight = fit_topic_prior(x, y, groups, start=len(FEATURE_NAMES), tau=0.05, weight=1.0, shrink=60.0)
    np.testing.assert_allclose(tight.gains, loose.gains / 2)  # 60 rows per task + 60 pseudo-rows at the mean
    double = fit_topic_prior(x, y, groups, start=len(FEATURE_NAMES), tau=0.05, weight=2.0, shrink=60.0)
    np.testing.assert_allclose(double.logits(x), 2 * tight.logits(x))


def test_select_prior_uses_a_prior_that_predicts_held_out_tasks_and_none_that_does_not() -> None:
    x, y, groups = _topics()
    cfg = TrainConfig(prior_taus=(0.05,), prior_weights=(0.0, 1.0))
    assert select_prior(x, y, groups, cfg)[1] == 1.0
    shuffled = np.random.default_rng(3).permutation(y)  # task gains unrelated to the embedding
    _, weight, inner = select_prior(x, shuffled, groups, cfg)
    assert weight == 0.0 and set(inner) == {"tau=0.05,weight=0", "tau=0.05,weight=1"}
    assert select_prior(x, y, np.where(groups == "0", "a", "b"), cfg) == (0.0, 0.0, {})  # too few tasks


def test_fit_rows_with_groups_carries_the_selected_prior_into_its_scores() -> None:
    x, y, groups = _topics()
    cfg = TrainConfig(prior_taus=(0.05,), prior_weights=(0.0, 1.0))
    m = fit_rows(x, y, cfg, groups)
    assert m.prior is not None and m.prior.weight == 1.0
    bare = fit_anchored(x, y, groups, anchor=FEATURE_NAMES.index(cfg.anchor), l2=cfg.residual_l2)
    np.testing.assert_allclose(m.logits(x), bare.logits(x) + m.prior.logits(x))


def test_eval_refits_the_model_an_artifact_records_and_older_artifacts_without_a_prior() -> None:
    meta = {"config": {"l2": 5.0, "residual_l2": 3.0, "prior_taus": [0.1], "prior_weights": [0.0, 1.0], "dim": 64}}
    assert config_of(meta, seed=2) == TrainConfig(
        l2=5.0, residual_l2=3.0, prior_taus=(0.1,), prior_weights=(0.0, 1.0), seed=2
    )
    assert config_of({"config": {"l2": 100.0, "residual_l2": 1e4}}).prior_weights == (0.0,)
