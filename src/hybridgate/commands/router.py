"""`hybridgate router train | eval | score`: build, measure and apply the complexity router."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from hybridgate.errors import GatewayError
from hybridgate.router import artifact as art
from hybridgate.router import data
from hybridgate.router.train import TrainConfig

router_app = typer.Typer(help="The complexity router: train, evaluate, score.", no_args_is_help=True)
console = Console()

DataOpt = Annotated[list[Path], typer.Option("--data", help="Data files or folders (repeatable).")]
StrongOpt = Annotated[str, typer.Option("--strong", help="Strong model (column name or suffix).")]
WeakOpt = Annotated[str, typer.Option("--weak", help="Weak model (column name or suffix).")]


def _fail(exc: GatewayError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
    return typer.Exit(2)


@router_app.command()
def train(
    data_paths: Annotated[list[Path] | None, typer.Option("--data", help="Data files or folders (repeatable).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Artifact file to write.")] = None,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Train on stored feedback; register if not worse.")
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Gateway config (frontier tier).")] = None,
    force: Annotated[bool, typer.Option(help="--from-store: register even if worse on held-back rows.")] = False,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.9, help="--from-store: share held back.")] = 0.25,
    strong: StrongOpt = data.STRONG,
    weak: WeakOpt = data.WEAK,
    seed: Annotated[int, typer.Option(help="Seed (fold assignment; training itself is deterministic).")] = 0,
    l2: Annotated[float, typer.Option(help="L2 penalty of the logistic model.")] = 100.0,
    distill: Annotated[
        bool, typer.Option(help="Re-distil the token table from MiniLM (needs the train extra).")
    ] = False,
    base: Annotated[Path | None, typer.Option(help="Artifact whose token table to reuse.")] = None,
) -> None:
    """Train an artifact from routing data (or --from-store: feedback); deterministic for the same data and options."""
    from hybridgate.router import train as tr

    if from_store:
        _from_store(config, out, force, holdout=holdout, seed=seed, l2=l2)
        return
    if not data_paths or out is None:
        raise typer.BadParameter("give --data and --out (or --from-store)")
    try:
        ds = data.load(data_paths, strong, weak)
        cfg = TrainConfig(l2=l2, seed=seed)
        if not ds.licence_clean:
            console.print(
                "[yellow]warning:[/yellow] training data without a product licence; do not ship this artifact"
            )
        with Progress(console=console) as bar:
            if distill:
                task = bar.add_task("distilling MiniLM", total=1)
                table = tr.table_from_minilm(
                    [it.prompt for it in ds.items], cfg, lambda d, t: bar.update(task, completed=d, total=t)
                )
            else:
                table = tr.table_from_artifact(art.load(base) if base else art.load_default())
            task = bar.add_task("features", total=len(ds.items))
            a = tr.train(ds, table, cfg, lambda d, t: bar.update(task, completed=d, total=t))
        digest = art.save(a, out)
    except GatewayError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest[:16]}…) from {len(ds.items)} prompts")


def _from_store(config: Path | None, out: Path | None, force: bool, *, holdout: float, seed: int, l2: float) -> None:
    from hybridgate.commands.router_store import train_from_store
    from hybridgate.router.retrain import RetrainConfig

    try:
        train_from_store(config, out, force, RetrainConfig(holdout=holdout, seed=seed, l2=l2), n_boot=1000)
    except GatewayError as exc:
        raise _fail(exc) from exc


@router_app.command("eval")
def evaluate(
    data_paths: DataOpt,
    artifact: Annotated[Path | None, typer.Option("--artifact", help="Artifact (default: the shipped one).")] = None,
    strong: StrongOpt = data.STRONG,
    weak: WeakOpt = data.WEAK,
    seed: int = 0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    png: Annotated[Path | None, typer.Option(help="Write the call-performance curves here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Also write the tables as Markdown.")] = None,
) -> None:
    """Every split of ROUTING_EVAL.md, refitting the artifact's model per split, with reference rows."""
    from hybridgate.router import evaluate as ev
    from hybridgate.router import report
    from hybridgate.router import train as tr

    try:
        a = art.load(artifact) if artifact else art.load_default()
        ds = data.load(data_paths, strong, weak)
    except GatewayError as exc:
        raise _fail(exc) from exc
    cfg = tr.config_of(a.metadata, seed)
    x = tr.featurize(list(ds.items), tr.table_from_artifact(a))
    console.print(
        f"artifact {a.metadata.get('version')}; data {', '.join(f for f, _ in ds.files)}; {len(ds.items)} prompts"
    )
    results = ev.evaluate(
        list(ds.items), x, cfg, n_boot=n_boot, seed=seed, curves=png is not None, progress=lambda s: console.log(s)
    )
    for r in results:
        console.print(report.split_table(r))
        for line in report.comparison_lines(r):
            console.print(line)
    if png is not None:
        report.save_png(results, png)
    if markdown is not None:
        markdown.write_text(report.markdown(results), encoding="utf-8")


def _messages(row: Any) -> list[dict[str, Any]]:
    if not isinstance(row, dict):
        raise ValueError("each line must be a JSON object")
    if isinstance(row.get("messages"), list):
        return list(row["messages"])
    if isinstance(row.get("prompt"), str):
        return [{"role": "user", "content": row["prompt"]}]
    raise ValueError("each line needs a 'prompt' string or a 'messages' list")


@router_app.command()
def score(
    in_path: Annotated[Path, typer.Option("--in", help='JSONL: {"id", "prompt"} or {"id", "messages"}.')],
    out: Annotated[Path, typer.Option("--out", help='JSONL: {"id", "score"}.')],
    artifact: Annotated[Path | None, typer.Option("--artifact", help="Artifact (default: the shipped one).")] = None,
) -> None:
    """Score prompts with the router."""
    from hybridgate.detect.complexity import LearnedScorer

    try:
        scorer = LearnedScorer(art.load(artifact) if artifact else art.load_default())
    except GatewayError as exc:
        raise _fail(exc) from exc
    n = 0
    with in_path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for lineno, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                value = scorer.score(_messages(row), tools=bool(row.get("tools")))  # checked a dict
            except ValueError as exc:
                console.print(f"[red]error:[/red] {in_path}:{lineno}: {exc}", soft_wrap=True)
                raise typer.Exit(2) from exc
            dst.write(json.dumps({"id": row.get("id"), "score": round(value, 6)}) + "\n")
            n += 1
    console.print(f"scored {n} prompts with {scorer.name} -> {out}")
