"""Scoring models in numpy: L2 logistic regression (Newton), the anchored within-group model and a
topic prior over task centroids.

Small, deterministic and dependency-free; at runtime a score is one dot product, optionally a
softmax over a few dozen centroids, and a sigmoid. Labels may be fractional (a weak model's
expected accuracy over samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TopicPrior:
    """A soft "which task is this like?" prior: the training tasks' gains, weighted by similarity.

    Each training task (MMLU subject, benchmark) keeps the unit-length mean of its prompts' text
    embeddings and its mean target minus the overall mean, shrunk towards 0 by task size. A request
    gets softmax(cos(embedding, centroid) / tau) @ gains: a new prompt inherits the gains of the
    tasks it reads like, so an unseen task that resembles a hard one inherits some of its need for
    the strong model. It adds 4 * weight * that to the logit (x4: probability slope to logit).
    """

    centroids: FloatArray  # [K, d], unit rows
    gains: FloatArray  # [K], task mean target minus overall, shrunk
    tau: float
    weight: float
    start: int  # column where the text embedding begins in a feature row

    def logits(self, x: npt.NDArray[np.floating]) -> FloatArray:
        sims = np.asarray(x, dtype=np.float64)[:, self.start :] @ self.centroids.T / self.tau
        sims -= sims.max(axis=1, keepdims=True)
        p = np.exp(sims)
        p /= p.sum(axis=1, keepdims=True)
        out: FloatArray = 4.0 * self.weight * (p @ self.gains)
        return out


@dataclass(frozen=True, slots=True)
class Linear:
    mean: FloatArray
    std: FloatArray
    weights: FloatArray
    bias: float
    prior: TopicPrior | None = None

    def logits(self, x: npt.NDArray[np.floating]) -> FloatArray:
        z: FloatArray = ((x - self.mean) / self.std) @ self.weights + self.bias
        if self.prior is not None:
            z = z + self.prior.logits(x)
        return z

    def predict(self, x: npt.NDArray[np.floating]) -> FloatArray:
        return sigmoid(self.logits(x))


def sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


def fit_logistic(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    *,
    l2: float | npt.NDArray[np.float64] = 1.0,
    iters: int = 25,
) -> Linear:
    """Minimise log-loss + sum(l2 * w^2) / 2 on standardised features (bias unpenalised).

    `l2` may be one number or one per feature: a feature trusted to transfer can be penalised less.
    """
    x64 = np.asarray(x, dtype=np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std[std < 1e-9] = 1.0
    z = np.c_[(x64 - mean) / std, np.ones(len(x64))]
    t = np.asarray(y, dtype=np.float64)
    reg = np.zeros(z.shape[1])
    reg[:-1] = l2
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = sigmoid(z @ w)
        grad = z.T @ (p - t) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Linear(mean, std, w[:-1], float(w[-1]))


def _within(values: FloatArray, groups: npt.NDArray[np.str_]) -> FloatArray:
    """Each group's mean subtracted from its rows: only the variation inside a group is left."""
    out = values.copy()
    for g in np.unique(groups):
        rows = groups == g
        out[rows] -= values[rows].mean(axis=0)
    return out


def fit_anchored(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    groups: npt.ArrayLike,
    *,
    anchor: int,
    l2: float,
    weight: float = 1.0,
) -> Linear:
    """A monotone anchor feature plus a residual learned only *inside* groups (tasks, subjects).

    logit = a * z(x[anchor]) + weight * 4 * r(z(x)), no intercept. `a` is the one-feature logistic
    slope of the anchor (prompt length: the one cue that holds across subjects and benchmarks). `r`
    is ridge regression of the target on the features after removing every group's mean from both,
    so it cannot learn which task a prompt belongs to, only what makes one prompt of a task need
    the strong model more than another; x4 puts a probability slope on the logit scale.

    The intercept is left at 0 (score 0.5 for the average training request) on purpose: it carries
    no ranking information for one model, and a base rate fitted per training set shifts whole
    held-out folds against each other when their scores are pooled. Thresholds come from quantiles.
    """
    x64 = np.asarray(x, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    g = np.asarray(groups).astype(str)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std[std < 1e-9] = 1.0
    z = (x64 - mean) / std
    zw = _within(z, g)
    tw = _within(t[:, None], g)[:, 0]
    residual = np.asarray(np.linalg.solve(zw.T @ zw + l2 * np.eye(z.shape[1]), zw.T @ tw), dtype=np.float64)
    weights = 4.0 * weight * residual
    # Same mean/std as `z[:, anchor]`, so the one-feature slope adds directly in standardised units.
    weights[anchor] += fit_logistic(x64[:, [anchor]], t, l2=1.0).weights[0]
    return Linear(mean, std, weights, 0.0)


def fit_topic_prior(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    groups: npt.ArrayLike,
    *,
    start: int,
    tau: float,
    weight: float,
    shrink: float = 50.0,
) -> TopicPrior:
    """Centroids and shrunk gains of each group, from the embedding columns `x[:, start:]`.

    `shrink` acts like that many extra rows at the overall mean: a 100-prompt subject keeps two
    thirds of its deviation, a 1,300-prompt benchmark almost all of it.
    """
    emb = np.asarray(x, dtype=np.float64)[:, start:]
    t = np.asarray(y, dtype=np.float64)
    names, inv = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    counts = np.bincount(inv, minlength=len(names)).astype(np.float64)
    centroids = np.zeros((len(names), emb.shape[1]))
    np.add.at(centroids, inv, emb)
    centroids /= counts[:, None]
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms > 0, norms, 1.0)
    overall = float(t.mean())
    means = np.bincount(inv, weights=t, minlength=len(names)) / counts
    gains = counts * (means - overall) / (counts + shrink)
    return TopicPrior(centroids, gains, float(tau), float(weight), int(start))


def with_prior(model: Linear, prior: TopicPrior | None) -> Linear:
    return Linear(model.mean, model.std, model.weights, model.bias, prior)
