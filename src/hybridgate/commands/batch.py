"""`hybridgate batch submit|status|results|cancel|list`, `hybridgate queue stats`, `hybridgate worker`.

The batch commands talk to a running gateway over HTTP with the openai SDK, exactly as any client
would; `queue stats` and `worker` read the config and open the queue themselves.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hybridgate.commands.output import print_json

batch_app = typer.Typer(no_args_is_help=True, help="Submit and follow batches on a running gateway.")
queue_app = typer.Typer(no_args_is_help=True, help="Inspect the async job queue.")
console = Console()
err_console = Console(stderr=True)
FINAL = ("completed", "failed", "expired", "cancelled")

UrlOpt = Annotated[str, typer.Option("--url", help="Gateway base URL")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="API key (default: $HYBRIDGATE_API_KEY)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
DEFAULT_URL = "http://127.0.0.1:8080"


def client(url: str, api_key: str | None) -> Any:
    from openai import OpenAI

    key = api_key or os.environ.get("HYBRIDGATE_API_KEY") or "sk-local"
    return OpenAI(base_url=url.rstrip("/") + "/v1", api_key=key, max_retries=2)


def _fail(e: Exception) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {e}")
    return typer.Exit(1)


@contextmanager
def _sdk_errors() -> Iterator[None]:
    """An error from the SDK (HTTP status, connection) is one line on stderr and exit status 1."""
    import openai

    try:
        yield
    except openai.OpenAIError as e:
        raise _fail(e) from None


def _print(obj: Any, as_json: bool) -> None:
    data = obj.model_dump() if hasattr(obj, "model_dump") else obj
    if as_json:
        print_json(data)
        return
    rc = data.get("request_counts") or {}
    console.print(
        f"{data['id']}: [bold]{data['status']}[/bold]  {rc.get('completed', 0)} completed, "
        f"{rc.get('failed', 0)} failed of {rc.get('total', 0)}  output={data.get('output_file_id')} "
        f"errors={data.get('error_file_id')}"
    )


def follow(c: Any, batch_id: str, poll_s: float = 1.0) -> Any:
    """Poll until the batch ends, with a progress bar on stderr."""
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*cols, console=err_console, transient=False) as bar:
        task = bar.add_task(batch_id, total=None)
        while True:
            b = c.batches.retrieve(batch_id)
            rc = b.request_counts
            if rc is not None:
                bar.update(task, total=rc.total or None, completed=rc.completed + rc.failed, description=b.status)
            if b.status in FINAL:
                return b
            time.sleep(poll_s)


@batch_app.command("submit")
def submit(
    file: Annotated[Path, typer.Argument(help="JSONL file: one {custom_id, method, url, body} per line")],
    deadline: Annotated[str, typer.Option(help="Completion window, e.g. 24h, 30m")] = "24h",
    wait: Annotated[bool, typer.Option("--wait", help="Follow progress until the batch ends")] = False,
    endpoint: Annotated[str, typer.Option(help="The lines' endpoint")] = "/v1/chat/completions",
    url: UrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload FILE and start a batch."""
    if not file.is_file():
        raise _fail(FileNotFoundError(f"no such file: {file}"))
    c = client(url, api_key)
    with _sdk_errors():
        with file.open("rb") as fh:
            f = c.files.create(file=(file.name, fh), purpose="batch")
        b = c.batches.create(input_file_id=f.id, endpoint=endpoint, completion_window=deadline)
        if wait:
            b = follow(c, b.id)
    _print(b, as_json)
    if wait and b.status != "completed":
        raise typer.Exit(1)


@batch_app.command("status")
def status(batch_id: str, url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Status and request counts of a batch."""
    with _sdk_errors():
        _print(client(url, api_key).batches.retrieve(batch_id), as_json)


@batch_app.command("results")
def results(
    batch_id: str,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout")] = None,
    errors: Annotated[bool, typer.Option("--errors", help="The error file instead of the output file")] = False,
    url: UrlOpt = DEFAULT_URL,
    api_key: KeyOpt = None,
) -> None:
    """Download a finished batch's output (or error) file."""
    c = client(url, api_key)
    with _sdk_errors():
        b = c.batches.retrieve(batch_id)
        fid = b.error_file_id if errors else b.output_file_id
        if fid is None:
            err_console.print(f"batch {batch_id} ({b.status}) has no {'error' if errors else 'output'} file")
            raise typer.Exit(1)
        data = c.files.content(fid).content
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)


@batch_app.command("cancel")
def cancel(batch_id: str, url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel a batch: queued lines are not run; finished ones stay in the output file."""
    with _sdk_errors():
        _print(client(url, api_key).batches.cancel(batch_id), as_json)


@batch_app.command("list")
def list_batches(url: UrlOpt = DEFAULT_URL, api_key: KeyOpt = None, limit: int = 20) -> None:
    """Your most recent batches."""
    t = Table("id", "status", "completed", "failed", "total")
    with _sdk_errors():
        for b in client(url, api_key).batches.list(limit=limit).data:
            rc = b.request_counts
            t.add_row(b.id, b.status, *(str(getattr(rc, k, 0)) for k in ("completed", "failed", "total")))
    console.print(t)


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config")]


@queue_app.command("stats")
def queue_stats(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Ready, leased, delayed and dead-lettered jobs, and job counts by status."""
    from hybridgate.cli import resolve_settings
    from hybridgate.errors import GatewayError
    from hybridgate.jobs.inspect import gather_stats

    settings = resolve_settings(config)
    try:
        stats = asyncio.run(gather_stats(settings.jobs))
    except GatewayError as e:
        raise _fail(e) from None
    if as_json:
        print_json(stats)
        return
    t = Table(title=f"queue ({stats['queue']['backend']})", show_header=False)
    for k, v in stats["queue"].items():
        t.add_row(k, str(v))
    for k, v in stats["jobs"].items():
        t.add_row(f"jobs {k}", str(v))
    console.print(t)
    for job_id, error in stats["dead_letters"]:
        console.print(f"[red]dead[/red] {job_id}: {error}")


def worker(
    config: ConfigOpt = None,
    concurrency: Annotated[int | None, typer.Option(min=1, max=1024, help="Jobs run at once")] = None,
) -> None:
    """Run jobs from the queue in this process (alongside or instead of the gateway's own workers)."""
    from hybridgate.app import standalone_pipeline
    from hybridgate.cli import resolve_settings
    from hybridgate.jobs.standalone import run_worker

    settings = resolve_settings(config)
    err_console.print(f"hybridgate worker: queue={settings.jobs.queue}")

    async def main() -> None:
        async with standalone_pipeline(settings) as pipeline:
            await run_worker(settings, lambda: pipeline, concurrency=concurrency)

    asyncio.run(main())
