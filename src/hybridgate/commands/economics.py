"""`hybridgate tco | report | assess`: the economics commands. cli.py registers them:

    app.command("tco")(economics.tco)
    app.command("report")(economics.make_report(records_since))   # records_since(since_ts) -> records
    app.command("assess")(economics.assess)

Every input error exits with status 2 and a message that starts with the flag at fault.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from hybridgate.access.durations import parse_duration
from hybridgate.economics import render
from hybridgate.economics.assess import Answers, assess_all
from hybridgate.economics.catalogue import Catalogue, PricingMode, load_catalogue
from hybridgate.economics.charts import cost_vs_volume_png
from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.inputs import (
    DEFAULT_OPS_HOURS,
    DEFAULT_OPS_RATE,
    DEFAULT_UTILISATION,
    FleetSpec,
    price_scenario,
    resolve_fleet,
)
from hybridgate.economics.jsonl import read_jsonl
from hybridgate.economics.questionnaire import ask_answers
from hybridgate.economics.report import GroupBy, build_report
from hybridgate.economics.sensitivity import tornado
from hybridgate.economics.starter import starter_config, to_yaml
from hybridgate.economics.tco import Workload, evaluate, validate_workload
from hybridgate.economics.tco_view import print_tco, tco_json
from hybridgate.economics.throughput import load_throughputs
from hybridgate.errors import BadRequest, ConfigError, GatewayError
from hybridgate.settings import format_validation_error, parse_settings
from hybridgate.store.records import UsageRecord

RecordSource = Callable[[float], Iterable[UsageRecord]]  # since (unix seconds) -> records

SelfModel = Annotated[str, typer.Option(help="open-weight model to self-host (see data/throughputs.yaml)")]
Gpu = Annotated[str, typer.Option(help="GPU from the catalogue: h100, h200, a100-80g, l40s, a10g, l4, rtx4090")]
Pricing = Annotated[str, typer.Option(help="on_demand | reserved | owned (amortised purchase + power)")]
GpusPerReplica = Annotated[int, typer.Option(help="GPUs in one model replica (tensor parallel)")]
Utilisation = Annotated[float, typer.Option(help="planned average share of replica capacity, (0, 1]")]
OpsHours = Annotated[float, typer.Option(help="engineer-hours per month to run the fleet")]
OpsRate = Annotated[float, typer.Option(help="USD per engineer-hour")]
Throughput = Annotated[float | None, typer.Option(help="measured tokens/s per replica (overrides the table)")]
GpuHourly = Annotated[float | None, typer.Option(help="USD per GPU-hour (overrides the catalogue)")]
Prices = Annotated[Path | None, typer.Option(help="price override file, same shape as data/prices.yaml")]
_PRICING = ("on_demand", "reserved", "owned")


@contextmanager
def _flag_errors() -> Iterator[None]:
    """Turn our errors into `error: --flag: message` on stderr and exit status 2."""
    try:
        yield
    except EconomicsError as e:
        typer.echo(f"error: {e.flag()}: {e.message}", err=True)
        raise typer.Exit(2) from e
    except GatewayError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(2) from e


def _console() -> Console:
    return Console(width=140, soft_wrap=True, markup=False, highlight=False)


def _pricing(value: str) -> PricingMode:
    if value not in _PRICING:
        raise EconomicsError(f"unknown pricing mode {value!r}; use one of {', '.join(_PRICING)}", param="pricing")
    return cast(PricingMode, value)


def parse_since(value: str) -> float:
    try:
        return parse_duration(value, param="since")
    except BadRequest as e:
        raise EconomicsError(e.message, param="since") from e


def _catalogue(prices: Path | None) -> Catalogue:
    try:
        return load_catalogue(prices)
    except ConfigError as e:
        raise EconomicsError(e.message, param="prices") from e


def tco(
    requests_per_month: Annotated[float, typer.Option(help="requests per month")],
    tokens_in: Annotated[float, typer.Option(help="prompt tokens per request")],
    tokens_out: Annotated[float, typer.Option(help="completion tokens per request")],
    model: Annotated[str, typer.Option(help="API model to compare against")] = "gpt-4o",
    self_hosted_model: SelfModel = "llama-3.1-8b",
    gpu: Gpu = "h100",
    pricing: Pricing = "on_demand",
    gpus_per_replica: GpusPerReplica = 1,
    utilisation: Utilisation = DEFAULT_UTILISATION,
    ops_hours: OpsHours = DEFAULT_OPS_HOURS,
    ops_rate: OpsRate = DEFAULT_OPS_RATE,
    throughput: Throughput = None,
    gpu_hourly: GpuHourly = None,
    depreciation_months: Annotated[int | None, typer.Option(help="for --pricing owned")] = None,
    cached_in: Annotated[float, typer.Option(help="prompt tokens per request read from the API cache")] = 0.0,
    self_hosted_share: Annotated[float, typer.Option(help="share the hybrid plan must self-host")] = 0.0,
    min_replicas: Annotated[int, typer.Option(help="replicas kept up whatever the load")] = 1,
    band: Annotated[float, typer.Option(help="sensitivity band, 0.25 = +/-25%")] = 0.25,
    prices: Prices = None,
    png: Annotated[Path | None, typer.Option(help="write a cost-vs-volume chart here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Monthly cost on an API vs self-hosted vs hybrid, the break-even volume and its sensitivity."""
    with _flag_errors():
        cat = _catalogue(prices)
        spec = FleetSpec(
            self_hosted_model,
            gpu,
            _pricing(pricing),
            gpus_per_replica,
            utilisation,
            ops_hours,
            ops_rate,
            throughput,
            gpu_hourly,
            depreciation_months,
            min_replicas,
        )
        work = Workload(requests_per_month, tokens_in, tokens_out, cached_in)
        validate_workload(work)  # the volume is checked before names are looked up
        priced = price_scenario(cat, load_throughputs(), work, model, spec, self_hosted_share)
        result = evaluate(priced.scenario)
        rows = tornado(priced.scenario, band)
        if png is not None:
            png.write_bytes(cost_vs_volume_png(result, f"{model} vs {self_hosted_model} on {gpu}"))
        info = {
            "api_model": model,
            "api_price": cat.model(model).model_dump(mode="json"),
            "throughput": priced.throughput.__dict__ if hasattr(priced.throughput, "__dict__") else None,
            "gpu_price": priced.gpu_hourly_source,
        }
        if json_out:
            typer.echo(json.dumps(tco_json(result, rows, priced.throughput.basis, info), indent=2))
        else:
            print_tco(result, rows, band, priced.throughput.basis, priced.throughput.source, info, png)
            _warn_stale(cat)


