"""Eval results as text tables and, optionally, a PNG of the call-performance curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from hybridgate.router.evaluate import SplitResult


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def split_table(r: SplitResult) -> Table:
    t = Table(title=f"{r.name}: n={r.n}, rS={r.r_strong:.4f}, rW={r.r_weak:.4f}", title_justify="left")
    for col in ("router", "APGR [95% CI]", "APGR 10-bin", "CPT(50%)", "CPT(80%)"):
        t.add_column(col, justify="left" if col == "router" else "right")
    for row in r.rows:
        t.add_row(row.router, row.apgr.fmt(), _num(row.apgr10), _pct(row.cpt50), _pct(row.cpt80))
    return t


def comparison_lines(r: SplitResult) -> list[str]:
    lines = [
        f"  paired bootstrap, router - {ref}: {iv.fmt()}  ({'gain' if iv.low > 0 else 'no significant gain'})"
        for ref, iv in r.vs.items()
    ]
    if len(r.fold_mean_apgr) and r.name.startswith(("CV", "MMLU")):
        fm = ", ".join(f"{k} {v:.3f}" for k, v in r.fold_mean_apgr.items())
        lines.append(f"  APGR inside each test fold, averaged: {fm}")
    cal = "; ".join(f"target {100 * s:.0f}% -> realised {100 * got:.1f}%, PGR {p:.3f}" for s, got, p in r.calibration)
    lines.append(f"  calibrated thresholds: {cal}")
    return lines


def markdown(results: Sequence[SplitResult]) -> str:
    out = []
    for r in results:
        out.append(f"**{r.name}** — n={r.n}, rS={r.r_strong:.4f}, rW={r.r_weak:.4f}\n")
        out.append("| router | APGR [95% CI] | APGR 10-bin | CPT(50%) | CPT(80%) |\n|---|---:|---:|---:|---:|")
        out.extend(
            f"| {w.router} | {w.apgr.fmt()} | {_num(w.apgr10)} | {_pct(w.cpt50)} | {_pct(w.cpt80)} |" for w in r.rows
        )
        out.append("")
        out.extend(line.strip() + "  " for line in comparison_lines(r))
        out.append("")
    return "\n".join(out)


def save_png(results: Sequence[SplitResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        for name, (c, p) in r.curves.items():
            ax.plot(c, p, label=name)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="random")
        ax.set(title=r.name, xlabel="strong-call share", ylabel="PGR", ylim=(-0.1, 1.3))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
