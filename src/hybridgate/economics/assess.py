"""The five-step evaluation: data & regulation, volume, MLOps capacity, SLA, air gap -> a tier per workload.

The scenario table (first matching row wins; docs/economics.md explains each row):

    row  when                                                            tier
    A    the organisation or the workload is air-gapped                  air_gapped
    B    sensitive and non-sensitive data mixed in one workload, or      hybrid
         nothing sensitive, frontier reasoning needed on a volume past
         the break-even
    C    sensitive or regulated, MLOps team >= MIN_MLOPS engineers       self_hosted
    D    sensitive or regulated, smaller MLOps team                      managed
    E    past the break-even, no frontier need, MLOps >= MIN_MLOPS       self_hosted
    F    past the break-even, no frontier need, smaller MLOps team       managed
    G    everything else: low volume or frontier need, nothing sensitive closed_api
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hybridgate.economics.catalogue import Catalogue, PricingMode
from hybridgate.economics.inputs import FleetSpec, price_scenario
from hybridgate.economics.tco import Workload, evaluate
from hybridgate.economics.throughput import ThroughputTable
from hybridgate.labels import DataClass

Regulation = Literal["gdpr", "hipaa", "dora", "fedramp", "pci_dss"]
Tier = Literal["air_gapped", "hybrid", "self_hosted", "managed", "closed_api"]

MIN_MLOPS = 2  # on-call for a 24/7 fleet needs at least two people
TIGHT_P99_MS = 1000.0

# The data class a regulation implies for the data it covers.
REGULATION_FLOOR: dict[Regulation, DataClass] = {
    "gdpr": DataClass.CONFIDENTIAL,
    "dora": DataClass.CONFIDENTIAL,
    "hipaa": DataClass.RESTRICTED,
    "pci_dss": DataClass.RESTRICTED,
    "fedramp": DataClass.RESTRICTED,
}
REGULATION_NOTE: dict[Regulation, str] = {
    "gdpr": "GDPR: personal data needs a processor agreement (DPA) and EU/adequate-country processing",
    "hipaa": "HIPAA: any processor of PHI must sign a BAA; self-hosting avoids the third party entirely",
    "dora": "DORA: ICT third-party risk register, exit plan and concentration limits for AI providers",
    "fedramp": "FedRAMP: only FedRAMP-authorised cloud services (e.g. a Gov region) or your own boundary",
    "pci_dss": "PCI DSS: cardholder data keeps the provider in your PCI scope",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Strict):
    name: str = "my-org"
    mlops_engineers: float = Field(ge=0, description="people who can run GPU serving in production")
    air_gapped: bool = False


class Economics(_Strict):
    api_model: str = "gpt-4o"
    self_hosted_model: str = "llama-3.1-8b"
    gpu: str = "h100"
    pricing: PricingMode = "on_demand"
    gpus_per_replica: int = Field(1, ge=1)


class WorkloadAnswers(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,48}$")
    data_classes: list[DataClass] = Field(min_length=1)
    regulations: list[Regulation] = Field(default_factory=list)
    requests_per_month: float = Field(gt=0)
    tokens_in: float = Field(800, ge=0)
    tokens_out: float = Field(200, ge=0)
    p95_ms: float | None = Field(None, gt=0)
    p99_ms: float | None = Field(None, gt=0)
    needs_frontier: bool = False
    air_gapped: bool = False


class Answers(_Strict):
    organisation: Organisation
    economics: Economics = Field(default_factory=Economics)
    workloads: list[WorkloadAnswers] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the table reads, derived from the answers (volume checked against the TCO break-even)."""

    air_gapped: bool
    sensitive: bool
    mixed: bool
    needs_frontier: bool
    past_break_even: bool
    mlops_capable: bool
    tight_p99: bool


@dataclass(frozen=True, slots=True)
class Assessment:
    workload: str
    tier: Tier
    row: str
    reasons: tuple[str, ...]


def effective_classes(w: WorkloadAnswers) -> set[DataClass]:
    """A regulation names data the answers did not mark sensitive: the whole workload takes its floor."""
    classes = set(w.data_classes)
    if w.regulations and not any(c.rank >= DataClass.CONFIDENTIAL.rank for c in classes):
        floor = max((REGULATION_FLOOR[r] for r in w.regulations), key=lambda c: c.rank)
        classes = {floor}
    return classes


