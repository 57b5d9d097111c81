"""`hybridgate bench`: run the gateway-overhead benchmark (bench/overhead/run.py) from a checkout.

The harness lives in the repository, not the package: it starts fake upstreams, a bare proxy,
hybridgate and LiteLLM, drives them with wrk, and writes bench/results/overhead-<time>.{json,md,png}.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

HARNESS = Path("bench") / "overhead" / "run.py"


def find_harness(start: Path, package_file: Path) -> Path | None:
    """The harness in the current directory or above, else in the checkout this package runs from."""
    for base in (start, *start.parents, *package_file.parents):
        candidate = base / HARNESS
        if candidate.is_file():
            return candidate
    return None


def harness_argv(
    harness: Path, *, quick: bool, seconds: float, targets: str | None, soak: float, python: str
) -> list[str]:
    argv = [python, str(harness)]
    if quick:
        argv.append("--quick")
    else:
        argv += ["--seconds", f"{seconds:g}"]
    if targets:
        argv += ["--targets", targets]
    if soak > 0:
        argv += ["--soak", f"{soak:g}"]
    return argv


def bench(
    quick: Annotated[bool, typer.Option("--quick", help="4 s per load point (about 5 minutes in all)")] = False,
    seconds: Annotated[float, typer.Option(help="seconds per load point (ignored with --quick)")] = 10.0,
    targets: Annotated[
        str | None, typer.Option(help="comma-separated: direct,bare,hg-min,hg-full-noner,hg-full,litellm")
    ] = None,
    soak: Annotated[float, typer.Option(help="also soak hg-full for this many seconds (600: the 10-minute soak)")] = 0,
) -> None:
    """Measure what hybridgate adds over calling the upstream directly, next to a bare proxy and LiteLLM."""
    harness = find_harness(Path.cwd(), Path(__file__).resolve())
    if harness is None:
        typer.echo(f"cannot find {HARNESS}: run this from a hybridgate checkout", err=True)
        raise typer.Exit(2)
    if shutil.which("wrk") is None:
        typer.echo("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)", err=True)
        raise typer.Exit(2)
    argv = harness_argv(harness, quick=quick, seconds=seconds, targets=targets, soak=soak, python=sys.executable)
    raise typer.Exit(subprocess.call(argv))
