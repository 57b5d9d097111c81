"""The five questions asked interactively (typer prompts); the same Answers a YAML file gives."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from hybridgate.economics.assess import Answers
from hybridgate.economics.errors import EconomicsError
from hybridgate.settings import format_validation_error


def _list(text: str) -> list[str]:
    return [x.strip().lower() for x in text.split(",") if x.strip()]


def _workload(n: int) -> dict[str, Any]:
    typer.echo(f"\nWorkload {n}")
    name = typer.prompt("  name (the x-hybridgate-purpose tag)", default=f"workload-{n}")
    classes = typer.prompt("  1. data classes present (public, internal, confidential, restricted)", default="internal")
    regs = typer.prompt(
        "  1. regulations (gdpr, hipaa, dora, fedramp, pci_dss; empty for none)", default="", show_default=False
    )
    return {
        "name": name,
        "data_classes": _list(classes),
        "regulations": _list(regs),
        "requests_per_month": typer.prompt("  2. requests per month", type=float),
        "tokens_in": typer.prompt("  2. prompt tokens per request", default=800.0),
        "tokens_out": typer.prompt("  2. completion tokens per request", default=200.0),
        "p95_ms": typer.prompt("  4. p95 latency SLA in ms (0 for none)", default=0.0) or None,
        "p99_ms": typer.prompt("  4. p99 latency SLA in ms (0 for none)", default=0.0) or None,
        "needs_frontier": typer.confirm("  needs frontier-level reasoning?", default=False),
    }


def ask_answers() -> Answers:
    typer.echo("The five-step evaluation: data & regulation, volume, MLOps capacity, SLA, air gap.")
    org = {
        "name": typer.prompt("Organisation", default="my-org"),
        "mlops_engineers": typer.prompt("3. engineers who can run GPU serving in production", type=float),
        "air_gapped": typer.confirm("5. must everything run air-gapped?", default=False),
    }
    workloads = [_workload(1)]
    while typer.confirm("Add another workload?", default=False):
        workloads.append(_workload(len(workloads) + 1))
    try:
        return Answers.model_validate({"organisation": org, "workloads": workloads})
    except ValidationError as e:
        raise EconomicsError(f"invalid answers\n{format_validation_error(e)}", param="answers") from e