def _warn_stale(cat: Catalogue) -> None:
    old = cat.stale(dt.date.today())
    if old:
        typer.echo(
            f"note: {len(old)} catalogue prices are over a year old ({', '.join(old[:4])}...): "
            "check them and override with --prices",
            err=True,
        )


def _parse_slas(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, _, ms = item.rpartition("=")
        try:
            out[name] = float(ms)
        except ValueError:
            raise EconomicsError(f"{item!r} is not WORKLOAD=MILLISECONDS", param="sla") from None
        if not name or out[name] <= 0:
            raise EconomicsError(f"{item!r} is not WORKLOAD=MILLISECONDS", param="sla")
    return out


def make_report(source: RecordSource | None = None) -> Callable[..., None]:
    """The `report` command reading records from `source` (the gateway's store) unless --records is given."""

    def report(
        since: Annotated[str, typer.Option(help="window: 30d, 12h, 2w")] = "30d",
        by: Annotated[str, typer.Option(help="workload = route_tag | team | key")] = "route_tag",
        format: Annotated[str, typer.Option(help="md | html")] = "md",
        out: Annotated[Path | None, typer.Option(help="write here (md: chart PNG next to it)")] = None,
        records: Annotated[Path | None, typer.Option(help="UsageRecords as JSON lines instead of the store")] = None,
        api_model: Annotated[str, typer.Option(help="API model for self-hosted requests")] = "gpt-4o-mini",
        self_hosted_model: SelfModel = "llama-3.1-8b",
        gpu: Gpu = "h100",
        pricing: Pricing = "on_demand",
        gpus_per_replica: GpusPerReplica = 1,
        utilisation: Utilisation = DEFAULT_UTILISATION,
        ops_hours: OpsHours = DEFAULT_OPS_HOURS,
        ops_rate: OpsRate = DEFAULT_OPS_RATE,
        throughput: Throughput = None,
        gpu_hourly: GpuHourly = None,
        sla: Annotated[list[str] | None, typer.Option(help="WORKLOAD=MS p95 target, repeatable")] = None,
        default_sla_ms: Annotated[float | None, typer.Option(help="p95 target for the others")] = None,
        prices: Prices = None,
    ) -> None:
        """Per-workload cost, counterfactual API / self-hosted cost, break-even and a recommendation."""
        with _flag_errors():
            window = parse_since(since)
            if by not in ("route_tag", "team", "key"):
                raise EconomicsError(f"unknown grouping {by!r}; use route_tag, team or key", param="by")
            if format not in ("md", "html"):
                raise EconomicsError(f"unknown format {format!r}; use md or html", param="format")
            cat = _catalogue(prices)
            if not cat.has_model(api_model):
                raise EconomicsError(f"no price for model {api_model!r} in the catalogue", param="api_model")
            slas = _parse_slas(sla or [])
            spec = FleetSpec(
                self_hosted_model,
                gpu,
                _pricing(pricing),
                gpus_per_replica,
                utilisation,
                ops_hours,
                ops_rate,
                throughput,
                gpu_hourly,
            )
            fleet, tput, _ = resolve_fleet(cat, load_throughputs(), spec)
            now = time.time()
            if records is not None:
                rows: Iterable[UsageRecord] = read_jsonl(records)
            elif source is not None:
                rows = source(now - window)
            else:
                raise EconomicsError("no usage store here: pass --records FILE.jsonl", param="records")
            reports = build_report(
                rows,
                by=cast(GroupBy, by),
                cat=cat,
                api_model=api_model,
                fleet=fleet,
                now=now,
                window_s=window,
                slas=slas,
                default_sla_ms=default_sla_ms,
            )
            meta = render.ReportMeta(
                since,
                by,
                api_model,
                f"{self_hosted_model} on {gpus_per_replica} x {gpu} at ${fleet.gpu_hourly_usd:.2f}"
                f"/GPU-h ({pricing}), {tput.tokens_per_s:,.0f} tok/s ({tput.basis}), "
                f"utilisation {utilisation:.0%}, ops ${fleet.ops_monthly:,.0f}/month",
                dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            )
            _write_report(reports, meta, format, out)

    return report


def _write_report(reports: list[Any], meta: render.ReportMeta, fmt: str, out: Path | None) -> None:
    if fmt == "html":
        text = render.to_html(reports, meta)
    else:
        chart_path = None
        if out is not None and reports:
            png = out.with_suffix(".png")
            png.write_bytes(render.chart(reports))
            chart_path = png.name
        text = render.to_markdown(reports, meta, chart_path)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


report = make_report()


def _load_answers(path: Path) -> Answers:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Answers.model_validate(data)
    except OSError as e:
        raise EconomicsError(f"cannot read {path}: {e.strerror}", param="answers") from e
    except yaml.YAMLError as e:
        raise EconomicsError(f"{path} is not valid YAML: {e}", param="answers") from e
    except ValidationError as e:
        raise EconomicsError(f"{path}: invalid answers\n{format_validation_error(e)}", param="answers") from e


def assess(
    answers: Annotated[Path | None, typer.Option(help="answers YAML; without it the questions are asked")] = None,
    out_config: Annotated[Path | None, typer.Option(help="write a starter hybridgate.yaml here")] = None,
    prices: Prices = None,
) -> None:
    """The five-step evaluation: a deployment tier per workload, with reasons, and a starter config."""
    with _flag_errors():
        ans = _load_answers(answers) if answers is not None else ask_answers()
        cat = _catalogue(prices)
        results = assess_all(ans, cat, load_throughputs())
        table = Table(title="Deployment tier per workload")
        for col in ("workload", "tier", "row", "reasons"):
            table.add_column(col)
        for a in results:
            table.add_row(a.workload, a.tier.replace("_", " "), a.row, "\n".join(a.reasons))
        _console().print(table)
        if out_config is not None:
            config = starter_config(ans, results, cat)
            parse_settings(config, str(out_config))  # never write a config the gateway would reject
            out_config.write_text(to_yaml(config, results), encoding="utf-8")
            typer.echo(f"wrote {out_config}; check it with: hybridgate check --config {out_config}")
