"""`hybridgate keys create|list|revoke|rotate` and `hybridgate teams set|list`.

cli.py registers them: app.add_typer(keys.keys_app, name="keys"); app.add_typer(keys.teams_app, name="teams").
They work on the store the config names (SQLite in the data dir by default), so a running gateway sees a
new key within `access.cache_ttl_s`. A new secret is printed once, alone on its line; it is not stored.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Column, Table

from hybridgate.access.config import Budget, Limits
from hybridgate.auth.manage import (
    KeySpec,
    TeamSpec,
    create_key,
    describe_key,
    describe_team,
    put_team,
    revoke_key,
    rotate_key,
)
from hybridgate.commands.output import print_json
from hybridgate.errors import ConfigError, GatewayError
from hybridgate.settings import Settings, format_validation_error, load_settings
from hybridgate.store.base import Store
from hybridgate.store.open import store_for

keys_app = typer.Typer(no_args_is_help=True, help="Create, list, revoke and rotate virtual API keys.")
teams_app = typer.Typer(no_args_is_help=True, help="Teams: members, default scopes, limits and budgets.")
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: $HYBRIDGATE_CONFIG)")]
ScopesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scopes",
        help="repeatable: models=a,b | tiers=t | trust=self_hosted | classes=public,internal | floor=confidential"
        " | data_class= | latency_budget= | volume= | purpose=",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table | json")]
Rpm = Annotated[int | None, typer.Option(help="requests per window (60 s unless access.window_s)")]
Tpm = Annotated[int | None, typer.Option(help="tokens per window")]
Conc = Annotated[int | None, typer.Option(help="requests in flight")]
Daily = Annotated[float | None, typer.Option("--daily-usd", help="budget per UTC day")]
Monthly = Annotated[float | None, typer.Option("--monthly-usd", help="budget per UTC month")]

_LISTS = {"models", "tiers", "trust", "classes"}
_HINTS = {"data_class", "latency_budget", "volume", "purpose"}


def settings_of(config: Path | None) -> Settings | None:
    path = config or (Path(os.environ["HYBRIDGATE_CONFIG"]) if os.environ.get("HYBRIDGATE_CONFIG") else None)
    if path is None:
        return None  # the store then defaults to SQLite in the data dir
    try:
        return load_settings(path)
    except ConfigError as e:
        err.print(f"[red]error:[/red] {e.message}")
        raise typer.Exit(2) from None


def with_store(config: Path | None, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = store_for(settings_of(config))
        try:
            await store.migrate()
            return await fn(store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(run())
    except GatewayError as e:
        err.print(f"[red]error:[/red] {e.message}")
        raise typer.Exit(2 if e.status == 400 else 1) from None


def parse_scopes(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hints: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise typer.BadParameter(f"--scopes {item!r}: expected NAME=VALUE")
        if name in _LISTS:
            out[name] = [v.strip() for v in value.split(",") if v.strip()]
        elif name in ("floor", "class_floor"):
            out["class_floor"] = value.strip()
        elif name in _HINTS:
            hints[name] = value.strip()
        else:
            raise typer.BadParameter(f"--scopes {item!r}: unknown scope {name!r}")
    if hints:
        out["hints"] = hints
    return out


def _spec(model: type[T], data: dict[str, Any]) -> T:
    try:
        return model.model_validate(data)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as e:
        err.print(f"[red]error:[/red] {format_validation_error(e)}")
        raise typer.Exit(2) from None


def _allowance(
    rpm: int | None, tpm: int | None, concurrent: int | None, daily: float | None, monthly: float | None
) -> dict[str, Any]:
    """The `limits` and `budget` fields that keys and teams both take, from the same five options."""
    return {
        "limits": Limits(rpm=rpm, tpm=tpm, concurrent=concurrent).model_dump(exclude_none=True),
        "budget": Budget(daily_usd=daily, monthly_usd=monthly).model_dump(exclude_none=True),
    }


def print_secret(secret: str, what: str) -> None:
    err.print(f"{what}. Copy the key now: it is shown only once and cannot be recovered.")
    sys.stdout.write(secret + "\n")
    sys.stdout.flush()


@keys_app.command("create")
def create(
    team: Annotated[str | None, typer.Option(help="team the key belongs to")] = None,
    name: Annotated[str, typer.Option(help="what the key is for")] = "default",
    scopes: ScopesOpt = None,
    expires: Annotated[str | None, typer.Option(help="lifetime: 30d, 12h, 2w")] = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    concurrent: Conc = None,
    daily_usd: Daily = None,
    monthly_usd: Monthly = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it once."""
    data = {"name": name, "team": team, "scopes": parse_scopes(scopes), "expires_in": expires}
    data |= _allowance(rpm, tpm, concurrent, daily_usd, monthly_usd)
    spec = _spec(KeySpec, data)
    secret, rec = with_store(config, lambda s: create_key(s, spec))
    print_secret(secret, f"Created key {rec.id} ({rec.name}, team {rec.team or '-'})")