def facts(w: WorkloadAnswers, org: Organisation, break_even: float | None) -> Facts:
    classes = effective_classes(w)
    sensitive = any(c.rank >= DataClass.CONFIDENTIAL.rank for c in classes)
    public_part = any(c.rank < DataClass.CONFIDENTIAL.rank for c in classes)
    return Facts(
        air_gapped=org.air_gapped or w.air_gapped,
        sensitive=sensitive,
        mixed=sensitive and public_part,
        needs_frontier=w.needs_frontier,
        past_break_even=break_even is not None and w.requests_per_month >= break_even,
        mlops_capable=org.mlops_engineers >= MIN_MLOPS,
        tight_p99=w.p99_ms is not None and w.p99_ms <= TIGHT_P99_MS,
    )


def scenario_row(f: Facts) -> tuple[str, Tier, str]:
    """The table itself: pure, first match wins."""
    if f.air_gapped:
        return "A", "air_gapped", "air-gapped: no network path to any provider, everything runs on-site"
    if f.mixed or (f.needs_frontier and f.past_break_even and not f.sensitive):
        why = (
            "sensitive and non-sensitive data in one workload"
            if f.mixed
            else "frontier reasoning needed, but the bulk volume is past the break-even"
        )
        return "B", "hybrid", why + ": route per request"
    if f.sensitive:
        if f.mlops_capable:
            return "C", "self_hosted", "sensitive or regulated data and a team that can run the fleet"
        return (
            "D",
            "managed",
            (
                f"sensitive or regulated data but fewer than {MIN_MLOPS} MLOps engineers: "
                "a managed endpoint under a data-isolation agreement"
            ),
        )
    if f.past_break_even and not f.needs_frontier:
        if f.mlops_capable:
            return "E", "self_hosted", "volume past the break-even and a team that can run the fleet"
        return (
            "F",
            "managed",
            (
                f"volume past the break-even but fewer than {MIN_MLOPS} MLOps engineers: "
                "managed inference of an open-weight model"
            ),
        )
    why = "frontier reasoning needed" if f.needs_frontier else "volume below the break-even"
    return "G", "closed_api", why + " and nothing sensitive: a closed API is cheapest and simplest"


def assess_workload(w: WorkloadAnswers, org: Organisation, break_even: float | None) -> Assessment:
    f = facts(w, org, break_even)
    row, tier, why = scenario_row(f)
    reasons = [why]
    reasons += [REGULATION_NOTE[r] for r in w.regulations]
    be = "never (at these prices)" if break_even is None else f"{break_even:,.0f} req/month"
    reasons.append(f"volume {w.requests_per_month:,.0f} req/month; break-even {be}")
    if f.tight_p99 and tier in ("self_hosted", "hybrid", "air_gapped"):
        reasons.append(f"p99 <= {TIGHT_P99_MS:,.0f} ms: plan at least two replicas and keep utilisation low")
    if f.tight_p99 and tier in ("closed_api", "managed"):
        reasons.append("tight p99 on a shared service: ask for provisioned throughput or a latency SLA")
    if f.needs_frontier and tier in ("air_gapped", "self_hosted"):
        reasons.append("frontier-grade work must use the largest open-weight model you can host (e.g. 70B)")
    return Assessment(w.name, tier, row, tuple(reasons))


def break_even_for(w: WorkloadAnswers, eco: Economics, cat: Catalogue, table: ThroughputTable) -> float | None:
    """Step 2 of the evaluation: where this workload's volume stands against the TCO break-even."""
    spec = FleetSpec(eco.self_hosted_model, eco.gpu, eco.pricing, eco.gpus_per_replica)
    priced = price_scenario(cat, table, Workload(w.requests_per_month, w.tokens_in, w.tokens_out), eco.api_model, spec)
    return evaluate(priced.scenario).break_even.first


def assess_all(answers: Answers, cat: Catalogue, table: ThroughputTable) -> list[Assessment]:
    eco = answers.economics
    return [assess_workload(w, answers.organisation, break_even_for(w, eco, cat, table)) for w in answers.workloads]
