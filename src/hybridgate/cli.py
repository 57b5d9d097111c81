"""`hybridgate serve | check | route explain | ...` — the command line."""

from __future__ import annotations

import asyncio
import ipaddress
import multiprocessing
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from hybridgate.commands import bench, economics
from hybridgate.commands.audit import audit_app
from hybridgate.commands.batch import batch_app, queue_app
from hybridgate.commands.batch import worker as worker_command
from hybridgate.commands.detect import detect_command
from hybridgate.commands.keys import keys_app, teams_app
from hybridgate.commands.router import router_app
from hybridgate.commands.usage import records_since
from hybridgate.commands.usage import usage as usage_command
from hybridgate.errors import ConfigError, GatewayError
from hybridgate.settings import Settings, load_settings

if TYPE_CHECKING:
    from hybridgate.sidecar.ner_server import Sidecar

app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help="hybridgate: a hybrid LLM gateway."
)
route_app = typer.Typer(no_args_is_help=True, help="Inspect routing decisions.")
app.add_typer(route_app, name="route")
app.add_typer(router_app, name="router", help="Train, evaluate and run the complexity router.")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(teams_app, name="teams")
app.add_typer(batch_app, name="batch")
app.add_typer(queue_app, name="queue")
app.command("worker", help="Run async and batch jobs from the queue.")(worker_command)
app.command("usage", help="Requests, tokens and cost from the usage records, grouped.")(usage_command)
app.command("detect", help="Find personal data and secrets in text or in a JSONL file of requests.")(detect_command)
app.command("tco", help="Monthly cost of API vs self-hosted vs hybrid, and the break-even volume.")(economics.tco)
app.command("report", help="Per-workload cost and break-even report from usage records.")(
    economics.make_report(records_since)
)
app.command("assess", help="The five-step self-hosting assessment; writes a starter config.")(economics.assess)
app.command("bench", help="Gateway overhead vs direct, a bare proxy and LiteLLM (bench/overhead).")(bench.bench)
console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: $HYBRIDGATE_CONFIG or built-in)")
]


def resolve_settings(config: Path | None, *, announce: bool = False) -> Settings:
    from hybridgate.defaults import default_settings, describe

    path = config or (Path(os.environ["HYBRIDGATE_CONFIG"]) if os.environ.get("HYBRIDGATE_CONFIG") else None)
    try:
        if path is not None:
            return load_settings(path)
        settings = default_settings()
    except ConfigError as e:
        err_console.print(f"[red]error:[/red] {e.message}")
        raise typer.Exit(2) from None
    if announce:
        err_console.print("No config file given: using built-in defaults")
        for line in describe(settings):
            err_console.print("  " + line)
    return settings


@app.command()
def check(config: ConfigOpt = None) -> None:
    """Validate a config file; exit non-zero with the YAML path of each error."""
    settings = resolve_settings(config)
    console.print(
        f"OK: {len(settings.endpoints)} endpoints, {len(settings.tiers)} tiers, "
        f"default tier {settings.policy.default_tier}"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Connections the kernel holds for the worker before it accepts them (capped by net.core.somaxconn).
# aiohttp's default is 128: a burst of new client connections larger than that while the worker is busy
# (a pause, a spike of new clients) overflows the queue, and Linux drops the SYNs or handshake ACKs, which
# the clients resend only after 1, 3, 7... s. The worker then idles while requests wait in retransmission,
# and a rate it sustains turns into seconds of latency that outlast the burst.
LISTEN_BACKLOG = 2048


def _run_worker(settings_json: bytes, host: str, port: int, reuse: bool) -> None:
    from aiohttp import web

    from hybridgate.api.heap import freeze_startup_heap
    from hybridgate.app import build_app
    from hybridgate.settings import Settings

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    settings = Settings.model_validate_json(settings_json)
    application = build_app(settings)
    application.on_startup.append(freeze_startup_heap)  # after build_app's model warm-up
    web.run_app(
        application,
        host=host,
        port=port,
        reuse_port=reuse,
        backlog=LISTEN_BACKLOG,
        print=None,
        access_log=None,
        handle_signals=True,
    )


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (SO_REUSEPORT)")] = 1,
) -> None:
    """Run the gateway."""
    settings = resolve_settings(config, announce=True)
    from hybridgate.app import keys_configured

    open_mode = not keys_configured(settings)
    if open_mode and not _is_loopback(host) and not settings.server.allow_open:
        err_console.print(
            f"[red]refusing to start:[/red] binding {host} with no API keys configured would "
            "expose the gateway to anyone. Create a key (`hybridgate keys create`) or bind 127.0.0.1."
        )
        raise typer.Exit(2)
    if open_mode:
        err_console.print("[yellow]warning:[/yellow] no API keys configured: the gateway is open on loopback")
    err_console.print(f"hybridgate listening on http://{host}:{port} ({workers} worker(s))")
    sidecar = _start_ner_sidecar(settings)
    if sidecar is not None:  # the workers reach the one NER model through its socket
        detection = settings.detection.model_copy(update={"ner_socket": sidecar.path})
        settings = settings.model_copy(update={"detection": detection})
    try:
        _serve_workers(settings, host, port, workers)
    finally:
        if sidecar is not None:
            sidecar.stop()


