"""`hybridgate usage --since 7d --by team|key|tier|model|endpoint [--format table|csv|json]`.

cli.py registers it: app.command("usage")(usage.usage). `records_since` is the record source for
`hybridgate report` (economics). Both read the store; a running gateway writes there every
`access.usage_flush_s` seconds, so the newest second of traffic may be missing.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hybridgate.access.durations import parse_duration
from hybridgate.commands.keys import ConfigOpt, err, with_store
from hybridgate.commands.output import print_json
from hybridgate.errors import GatewayError
from hybridgate.store.base import GROUPS, UsageRow
from hybridgate.store.records import UsageRecord

console = Console()


def render_table(rows: list[UsageRow], by: str, since: str) -> Table:
    t = Table(by, "requests", "errors", "prompt tok", "completion tok", "cached tok", "cost USD", "estimated", "avg ms")
    t.title = f"usage over the last {since}, by {by}"
    for r in rows:
        t.add_row(
            r.group, str(r.requests), str(r.errors), f"{r.prompt_tokens:,}", f"{r.completion_tokens:,}",
            f"{r.cached_tokens:,}", f"{r.cost_usd:.6f}", str(r.estimated), f"{r.avg_latency_ms:.1f}",
        )  # fmt: skip
    return t


def usage(
    since: Annotated[str, typer.Option(help="window: 90m, 12h, 7d, 2w")] = "7d",
    by: Annotated[str, typer.Option(help="team | key | tier | model | endpoint")] = "team",
    format: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    config: ConfigOpt = None,
) -> None:
    """Requests, tokens and cost from the usage records, grouped."""
    if by not in GROUPS:
        err.print(f"[red]error:[/red] --by must be one of {', '.join(GROUPS)}")
        raise typer.Exit(2)
    if format not in ("table", "csv", "json"):
        err.print("[red]error:[/red] --format must be table, csv or json")
        raise typer.Exit(2)
    try:
        start = time.time() - parse_duration(since)
    except GatewayError as e:
        err.print(f"[red]error:[/red] --since: {e.message}")
        raise typer.Exit(2) from None
    rows = with_store(config, lambda s: s.usage(start, by))
    if format == "json":
        print_json([asdict(r) for r in rows])
    elif format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow([by, *[f.name for f in fields(UsageRow)][1:]])
        for r in rows:
            w.writerow(list(asdict(r).values()))
    else:
        console.print(render_table(rows, by, since))


def records_since(since_ts: float, config: Path | None = None) -> list[UsageRecord]:
    """Every usage record since `since_ts` (unix seconds), for `hybridgate report`."""
    return with_store(config, lambda s: s.usage_records(since_ts))