@keys_app.command("list")
def list_keys(
    team: Annotated[str | None, typer.Option(help="only this team's keys")] = None,
    format: FormatOpt = "table",
    config: ConfigOpt = None,
) -> None:
    """List keys (never their secrets)."""
    rows = [describe_key(k) for k in with_store(config, lambda s: s.keys(team))]
    if format == "json":
        print_json(rows)
        return
    t = Table("name", "team", "key", "state", "limits", "budget")
    t.columns.insert(0, Column("id", no_wrap=True, min_width=20))
    for r in rows:
        t.add_row(r["id"], r["name"], r["team"] or "-", r["hint"], r["state"], str(r["limits"]), str(r["budget"]))
    console.print(t)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (key_...)")], config: ConfigOpt = None) -> None:
    """Revoke a key: refused everywhere within access.cache_ttl_s."""
    rec = with_store(config, lambda s: revoke_key(s, key_id))
    console.print(f"revoked {rec.id} ({rec.name})")


@keys_app.command("rotate")
def rotate(key_id: Annotated[str, typer.Argument(help="the key's id (key_...)")], config: ConfigOpt = None) -> None:
    """Replace a key's secret; the old one stops working. Scopes, limits and usage history stay."""
    secret, rec = with_store(config, lambda s: rotate_key(s, key_id))
    print_secret(secret, f"Rotated key {rec.id} ({rec.name})")


@teams_app.command("set")
def set_team(
    name: Annotated[str, typer.Argument(help="team name")],
    members: Annotated[str | None, typer.Option(help="comma-separated members")] = None,
    scopes: ScopesOpt = None,
    rpm: Rpm = None,
    tpm: Tpm = None,
    concurrent: Conc = None,
    daily_usd: Daily = None,
    monthly_usd: Monthly = None,
    config: ConfigOpt = None,
) -> None:
    """Create or replace a team's members, default scopes, limits and budget."""
    data: dict[str, Any] = {"name": name, "scopes": parse_scopes(scopes)}
    data |= {"members": [m.strip() for m in (members or "").split(",") if m.strip()]}
    data |= _allowance(rpm, tpm, concurrent, daily_usd, monthly_usd)
    spec = _spec(TeamSpec, data)
    team = with_store(config, lambda s: put_team(s, spec))
    console.print(f"team {team.name}: {len(team.members)} member(s)")


@teams_app.command("list")
def list_teams(format: FormatOpt = "table", config: ConfigOpt = None) -> None:
    """List teams."""
    rows = [describe_team(t) for t in with_store(config, lambda s: s.teams())]
    if format == "json":
        print_json(rows)
        return
    t = Table("team", "members", "scopes", "limits", "budget")
    for r in rows:
        t.add_row(r["name"], ", ".join(r["members"]), str(r["scopes"]), str(r["limits"]), str(r["budget"]))
    console.print(t)
