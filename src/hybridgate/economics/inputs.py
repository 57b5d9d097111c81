"""From names (API model, self-hosted model, GPU, pricing mode) to a priced Scenario, with provenance."""

from __future__ import annotations

from dataclasses import dataclass

from hybridgate.economics.catalogue import Catalogue, PricingMode
from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.pricing import gpu_hourly_usd
from hybridgate.economics.tco import ApiPrice, Fleet, Scenario, Workload
from hybridgate.economics.throughput import Throughput, ThroughputTable, check_fits, reference_throughput

DEFAULT_OPS_HOURS = 40.0  # a quarter of an engineer: upgrades, on-call, capacity reviews
DEFAULT_OPS_RATE = 120.0  # USD per fully loaded engineer-hour
DEFAULT_UTILISATION = 0.6  # average load a fleet sized for peaks runs at


@dataclass(frozen=True, slots=True)
class FleetSpec:
    self_hosted_model: str = "llama-3.1-8b"
    gpu: str = "h100"
    pricing: PricingMode = "on_demand"
    gpus_per_replica: int = 1
    utilisation: float = DEFAULT_UTILISATION
    ops_hours: float = DEFAULT_OPS_HOURS
    ops_rate: float = DEFAULT_OPS_RATE
    throughput: float | None = None  # tokens/s per replica; None: the reference table
    gpu_hourly: float | None = None  # USD per GPU-hour; None: the catalogue under `pricing`
    depreciation_months: int | None = None
    min_replicas: int = 1


@dataclass(frozen=True, slots=True)
class Priced:
    scenario: Scenario
    api_model: str
    throughput: Throughput
    gpu_hourly_source: str


def api_price(cat: Catalogue, model: str) -> ApiPrice:
    p = cat.model(model)
    return ApiPrice(p.input, p.output, p.cached_input)


def resolve_fleet(cat: Catalogue, table: ThroughputTable, spec: FleetSpec) -> tuple[Fleet, Throughput, str]:
    gpu = cat.gpu(spec.gpu)
    if spec.gpus_per_replica < 1:
        raise EconomicsError("a replica needs at least one GPU", param="gpus_per_replica")
    if spec.throughput is not None:
        if spec.throughput <= 0:
            raise EconomicsError("throughput must be positive", param="throughput")
        tput = Throughput(spec.throughput, "configured", "--throughput")
    else:
        check_fits(table, cat, spec.self_hosted_model, spec.gpu, spec.gpus_per_replica)
        tput = reference_throughput(table, cat, spec.self_hosted_model, spec.gpu, spec.gpus_per_replica)
    if spec.gpu_hourly is not None:
        hourly, source = spec.gpu_hourly, "--gpu-hourly"
    else:
        hourly = gpu_hourly_usd(gpu, spec.pricing, catalogue=cat, depreciation_months=spec.depreciation_months)
        source = f"{cat.gpu_name(spec.gpu)} {spec.pricing} ({gpu.source}, as of {gpu.as_of})"
    fleet = Fleet(
        hourly,
        spec.gpus_per_replica,
        tput.tokens_per_s,
        spec.utilisation,
        spec.ops_hours,
        spec.ops_rate,
        spec.min_replicas,
    )
    return fleet, tput, source


def price_scenario(
    cat: Catalogue,
    table: ThroughputTable,
    workload: Workload,
    api_model: str,
    spec: FleetSpec,
    self_hosted_share: float = 0.0,
) -> Priced:
    api = api_price(cat, api_model)
    fleet, tput, source = resolve_fleet(cat, table, spec)
    return Priced(Scenario(workload, api, fleet, self_hosted_share), api_model, tput, source)