def _start_ner_sidecar(settings: Settings) -> Sidecar | None:
    from hybridgate.detect.pii.ner import ner_available
    from hybridgate.sidecar import ner_server

    if not ner_server.needs_sidecar(settings.detection, ner_available()):
        return None
    return ner_server.start(settings.detection)


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    payload = settings.model_dump_json().encode()
    if workers == 1:
        _run_worker(payload, host, port, False)
        return
    from hybridgate.observe.metrics import prepare_multiprocess

    prepare_multiprocess(workers)  # before the workers start: they aggregate metrics through these files
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_run_worker, args=(payload, host, port, True)) for _ in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()


async def _explain_plan(pipeline: Any, body: dict[str, Any], headers: dict[str, str]) -> Any:
    plan = await pipeline.plan("chat", body, headers, "cli")
    await pipeline.deepen(plan)
    return plan


@route_app.command("explain")
def route_explain(
    prompt: Annotated[str, typer.Argument(help="The user message to route")],
    config: ConfigOpt = None,
    model: Annotated[str, typer.Option(help="Requested model")] = "auto",
    data_class: Annotated[str | None, typer.Option("--data-class", help="Declared data class")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show how a prompt would be routed, without calling any model."""
    from hybridgate.api.server import explain_body
    from hybridgate.app import Overrides, build_pipeline

    settings = resolve_settings(config)
    pipeline = build_pipeline(settings, Overrides(), [])
    headers = {"x-hybridgate-data-class": data_class} if data_class else {}
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    try:
        plan = asyncio.run(_explain_plan(pipeline, body, headers))
    except GatewayError as e:
        err_console.print(f"[red]{e.status}[/red] {e.message}")
        raise typer.Exit(1) from None
    out = explain_body(plan)
    if as_json:
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    t = Table(title="routing decision", show_header=False)
    for k, v in out["signals"].items():
        t.add_row(f"signal.{k}", str(v))
    for k, v in out["decision"].items():
        t.add_row(f"decision.{k}", str(v))
    for i, c in enumerate(out["candidates"]):
        t.add_row(f"candidate {i + 1}", f"{c['endpoint']} ({c['trust']}) model={c['model']} tier={c['tier']}")
    if not out["candidates"]:
        t.add_row("candidates", "none: the request would get 403/503 and go nowhere")
    console.print(t)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def main() -> None:
    app()


@app.command()
def status(
    url: Annotated[str, typer.Option(help="Gateway base URL")] = "http://127.0.0.1:8080",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Endpoint health, breakers and load of a running gateway (from its /readyz)."""
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/readyz", timeout=5)
        body = r.json()
    except (httpx.HTTPError, ValueError) as e:
        err_console.print(f"[red]cannot read {url}/readyz:[/red] {e}")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        raise typer.Exit(0 if body.get("ready") else 1)
    t = Table(title=f"hybridgate at {url}: {'ready' if body.get('ready') else 'NOT ready'}")
    for col in ("endpoint", "trust", "reachable", "healthy", "breaker", "in flight", "load"):
        t.add_column(col)
    for name, ep in body.get("endpoints", {}).items():
        load = ("OVERLOADED " if ep.get("overloaded") else "") + (ep.get("load") or "")
        t.add_row(
            name,
            ep.get("trust", ""),
            str(ep.get("reachable")),
            str(ep.get("healthy")),
            ep.get("breaker", ""),
            str(ep.get("in_flight")),
            load,
        )
    console.print(t)
    for tier, ok in body.get("tiers", {}).items():
        console.print(f"tier {tier}: {'up' if ok else 'DOWN'}")
    raise typer.Exit(0 if body.get("ready") else 1)
