"""Training: rows of (features, target) from any source -> a `RouterArtifact`.

The target is (1 + q_strong - q_weak) / 2: a prompt both models get right or both get wrong is
worth nothing to route, so the model learns where the *gain* is rather than where the weak model
merely fails (on MMLU that choice alone moves CV APGR from 0.58 to 0.66).

The model (`model.fit_anchored`): prompt length as a protected monotone component plus a residual
learned only within each task/subject (the rows' `domain`), so that it cannot memorise which
subjects the weak model is bad at. That memory is what lifted prompt-grouped CV and what lost to
prompt length on unseen subjects and benchmarks; see docs/benchmarks/router.md.

On top, a topic prior (`model.fit_topic_prior`): a prompt inherits the gains of the training tasks
its text embedding resembles. Its temperature and weight are chosen by cross-validation over whole
task groups inside the training rows (`select_prior`), so it is only as strong as it proved on
tasks held out of its own fit; weight 0 (no prior) is one of the choices.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hybridgate.router import metrics
from hybridgate.router.artifact import RouterArtifact
from hybridgate.router.data import Dataset, Item
from hybridgate.router.embed import StaticEmbedding, quantise
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import Linear, fit_anchored, fit_logistic, fit_topic_prior, with_prior
from hybridgate.router.text import RequestText, prompt_messages, request_text
from hybridgate.router.vectorize import Vectorizer
from hybridgate.router.wordpiece import WordPiece

Progress = Callable[[int, int], None]
FORMAT_VERSION = "complexity-v2"


@dataclass(frozen=True, slots=True)
class TrainConfig:
    dim: int = 64  # embedding dimensions kept after PCA
    l2: float = 100.0  # logistic model, used when rows carry no task groups (feedback)
    sif_a: float = 1e-3  # smooth inverse frequency: weight a / (a + p(token))
    seed: int = 0
    # Anchored model (rows with task groups). Chosen on leave-subject-out and cross-benchmark
    # results, not on prompt-grouped CV; docs/benchmarks/router.md has the grid.
    anchor: str = "log_chars"
    residual_l2: float = 1e4
    residual_weight: float = 1.0
    # Topic prior: the grid `select_prior` searches with group-held-out CV inside the training rows.
    prior_taus: tuple[float, ...] = (0.05, 0.1, 0.2)
    prior_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    prior_shrink: float = 50.0
    prior_folds: int = 5


def config_of(metadata: dict[str, object], seed: int = 0) -> TrainConfig:
    """The model settings an artifact was trained with, so `router eval` refits that model.

    Artifacts from before the topic prior (no `prior_weights` recorded) are refitted without one.
    """
    raw = metadata.get("config")
    given = raw if isinstance(raw, dict) else {}
    known = {f for f in TrainConfig.__dataclass_fields__ if f not in ("seed", "dim", "sif_a")}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if k in known}
    values.setdefault("prior_weights", (0.0,))
    return TrainConfig(seed=seed, **values)


@dataclass(frozen=True, slots=True)
class TokenTable:
    vocab: tuple[str, ...]
    table: npt.NDArray[np.int8]
    scale: npt.NDArray[np.float32]
    source: str


def target(items: Sequence[Item]) -> npt.NDArray[np.float64]:
    return np.array([(1.0 + it.q_strong - it.q_weak) / 2.0 for it in items])


def texts(items: Sequence[Item]) -> list[RequestText]:
    return [request_text(prompt_messages(it.prompt)) for it in items]


def build_table(
    vocab: Sequence[str], raw: npt.NDArray[np.float32], corpus: Sequence[str], cfg: TrainConfig
) -> TokenTable:
    """PCA the distilled [V, 384] table to cfg.dim and weight each row by token rarity in `corpus`."""
    wp = WordPiece(vocab)
    counts = Counter(i for text in corpus for i in wp.ids(text))
    total = sum(counts.values())
    freq = (np.array([counts.get(i, 0) for i in range(len(vocab))], dtype=np.float64) + 1) / (total + len(vocab))
    centred = raw.astype(np.float64) - raw.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    # Fix each component's sign so that the same data always gives the same table.
    signs = np.sign(vt[:, np.abs(vt).argmax(axis=1)].diagonal())
    reduced = centred @ (vt[: cfg.dim] * signs[: cfg.dim, None]).T
    weighted = (reduced * (cfg.sif_a / (cfg.sif_a + freq))[:, None]).astype(np.float32)
    table, scale = quantise(weighted)
    return TokenTable(tuple(vocab), table, scale, "all-MiniLM-L6-v2 (Apache-2.0), distilled per token")


def table_from_minilm(corpus: Sequence[str], cfg: TrainConfig, progress: Progress | None = None) -> TokenTable:
    from hybridgate.router.distill import distil_token_table  # torch: training-only

    vocab, raw = distil_token_table(progress=progress)
    return build_table(vocab, raw, corpus, cfg)


def table_from_artifact(a: RouterArtifact) -> TokenTable:
    return TokenTable(a.vocab, a.table, a.table_scale, str(a.metadata.get("embedding", "reused")))


def fingerprint(items: Sequence[Item], cfg: TrainConfig | None = None) -> str:
    """A short digest of the training rows (and model settings): same inputs, same artifact version."""
    h = hashlib.sha256()
    if cfg is not None:
        h.update(f"{cfg.anchor}\x1f{cfg.residual_l2:g}\x1f{cfg.residual_weight:g}\x1e".encode())
        h.update(f"{cfg.prior_taus}\x1f{cfg.prior_weights}\x1f{cfg.prior_shrink:g}\x1f{cfg.prior_folds}\x1e".encode())
    for it in items:
        h.update(f"{it.item_id}\x1f{it.q_strong}\x1f{it.q_weak}\x1e".encode())
    return h.hexdigest()[:12]


def featurize(items: Sequence[Item], table: TokenTable, progress: Progress | None = None) -> npt.NDArray[np.float32]:
    vec = Vectorizer(StaticEmbedding(table.vocab, table.table, table.scale))
    rows = texts(items)
    out = np.empty((len(rows), vec.dim), dtype=np.float32)
    for i, t in enumerate(rows):
        out[i] = vec.vector(t)
        if progress is not None and (i % 500 == 0 or i == len(rows) - 1):
            progress(i + 1, len(rows))
    return out


def fit_rows(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    cfg: TrainConfig,
    groups: npt.ArrayLike | None = None,
) -> Linear:
    """The learning step alone: any source of (feature row, target) pairs can call it.

    With `groups` (each row's task or subject) the anchored within-group model plus the topic prior
    `select_prior` picks; without (feedback rows carry no task) plain L2 logistic regression.
    """
    if groups is None:
        return fit_logistic(x, y, l2=cfg.l2)
    tau, weight, _ = select_prior(x, y, groups, cfg)
    return _fit_grouped(x, y, np.asarray(groups).astype(str), cfg, tau, weight)


def _fit_grouped(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    g: npt.NDArray[np.str_],
    cfg: TrainConfig,
    tau: float,
    w: float,
) -> Linear:
    anchor = FEATURE_NAMES.index(cfg.anchor)
    model = fit_anchored(x, y, g, anchor=anchor, l2=cfg.residual_l2, weight=cfg.residual_weight)
    if w == 0.0:
        return model
    prior = fit_topic_prior(x, y, g, start=len(FEATURE_NAMES), tau=tau, weight=w, shrink=cfg.prior_shrink)
    return with_prior(model, prior)


def group_folds(groups: npt.NDArray[np.str_], k: int, seed: int) -> npt.NDArray[np.int64]:
    """Whole groups to one of k folds (seeded), as many folds as groups when there are fewer."""
    names = sorted(set(groups.tolist()))
    k = min(k, len(names))
    perm = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[j]: pos % k for pos, j in enumerate(perm)}
    return np.array([fold_of[v] for v in groups])


def select_prior(
    x: npt.NDArray[np.floating], y: npt.NDArray[np.floating], groups: npt.ArrayLike, cfg: TrainConfig
) -> tuple[float, float, dict[str, float]]:
    """(tau, weight, inner APGR per grid cell): the topic prior that ranked held-out *groups* best.

    Every fold holds out whole tasks, fits the anchored model and the prior on the others and
    scores the held-out tasks; the pooled APGR of the out-of-fold scores picks the cell (ties go to
    the weaker prior). The gain qS - qW is 2y - 1 for the target y = (1 + qS - qW) / 2. With fewer
    than three groups there is no task to generalise across: no prior.
    """
    g = np.asarray(groups).astype(str)
    if len(set(g.tolist())) < 3 or not any(cfg.prior_weights):
        return 0.0, 0.0, {}
    y64 = np.asarray(y, dtype=np.float64)
    fold = group_folds(g, cfg.prior_folds, cfg.seed)
    anchor = FEATURE_NAMES.index(cfg.anchor)
    cells = [(t, w) for w in cfg.prior_weights for t in (cfg.prior_taus if w else cfg.prior_taus[:1])]
    oof = {c: np.empty(len(g)) for c in cells}
    for f in np.unique(fold):
        tr, te = fold != f, fold == f
        base = fit_anchored(x[tr], y64[tr], g[tr], anchor=anchor, l2=cfg.residual_l2, weight=cfg.residual_weight)
        base_logits = base.logits(x[te])
        unit = {  # weight 1 per temperature; a cell's weight scales it
            t: fit_topic_prior(
                x[tr], y64[tr], g[tr], start=len(FEATURE_NAMES), tau=t, weight=1.0, shrink=cfg.prior_shrink
            ).logits(x[te])
            for t in cfg.prior_taus
        }
        for t, w in cells:
            oof[(t, w)][te] = base_logits + w * unit[t]
    gain, zero = 2.0 * y64 - 1.0, np.zeros(len(g))
    scores = {c: metrics.apgr(oof[c], gain, zero) for c in cells}
    # Rounded, so that a negligible edge does not buy a stronger prior; NaN (no gain to rank) never wins.
    best = max(cells, key=lambda c: (round(scores[c], 4) if math.isfinite(scores[c]) else -math.inf, -c[1]))
    return best[0], best[1], {f"tau={t:g},weight={w:g}": round(v, 4) for (t, w), v in scores.items()}


def groups_of(items: Sequence[Item]) -> npt.NDArray[np.str_]:
    """The task a row belongs to: MMLU subject, else the benchmark (one group per GSM8K etc.)."""
    return np.array([f"{it.benchmark}/{it.domain}" for it in items])


def to_artifact(
    model: Linear, table: TokenTable, train_scores: npt.NDArray[np.float64], metadata: dict[str, object]
) -> RouterArtifact:
    return RouterArtifact(
        vocab=table.vocab,
        table=table.table,
        table_scale=table.scale,
        feature_names=FEATURE_NAMES,
        mean=model.mean,
        std=model.std,
        weights=model.weights,
        bias=model.bias,
        score_quantiles=np.quantile(train_scores, np.linspace(0.0, 1.0, 101)),
        metadata=metadata,
        prior=model.prior,
    )


def train(data: Dataset, table: TokenTable, cfg: TrainConfig, progress: Progress | None = None) -> RouterArtifact:
    items = list(data.items)
    x = featurize(items, table, progress)
    y, groups = target(items), groups_of(items)
    tau, weight, inner = select_prior(x, y, groups, cfg)
    model = _fit_grouped(x, y, groups, cfg, tau, weight)
    metadata: dict[str, object] = {
        "version": f"{FORMAT_VERSION}+{fingerprint(items, cfg)}",
        "strong": data.strong,
        "weak": data.weak,
        "target": "(1 + q_strong - q_weak) / 2",
        "model": (
            f"anchored: logistic slope on {cfg.anchor} + 4 * ridge residual fitted within task groups "
            "(benchmark/subject); no intercept; + topic prior: softmax(cos(embedding, task centroid) / tau) "
            "@ shrunk task gains, x 4 * weight"
        ),
        "topic_prior": {
            "tau": tau,
            "weight": weight,
            "tasks": len(set(groups.tolist())),
            "selected_by": f"{cfg.prior_folds}-fold CV over whole task groups inside the training rows, pooled APGR",
            "inner_apgr": inner,
        },
        "training_files": [{"file": f, "licence": lic} for f, lic in data.files],
        "licence_clean": data.licence_clean,
        "n_train": len(items),
        "benchmarks": dict(Counter(it.benchmark for it in items)),
        "embedding": table.source,
        "config": {
            "dim": table.table.shape[1],
            "l2": cfg.l2,
            "sif_a": cfg.sif_a,
            "seed": cfg.seed,
            "anchor": cfg.anchor,
            "residual_l2": cfg.residual_l2,
            "residual_weight": cfg.residual_weight,
            "prior_taus": list(cfg.prior_taus),
            "prior_weights": list(cfg.prior_weights),
            "prior_shrink": cfg.prior_shrink,
            "prior_folds": cfg.prior_folds,
        },
    }
    return to_artifact(model, table, model.predict(x), metadata)
