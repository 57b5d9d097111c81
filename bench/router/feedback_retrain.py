"""Does retraining from feedback help an organisation whose model pair differs from the shipped one?

    .venv/bin/python bench/router/feedback_retrain.py [--pool PATH] [--strong S] [--weak W]

Simulates feedback from the RouterDC 7-model pool (research-use data: a bench, never an artifact
that ships): every prompt is "served" by the weak model and rated with the weak model's quality
(score < 0.5 = weak failed). For growing numbers of feedback rows it runs the same `retrain` the CLI
runs and prints held-back APGR / AUC of the candidate and of the packaged artifact, plus the gate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hybridgate.detect.complexity import feature_space
from hybridgate.router import artifact, data
from hybridgate.router.feedback import FeedbackRow
from hybridgate.router.retrain import RetrainConfig, RetrainError, retrain
from hybridgate.router.train import featurize, table_from_artifact

POOL = Path(__file__).resolve().parents[3] / "shared/data/routing/routerdc_7b_pool_scores.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=Path, default=POOL)
    ap.add_argument("--strong", default="dolphin-2.9-llama3-8b")
    ap.add_argument("--weak", default="Mistral-7B-v0.1")
    ap.add_argument("--sizes", default="100,300,1000,3000,all")
    args = ap.parse_args()
    current = artifact.load_default()
    ds = data.load([args.pool], args.strong, args.weak)
    items = list(ds.items)
    x = featurize(items, table_from_artifact(current))
    space = feature_space(current)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(items))
    rows = [
        FeedbackRow(
            f"hg-{i:06d}", 0.0, 0.0, None, "self_hosted", args.weak, True, float(items[i].q_weak), None, space, x[i]
        )
        for i in order
    ]
    print(
        f"{len(rows)} prompts, strong {args.strong}, weak {args.weak}, weak-failed rate "
        f"{np.mean([r.score is not None and r.score < 0.5 for r in rows]):.3f}"
    )
    print(
        "| rows | train | held back | candidate APGR | packaged APGR | gain [95% CI] "
        "| candidate AUC | packaged AUC | registered |"
    )
    print("|---:|---:|---:|---:|---:|---|---:|---:|---|")
    for size in args.sizes.split(","):
        n = len(rows) if size == "all" else int(size)
        try:
            out = retrain(rows[:n], current, "frontier", RetrainConfig(), n_boot=1000)
        except RetrainError as exc:
            print(f"| {n} | refused: {exc.message} |")
            continue
        print(
            f"| {n} | {out.n_train} | {out.n_holdout} | {out.candidate.apgr:.3f} | {out.current.apgr:.3f} | "
            f"{out.gain.fmt()} | {out.candidate.auc:.3f} | {out.current.auc:.3f} | {'yes' if out.not_worse else 'no'} |"
        )


if __name__ == "__main__":
    main()
