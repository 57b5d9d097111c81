"""Reference throughputs of self-hosted replicas, each with its source, and their scaling to other GPUs.

A throughput is total tokens per second (prompt + completion) one replica sustains when saturated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridgate.economics.catalogue import Catalogue
from hybridgate.economics.errors import EconomicsError
from hybridgate.errors import ConfigError
from hybridgate.settings import format_validation_error

# Adding GPUs to one replica (tensor parallelism) does not scale linearly: communication costs ~20%.
TP_EFFICIENCY = 0.8
# Weights need headroom for the KV cache and activations, or the replica serves almost nothing.
MEMORY_HEADROOM = 1.2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfHostedModel(_Strict):
    params_b: float = Field(gt=0)
    weights_gb: float = Field(gt=0, description="bf16 weights")
    aliases: list[str] = Field(default_factory=list)


class Measurement(_Strict):
    model: str
    gpu: str
    gpus: int = Field(ge=1)
    tokens_per_s: float = Field(gt=0)
    basis: Literal["measured", "estimate"]
    source: str


class ThroughputTable(_Strict):
    version: int = 1
    models: dict[str, SelfHostedModel]
    measurements: list[Measurement]

    def canonical(self, name: str) -> str:
        key = name.strip().lower()
        for k, v in self.models.items():
            if key == k.lower() or key in (a.lower() for a in v.aliases):
                return k
        raise EconomicsError(
            f"unknown self-hosted model {name!r}; known: {', '.join(sorted(self.models))} "
            "(or pass --throughput to give your own measurement)",
            param="self_hosted_model",
        )


@dataclass(frozen=True, slots=True)
class Throughput:
    tokens_per_s: float
    basis: str  # measured | estimate | derived | configured
    source: str


def load_throughputs() -> ThroughputTable:
    return _load()


@lru_cache(maxsize=1)
def _load() -> ThroughputTable:
    text = resources.files("hybridgate").joinpath("data/throughputs.yaml").read_text(encoding="utf-8")
    try:
        return ThroughputTable.model_validate(yaml.safe_load(text))
    except ValidationError as e:
        raise ConfigError(f"data/throughputs.yaml: invalid\n{format_validation_error(e)}") from e


def check_fits(table: ThroughputTable, cat: Catalogue, model: str, gpu: str, gpus: int) -> None:
    need = table.models[table.canonical(model)].weights_gb * MEMORY_HEADROOM
    have = cat.gpu(gpu).memory_gb * gpus
    if have < need:
        raise EconomicsError(
            f"{model} needs ~{need:.0f} GB of GPU memory (bf16 weights + headroom); {gpus} x {gpu} has "
            f"{have:.0f} GB: raise --gpus-per-replica or pick a larger GPU",
            param="gpus_per_replica",
        )


def reference_throughput(table: ThroughputTable, cat: Catalogue, model: str, gpu: str, gpus: int) -> Throughput:
    """The exact measurement when there is one; otherwise the closest one of the same model, scaled."""
    name = table.canonical(model)
    gpu_key = cat.gpu_name(gpu)
    rows = [m for m in table.measurements if m.model == name]
    if not rows:
        raise EconomicsError(f"no reference throughput for {name}; pass --throughput", param="throughput")
    exact = [m for m in rows if m.gpu == gpu_key and m.gpus == gpus]
    if exact:
        return Throughput(exact[0].tokens_per_s, exact[0].basis, exact[0].source)
    base = min(rows, key=lambda m: (m.gpus != gpus, m.gpu != gpu_key, abs(m.gpus - gpus)))
    return Throughput(_scale(base, cat, gpu_key, gpus), "derived", _derived_note(base, gpu_key, gpus))


def _scale(base: Measurement, cat: Catalogue, gpu: str, gpus: int) -> float:
    ratio = cat.gpu(gpu).relative_throughput / cat.gpu(base.gpu).relative_throughput
    per_gpu = gpus / base.gpus
    if gpus > base.gpus:
        per_gpu *= TP_EFFICIENCY
    return base.tokens_per_s * ratio * per_gpu


def _derived_note(base: Measurement, gpu: str, gpus: int) -> str:
    return (
        f"scaled from {base.model} on {base.gpus} x {base.gpu} ({base.tokens_per_s:.0f} tok/s, {base.basis}) "
        f"to {gpus} x {gpu} by relative GPU throughput and GPU count"
        + (f" at {TP_EFFICIENCY:.0%} tensor-parallel efficiency" if gpus > base.gpus else "")
    )
