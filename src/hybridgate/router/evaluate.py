"""The ROUTING_EVAL protocol: three kinds of split, reference routers, bootstrap comparisons.

Features are computed once (they do not depend on labels); each split refits only the linear
model, with the artifact's configuration, on its training part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hybridgate.router import metrics
from hybridgate.router.data import Item
from hybridgate.router.text import dedup_key
from hybridgate.router.train import TrainConfig, fit_rows, groups_of, target

FloatArray = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
SHARES = (0.2, 0.5, 0.8)


@dataclass(frozen=True, slots=True)
class Split:
    name: str
    folds: tuple[tuple[Mask, Mask], ...]  # (train, test) masks over all items


@dataclass(frozen=True, slots=True)
class Row:
    router: str
    apgr: metrics.Interval
    apgr10: float
    cpt50: float
    cpt80: float


@dataclass(frozen=True, slots=True)
class SplitResult:
    name: str
    n: int
    r_strong: float
    r_weak: float
    rows: tuple[Row, ...]
    vs: dict[str, metrics.Interval]  # paired-bootstrap APGR gain of the router over each reference
    fold_mean_apgr: dict[str, float]
    calibration: tuple[tuple[float, float, float], ...]  # (target share, realised share, PGR)
    curves: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)


def _fold_ids(keys: Sequence[str], k: int, seed: int) -> npt.NDArray[np.int64]:
    """Whole prompts (by normalised text) go to one fold."""
    uniq = sorted(set(keys))
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: pos % k for pos, j in enumerate(perm)}
    return np.array([fold_of[key] for key in keys])


def splits(items: Sequence[Item], seed: int = 0, k: int = 5) -> Iterator[Split]:
    bench = np.array([it.benchmark for it in items])
    fold = _fold_ids([dedup_key(it.prompt) for it in items], k, seed)
    for b in sorted(set(bench)):
        on = bench == b
        yield Split(f"CV {b}", tuple((on & (fold != f), on & (fold == f)) for f in range(k)))
    mmlu = bench == "mmlu"
    if mmlu.any():
        sfold = _fold_ids([it.domain for it in items], k, seed)
        yield Split("MMLU leave-subject-out", tuple((mmlu & (sfold != f), mmlu & (sfold == f)) for f in range(k)))
    for a in sorted(set(bench)):
        for b in sorted(set(bench)):
            if a != b:
                yield Split(f"cross {a} -> {b}", ((bench == a, bench == b),))


def _subject_prior(items: Sequence[Item], train: Mask, test: Mask, y: FloatArray) -> FloatArray:
    """Mean training target of the prompt's subject; unseen subjects get the overall mean."""
    domains = np.array([it.domain for it in items])
    overall = float(y[train].mean())
    means = {d: float(y[train & (domains == d)].mean()) for d in set(domains[train])}
    return np.array([means.get(d, overall) for d in domains[test]])


def _row(name: str, s: FloatArray, qs: FloatArray, qw: FloatArray, n_boot: int, seed: int) -> Row:
    return Row(
        name,
        metrics.bootstrap_apgr(s, qs, qw, n_boot=n_boot, seed=seed),
        metrics.apgr_binned(s, qs, qw),
        metrics.cpt(s, qs, qw, 0.5),
        metrics.cpt(s, qs, qw, 0.8),
    )


def _calibration(
    train_scores: list[FloatArray], test_scores: list[FloatArray], qs: FloatArray, qw: FloatArray
) -> tuple[tuple[float, float, float], ...]:
    out = []
    for share in SHARES:
        strong = np.concatenate(
            [te >= np.quantile(tr, 1 - share) for tr, te in zip(train_scores, test_scores, strict=True)]
        )
        gain_total = float((qs - qw).sum())
        pgr = float(((qs - qw) * strong).sum() / gain_total) if gain_total > 0 else float("nan")
        out.append((share, float(strong.mean()), pgr))
    return tuple(out)


def evaluate_split(
    split: Split,
    items: Sequence[Item],
    x: npt.NDArray[np.float32],
    cfg: TrainConfig,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    curves: bool = False,
) -> SplitResult:
    y = target(items)
    groups = groups_of(items)
    q_s = np.array([it.q_strong for it in items])
    q_w = np.array([it.q_weak for it in items])
    length = np.array([float(len(it.prompt)) for it in items])
    parts: dict[str, list[FloatArray]] = {"router": [], "length": [], "subject prior": [], "oracle": []}
    train_scores: list[FloatArray] = []
    test_idx: list[npt.NDArray[np.int64]] = []
    for train, test in split.folds:
        model = fit_rows(x[train], y[train], cfg, groups[train])
        train_scores.append(model.predict(x[train]))
        parts["router"].append(model.predict(x[test]))
        parts["length"].append(length[test])
        parts["subject prior"].append(_subject_prior(items, train, test, y))
        parts["oracle"].append(q_s[test] - q_w[test])
        test_idx.append(np.flatnonzero(test))
    idx = np.concatenate(test_idx)
    qs, qw = q_s[idx], q_w[idx]
    scores = {k: np.concatenate(v) for k, v in parts.items()}
    scores["random"] = np.zeros(len(idx))
    rows = tuple(
        _row(k, scores[k], qs, qw, n_boot, seed) for k in ("router", "random", "length", "subject prior", "oracle")
    )
    vs = {
        k: metrics.paired_bootstrap(scores["router"], scores[k], qs, qw, n_boot=n_boot, seed=seed)
        for k in ("random", "length", "subject prior")
    }
    fold_mean = {k: _fold_mean(parts[k], test_idx, q_s, q_w) for k in ("router", "length")}
    return SplitResult(
        split.name,
        len(idx),
        float(qs.mean()),
        float(qw.mean()),
        rows,
        vs,
        fold_mean,
        _calibration(train_scores, parts["router"], qs, qw),
        {k: metrics.pgr_curve(scores[k], qs, qw) for k in ("router", "length", "oracle")} if curves else {},
    )


def _fold_mean(parts: list[FloatArray], idx: list[npt.NDArray[np.int64]], q_s: FloatArray, q_w: FloatArray) -> float:
    """APGR inside each test fold, averaged: free of fold-to-fold calibration shifts in the pooled curve."""
    return float(np.mean([metrics.apgr(s, q_s[i], q_w[i]) for s, i in zip(parts, idx, strict=True)]))


def evaluate(
    items: Sequence[Item],
    x: npt.NDArray[np.float32],
    cfg: TrainConfig,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    curves: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[SplitResult]:
    out = []
    for split in splits(items, seed):
        if progress is not None:
            progress(split.name)
        out.append(evaluate_split(split, items, x, cfg, n_boot=n_boot, seed=seed, curves=curves))
    return out
