"""How `hybridgate tco` shows a result: a plain-text summary with a tornado table, or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from hybridgate.economics.sensitivity import TornadoRow
from hybridgate.economics.tco import TcoResult


def _be(x: float | None) -> str:
    return "never" if x is None else f"{x:,.0f}"


def print_tco(
    r: TcoResult, rows: list[TornadoRow], band: float, basis: str, source: str, info: dict[str, Any], png: Path | None
) -> None:
    w, f = r.scenario.workload, r.scenario.fleet
    out = Console(width=140, soft_wrap=True, markup=False, highlight=False)
    out.print(
        f"Workload: {w.requests_per_month:,.0f} requests/month x ({w.tokens_in:,.0f} in + "
        f"{w.tokens_out:,.0f} out) tokens"
    )
    ap = info["api_price"]
    out.print(f"API ({info['api_model']}): ${r.api:,.2f}/month  [list price as of {ap['as_of']}, {ap['source']}]")
    sh = r.self_hosted
    out.print(
        f"Self-hosted: ${sh.total:,.2f}/month = {sh.replicas} replica(s) x {f.gpus_per_replica} GPU "
        f"x ${f.gpu_hourly_usd:.3f}/h (${sh.gpu:,.2f}) + ops {f.ops_hours:g} h x ${f.ops_rate:g} "
        f"(${sh.ops:,.2f})"
    )
    out.print(f"  GPU price: {info['gpu_price']}")
    out.print(
        f"  throughput {f.throughput_tps:,.0f} tok/s per replica ({basis}: {source}); utilisation {f.utilisation:.0%}"
    )
    hy = r.hybrid
    share = hy.self_hosted_requests / w.requests_per_month
    out.print(
        f"Hybrid: ${hy.total:,.2f}/month = {hy.replicas} replica(s) serving {share:.0%}, API for the rest "
        f"(${hy.api:,.2f})"
    )
    out.print(_break_even_line(r))
    out.print(f"Cheapest at this volume: {r.cheapest.replace('_', '-')}")
    table = Table(title=f"Sensitivity: each input +/-{band:.0%} (monthly savings = API - best self-hosted plan)")
    for col in ("input", "savings at -", "savings at +", "swing", "break-even at -", "break-even at +"):
        table.add_column(col, justify="right" if col != "input" else "left")
    for row in rows:
        table.add_row(
            row.input,
            f"{TornadoRow.savings(row.low):,.0f}",
            f"{TornadoRow.savings(row.high):,.0f}",
            f"{row.savings_swing:,.0f}",
            _be(row.low.break_even.first),
            _be(row.high.break_even.first),
        )
    out.print(table)
    if png is not None:
        out.print(f"chart: {png}")


def _break_even_line(r: TcoResult) -> str:
    be, s = r.break_even, r.scenario
    if be.first is None or be.sustained is None:
        api = s.api.per_request(s.workload)
        gpu = s.fleet.replica_monthly / s.fleet.capacity(s.workload)
        return (
            f"break-even: never. A request costs ${api:.6f} on the API and ${gpu:.6f} in GPU time "
            "self-hosted, so no volume pays for the fleet"
        )
    return (
        f"break-even: {be.first:,.0f} requests/month; self-hosting never costs more above "
        f"{be.sustained:,.0f} (without whole-replica steps: {_be(be.fluid)})"
    )


def tco_json(r: TcoResult, rows: list[TornadoRow], basis: str, info: dict[str, Any]) -> dict[str, Any]:
    be = r.break_even
    return {
        "api_monthly": r.api,
        "self_hosted_monthly": {
            "total": r.self_hosted.total,
            "gpu": r.self_hosted.gpu,
            "ops": r.self_hosted.ops,
            "replicas": r.self_hosted.replicas,
        },
        "hybrid_monthly": {
            "total": r.hybrid.total,
            "replicas": r.hybrid.replicas,
            "api_part": r.hybrid.api,
            "self_hosted_requests": r.hybrid.self_hosted_requests,
        },
        "break_even": {"first": be.first, "sustained": be.sustained, "fluid": be.fluid},
        "cheapest": r.cheapest,
        "throughput": {"tokens_per_s": r.scenario.fleet.throughput_tps, "basis": basis},
        "gpu_hourly_usd": r.scenario.fleet.gpu_hourly_usd,
        "sources": {"api": info["api_price"], "gpu": info["gpu_price"]},
        "tornado": [
            {
                "input": t.input,
                "savings_low": TornadoRow.savings(t.low),
                "savings_high": TornadoRow.savings(t.high),
                "break_even_low": t.low.break_even.first,
                "break_even_high": t.high.break_even.first,
            }
            for t in rows
        ],
    }
