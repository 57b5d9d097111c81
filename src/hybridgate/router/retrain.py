"""Retraining from the organisation's feedback, gated on not being worse than the current artifact.

Rows become (feature vector, label) pairs (`feedback.label`); rows without features, without a
label, or from another feature space (a different token table) are skipped and counted. A fixed
share of rows is held back by a seeded hash of the request id, so a row held back once stays held
back as the store grows and the current artifact, if it came from an earlier retrain, never saw it.
The candidate is fitted on the rest with the same code as the shipped artifact (`train.fit_rows`)
and both are scored on the held-back rows: with a binary label the gain per prompt is the label
itself, so APGR is the share of "weak failed" cases caught averaged over frontier shares, and
AUC is reported beside it (APGR = p/2 + (1 - p) * AUC for a label rate p).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hybridgate.detect.complexity import feature_space
from hybridgate.errors import ConfigError
from hybridgate.router import metrics
from hybridgate.router.artifact import RouterArtifact
from hybridgate.router.feedback import LABEL_RULE, FeedbackRow, label
from hybridgate.router.model import Linear
from hybridgate.router.train import FORMAT_VERSION, TrainConfig, fit_rows, table_from_artifact, to_artifact

FloatArray = npt.NDArray[np.float64]


class RetrainError(ConfigError):
    """Too little usable feedback to train or to judge a candidate."""

    code = "router_retrain_failed"


@dataclass(frozen=True, slots=True)
class RetrainConfig:
    holdout: float = 0.25
    seed: int = 0
    l2: float = 100.0
    # Below this the held-back comparison is mostly noise (50 rows: APGR 95% CI about +-0.1).
    min_train: int = 100
    min_holdout: int = 50


@dataclass(frozen=True, slots=True)
class Quality:
    apgr: float
    auc: float


@dataclass(frozen=True, slots=True)
class Outcome:
    artifact: RouterArtifact
    n_train: int
    n_holdout: int
    skipped: dict[str, int]
    candidate: Quality
    current: Quality
    gain: metrics.Interval  # paired-bootstrap APGR(candidate) - APGR(current) on the held-back rows

    @property
    def not_worse(self) -> bool:
        return not_worse(self.candidate, self.current)


def not_worse(candidate: Quality, current: Quality) -> bool:
    """The registration gate: the held-back APGR may not drop (NaN, i.e. nothing to judge, fails)."""
    return math.isfinite(candidate.apgr) and not (math.isfinite(current.apgr) and candidate.apgr < current.apgr)


def held_back(request_id: str, share: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}\x1f{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def usable(
    rows: Sequence[FeedbackRow], frontier_tier: str, space: str
) -> tuple[list[FeedbackRow], FloatArray, dict[str, int]]:
    """The rows that can train this feature space, their labels, and why the others were skipped."""
    keep: list[FeedbackRow] = []
    ys: list[float] = []
    skipped: Counter[str] = Counter()
    for r in rows:
        y = label(r, frontier_tier)
        if r.features is None:
            skipped["no features"] += 1
        elif r.feature_space != space:
            skipped["other feature space"] += 1
        elif y is None:
            skipped["no label"] += 1
        else:
            keep.append(r)
            ys.append(y)
    return keep, np.array(ys, dtype=np.float64), dict(skipped)


def auc(scores: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """P(score of a positive > score of a negative), ties counting one half (Mann-Whitney U)."""
    s, t = np.asarray(scores, dtype=np.float64), np.asarray(y, dtype=np.float64) >= 0.5
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # average 1-based rank of the tie group
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def quality(scores: FloatArray, y: FloatArray) -> Quality:
    return Quality(metrics.apgr(scores, y, np.zeros(len(y))), auc(scores, y))


def linear_of(a: RouterArtifact) -> Linear:
    return Linear(a.mean, a.std, a.weights, a.bias, a.prior)


def fingerprint(rows: Sequence[FeedbackRow], y: FloatArray) -> str:
    h = hashlib.sha256()
    for r, t in zip(rows, y, strict=True):
        h.update(f"{r.request_id}\x1f{t:g}\x1e".encode())
    return h.hexdigest()[:12]


def retrain(
    rows: Sequence[FeedbackRow],
    current: RouterArtifact,
    frontier_tier: str,
    cfg: RetrainConfig = RetrainConfig(),
    *,
    n_boot: int = 1000,
) -> Outcome:
    """A candidate artifact trained on feedback, and how it and `current` rank the held-back rows."""
    keep, y, skipped = usable(sorted(rows, key=lambda r: r.request_id), frontier_tier, feature_space(current))
    test = np.array([held_back(r.request_id, cfg.holdout, cfg.seed) for r in keep], dtype=bool)
    train = ~test
    if train.sum() < cfg.min_train or test.sum() < cfg.min_holdout:
        raise RetrainError(
            f"{len(keep)} usable feedback rows ({int(train.sum())} to train, {int(test.sum())} held back); "
            f"need at least {cfg.min_train} and {cfg.min_holdout}" + (f"; skipped {skipped}" if skipped else "")
        )
    x = np.stack([r.features for r in keep if r.features is not None]).astype(np.float64)
    model = fit_rows(x[train], y[train], TrainConfig(l2=cfg.l2, seed=cfg.seed))
    cand_scores, cur_scores = model.predict(x[test]), linear_of(current).predict(x[test])
    cand, cur = quality(cand_scores, y[test]), quality(cur_scores, y[test])
    gain = metrics.paired_bootstrap(cand_scores, cur_scores, y[test], np.zeros(int(test.sum())), n_boot=n_boot)
    train_rows = [r for r, t in zip(keep, train, strict=True) if t]
    meta = _metadata(current, train_rows, y[train], int(test.sum()), skipped, cfg, cand, cur)
    artifact = to_artifact(model, table_from_artifact(current), model.predict(x[train]), meta)
    return Outcome(artifact, int(train.sum()), int(test.sum()), skipped, cand, cur, gain)


def _metadata(
    current: RouterArtifact,
    rows: Sequence[FeedbackRow],
    y: FloatArray,
    n_holdout: int,
    skipped: dict[str, int],
    cfg: RetrainConfig,
    cand: Quality,
    cur: Quality,
) -> dict[str, object]:
    return {
        "version": f"{FORMAT_VERSION}+feedback-{fingerprint(rows, y)}",
        "source": "feedback",
        "training_data": "the organisation's own feedback (POST /v1/feedback): router feature vectors, no text",
        "training_files": [{"file": "feedback store", "licence": "the organisation's own data"}],
        "licence_clean": True,
        "target": LABEL_RULE,
        "n_train": len(rows),
        "n_holdout": n_holdout,
        "label_rate": float(y.mean()) if len(y) else None,
        "skipped": skipped,
        "base_artifact": current.metadata.get("version"),
        "embedding": current.metadata.get("embedding", "reused"),
        "config": {"l2": cfg.l2, "seed": cfg.seed, "holdout": cfg.holdout},
        "holdout_quality": {
            "candidate": {"apgr": _num(cand.apgr), "auc": _num(cand.auc)},
            "current": {"apgr": _num(cur.apgr), "auc": _num(cur.auc)},
        },
    }


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None
