"""Router quality as in ROUTING_EVAL.md: call-performance curve, APGR, CPT, bootstrap intervals.

Higher score = send to strong. Within tied scores the curve rises linearly (random tie-break in
expectation), so a constant score is exactly the random router (APGR 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _as_f64(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def cumulative_gain(scores: npt.ArrayLike, gain: npt.ArrayLike) -> FloatArray:
    """G[k] for k = 0..n: quality gained over all-weak when the top k go to strong."""
    s, g = _as_f64(scores), _as_f64(gain)
    order = np.argsort(-s, kind="stable")
    s_sorted, g_sorted = s[order], g[order]
    # Spread each tie group's gain evenly over its members: the expected curve under random tie-breaks.
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sizes = np.diff(np.r_[starts, len(s_sorted)])
    group_mean = np.add.reduceat(g_sorted, starts) / sizes if len(s_sorted) else np.zeros(0)
    out: FloatArray = np.r_[0.0, np.cumsum(np.repeat(group_mean, sizes))]
    return out


def pgr_curve(scores: npt.ArrayLike, q_strong: npt.ArrayLike, q_weak: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(c, PGR(c)) at c = k/n. PGR is NaN everywhere when strong is not better than weak."""
    gain = _as_f64(q_strong) - _as_f64(q_weak)
    g = cumulative_gain(scores, gain)
    n = len(gain)
    c = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    total = g[-1]
    if n == 0 or total <= 0:
        return c, np.full(n + 1, math.nan)
    return c, g / total


def apgr(scores: npt.ArrayLike, q_strong: npt.ArrayLike, q_weak: npt.ArrayLike) -> float:
    """Area under the exact PGR curve, summed per tie group (the curve is linear inside one).

    Summing by group rather than by prompt keeps the constant router at exactly 0.5.
    """
    s, g = _as_f64(scores), _as_f64(q_strong) - _as_f64(q_weak)
    n, total = len(g), float(g.sum())
    if n == 0 or total <= 0:
        return math.nan
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    sizes = np.diff(np.r_[starts, n])
    bounds = np.r_[0.0, np.cumsum(np.add.reduceat(g[order], starts))]
    return float(np.sum(sizes * (bounds[1:] + bounds[:-1])) / 2.0 / (n * total))


def cpt(scores: npt.ArrayLike, q_strong: npt.ArrayLike, q_weak: npt.ArrayLike, target: float) -> float:
    """Smallest strong-call share whose PGR reaches `target`, interpolated on the curve."""
    c, p = pgr_curve(scores, q_strong, q_weak)
    hit = np.flatnonzero(p >= target - 1e-12)
    if len(hit) == 0:
        return math.nan
    k = int(hit[0])
    if k == 0:
        return 0.0
    frac = (target - p[k - 1]) / (p[k] - p[k - 1])
    return float(c[k - 1] + frac * (c[k] - c[k - 1]))


def apgr_binned(scores: npt.ArrayLike, q_strong: npt.ArrayLike, q_weak: npt.ArrayLike, bins: int = 10) -> float:
    """RouteLLM's number: thresholds at score quantiles (pd.qcut edges), strong iff score >= edge.

    The all-weak (0, 0) and all-strong (1, 1) end points are added when no edge reaches them. On
    tied scores several edges collapse into one point, which is why the exact curve is preferred.
    """
    s, qs, qw = _as_f64(scores), _as_f64(q_strong), _as_f64(q_weak)
    r_s, r_w = qs.mean(), qw.mean()
    if r_s <= r_w:
        return math.nan
    points = {(0.0, 0.0), (1.0, 1.0)}
    for edge in np.quantile(s, np.linspace(0, 1, bins + 1)):
        strong = s >= edge
        quality = np.where(strong, qs, qw).mean()
        points.add((float(strong.mean()), float((quality - r_w) / (r_s - r_w))))
    xs, ys = zip(*sorted(points), strict=True)
    return float(np.trapezoid(ys, xs))


@dataclass(frozen=True, slots=True)
class Interval:
    value: float
    low: float
    high: float

    def fmt(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _percentiles(samples: FloatArray, value: float) -> Interval:
    ok = samples[~np.isnan(samples)]
    if len(ok) == 0:
        return Interval(value, math.nan, math.nan)
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return Interval(value, float(lo), float(hi))


def bootstrap_apgr(
    scores: npt.ArrayLike, q_strong: npt.ArrayLike, q_weak: npt.ArrayLike, *, n_boot: int = 1000, seed: int = 0
) -> Interval:
    s, qs, qw = _as_f64(scores), _as_f64(q_strong), _as_f64(q_weak)
    rng = np.random.default_rng(seed)
    samples = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, len(s), len(s))
        samples[b] = apgr(s[idx], qs[idx], qw[idx])
    return _percentiles(samples, apgr(s, qs, qw))


def paired_bootstrap(
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    q_strong: npt.ArrayLike,
    q_weak: npt.ArrayLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> Interval:
    """APGR(a) - APGR(b) on the same resamples: the comparison ROUTING_EVAL asks for."""
    a, b, qs, qw = _as_f64(scores_a), _as_f64(scores_b), _as_f64(q_strong), _as_f64(q_weak)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(a), len(a))
        diffs[i] = apgr(a[idx], qs[idx], qw[idx]) - apgr(b[idx], qs[idx], qw[idx])
    return _percentiles(diffs, apgr(a, qs, qw) - apgr(b, qs, qw))
