"""Synthetic feedback rows whose labels follow a known rule on one feature."""

from __future__ import annotations

import numpy as np

from hybridgate.router.feedback import FeedbackRow
from hybridgate.router.retrain import held_back


def make_rows(
    n: int, dim: int, space: str, *, feature: int, seed: int = 0, flip_train: bool = False, holdout: float = 0.25
) -> list[FeedbackRow]:
    """Label 1 (weak failed: score 0.1) when x[feature] > 0. With `flip_train` the rows that
    `retrain` trains on (not held back at `holdout`, seed 0) follow the opposite rule: a candidate
    learns it backwards and must lose to an artifact that ranks by x[feature]."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rid = f"hg-{i:05d}"
        x = rng.normal(size=dim).astype(np.float32)
        failed = bool(x[feature] > 0)
        if flip_train and not held_back(rid, holdout, 0):
            failed = not failed
        rows.append(
            FeedbackRow(rid, 1.0, 0.5, None, "self_hosted", "llama", True, 0.1 if failed else 0.9, None, space, x)
        )
    return rows
