"""`hybridgate router train --from-store`: retrain on stored feedback, register only if not worse."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hybridgate.router import artifact as art
from hybridgate.router import registry
from hybridgate.router.feedback import FeedbackRow
from hybridgate.router.feedback_store import default_path, open_store
from hybridgate.router.retrain import Outcome, RetrainConfig, retrain

console = Console()
EXIT_NOT_REGISTERED = 3


def frontier_tier(config: Path | None) -> str:
    """The policy's frontier tier from the gateway config (default "frontier")."""
    from hybridgate.policy.model import Policy
    from hybridgate.settings import load_settings

    path = config or (Path(os.environ["HYBRIDGATE_CONFIG"]) if os.environ.get("HYBRIDGATE_CONFIG") else None)
    if path is None:
        return "frontier"
    tier = Policy.from_settings(load_settings(path)).frontier_tier
    if tier is None:
        raise typer.BadParameter(f"{path}: the policy has no frontier tier; feedback cannot be labelled")
    return tier


async def _rows() -> list[FeedbackRow]:
    store = open_store()
    try:
        return await store.rows()
    finally:
        await store.aclose()


def _f(x: float) -> str:
    return f"{x:.3f}"


def show(o: Outcome, where: str) -> None:
    t = Table(title=f"held-back feedback: n={o.n_holdout} (trained on {o.n_train})")
    for col in ("artifact", "APGR", "AUC"):
        t.add_column(col)
    t.add_row("candidate", _f(o.candidate.apgr), _f(o.candidate.auc))
    t.add_row(f"current ({where})", _f(o.current.apgr), _f(o.current.auc))
    console.print(t)
    console.print(f"paired bootstrap, candidate - current APGR: {o.gain.fmt()}")
    if o.skipped:
        console.print("skipped rows: " + ", ".join(f"{k}: {v}" for k, v in sorted(o.skipped.items())))


def train_from_store(config: Path | None, out: Path | None, force: bool, cfg: RetrainConfig, n_boot: int) -> None:
    tier = frontier_tier(config)
    rows = asyncio.run(_rows())
    current, where = registry.current()
    console.print(f"{len(rows)} feedback rows in {default_path()}; current artifact {current.metadata.get('version')}")
    outcome = retrain(rows, current, tier, cfg, n_boot=n_boot)
    show(outcome, where)
    version = outcome.artifact.metadata["version"]
    if out is not None:
        art.save(outcome.artifact, out)
        console.print(f"wrote {out}")
    if not outcome.not_worse and not force:
        console.print(f"[yellow]not registered:[/yellow] {version} ranks held-back feedback worse (use --force)")
        raise typer.Exit(EXIT_NOT_REGISTERED)
    entry = registry.register(outcome.artifact)
    forced = " (forced)" if not outcome.not_worse else ""
    console.print(f"registered {version}{forced} as the active artifact: {entry.path}; restart the gateway to load it")
