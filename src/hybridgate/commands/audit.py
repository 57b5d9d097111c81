"""`hybridgate audit verify | export | show | prune | checkpoint` — the audit trail from the command line."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hybridgate.access.durations import parse_duration
from hybridgate.errors import ConfigError
from hybridgate.observe.audit.ops import checkpoint_key, exists, export_lines, location, open_store, show, verify
from hybridgate.observe.config import AuditConfig

audit_app = typer.Typer(no_args_is_help=True, help="Verify, export and prune the tamper-evident audit trail.")
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: $HYBRIDGATE_CONFIG or built-in)")
]


def _cfg(config: Path | None) -> AuditConfig:
    from hybridgate.cli import resolve_settings

    return resolve_settings(config).observability.audit


def parse_since(value: str, now: datetime | None = None) -> float:
    """An ISO date/time (UTC if no zone) or a relative age: 30m, 12h, 7d, 2w."""
    now = now or datetime.now(UTC)
    if value[-1:] in ("s", "m", "h", "d", "w") and value[:-1].replace(".", "", 1).isdigit():
        return (now - timedelta(seconds=parse_duration(value, param="since"))).timestamp()
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: expected an ISO date/time or an age like 12h or 7d") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


@audit_app.command("verify")
def verify_cmd(config: ConfigOpt = None) -> None:
    """Check every link of the chain and every signed checkpoint; exit 1 at the first broken link."""
    cfg = _cfg(config)
    where = location(cfg)
    if not exists(cfg):
        out.print(f"OK: no audit trail yet at {where}")
        return
    key = checkpoint_key(cfg)
    store = open_store(cfg)
    try:
        v = verify(store, key)
    finally:
        store.close()
    for w in v.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    if v.broken is not None:
        err.print(f"[red]BROKEN[/red] at seq {v.broken.seq}: {v.broken.reason} ({v.rows} rows verified before it)")
        raise typer.Exit(1)
    span = f"seq {v.first_seq}..{v.last_seq}" if v.rows else "empty"
    out.print(f"OK: {v.rows} rows ({span}), {v.checkpoints} signed checkpoints verified, {where}")


@audit_app.command("show")
def show_cmd(
    request_id: Annotated[str, typer.Argument(help="The x-hybridgate-request-id of the request")],
    config: ConfigOpt = None,
    decrypt: Annotated[
        bool, typer.Option("--decrypt", help="Open the captured payload with the key in the capture key env var")
    ] = False,
) -> None:
    """Print the audit row(s) of one request as JSON; with --decrypt, the captured request and answer too."""
    cfg = _cfg(config)
    store = open_store(cfg)
    try:
        lines = show(store, request_id, cfg.capture_key_env if decrypt else None)
    except ConfigError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if not lines:
        err.print(f"no audit row for {request_id} in {location(cfg)}")
        raise typer.Exit(1)
    for line in lines:
        sys.stdout.buffer.write(line)


@audit_app.command("export")
def export_cmd(
    config: ConfigOpt = None,
    since: Annotated[str | None, typer.Option(help="ISO date/time or age (24h, 7d)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Output format (jsonl)")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout)")] = None,
) -> None:
    """Write audit rows as JSON lines: {seq, prev, hash, entry}."""
    if fmt != "jsonl":
        raise typer.BadParameter("only --format jsonl is supported")
    cfg = _cfg(config)
    since_ts = parse_since(since) if since else None
    store = open_store(cfg)
    n = 0
    try:
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            for line in export_lines(store, since_ts):
                sink.write(line)
                n += 1
        finally:
            if output:
                sink.close()
    finally:
        store.close()
    err.print(f"exported {n} rows")


@audit_app.command("prune")
def prune_cmd(
    older_than: Annotated[str, typer.Option("--older-than", help="Age (90d) or ISO date; default: retention")] = "",
    config: ConfigOpt = None,
) -> None:
    """Delete rows older than the cut-off; a signed checkpoint keeps the rest verifiable."""
    cfg = _cfg(config)
    if not older_than and cfg.retention_days is None:
        raise typer.BadParameter("give --older-than or set observability.audit.retention_days")
    cutoff = parse_since(older_than or f"{cfg.retention_days}d")
    store = open_store(cfg)
    try:
        n = store.prune(cutoff, time.time())
    finally:
        store.close()
    out.print(f"pruned {n} rows older than {datetime.fromtimestamp(cutoff, UTC).isoformat()}")


@audit_app.command("checkpoint")
def checkpoint_cmd(config: ConfigOpt = None) -> None:
    """Sign the current head now (cron this: cutting rows off the end is detected back to here)."""
    cfg = _cfg(config)
    store = open_store(cfg)
    try:
        cp = store.checkpoint_head(time.time())
    finally:
        store.close()
    if cp is None:
        err.print(f"nothing signed: set ${cfg.checkpoint_key_env} and make sure the trail is not empty")
        raise typer.Exit(1)
    out.print(f"signed checkpoint at seq {cp.seq}")
