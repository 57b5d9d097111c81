"""The price catalogue: API prices per million tokens and GPU prices per hour, shipped and editable.

The shipped file is `hybridgate/data/prices.yaml`. An override file (same shape, any subset) replaces or
adds entries key by key, so a user can correct one price without copying the whole catalogue.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybridgate.economics.errors import EconomicsError
from hybridgate.errors import ConfigError
from hybridgate.settings import format_validation_error

OVERRIDE_ENV = "HYBRIDGATE_PRICES"
PricingMode = Literal["on_demand", "reserved", "owned"]
_Entry = TypeVar("_Entry", "ModelPrice", "GpuPrice")
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelPrice(_Strict):
    provider: str
    input: float = Field(ge=0, description="USD per million prompt tokens")
    output: float = Field(ge=0, description="USD per million completion tokens")
    cached_input: float | None = Field(None, ge=0, description="USD per million cache-read prompt tokens")
    as_of: dt.date
    source: str
    aliases: list[str] = Field(default_factory=list)


class GpuPrice(_Strict):
    memory_gb: float = Field(gt=0)
    on_demand: float | None = Field(None, gt=0, description="USD per GPU-hour")
    reserved: float | None = Field(None, gt=0, description="USD per GPU-hour, committed use")
    purchase_usd: float | None = Field(None, gt=0, description="one GPU's share of its server")
    power_kw: float = Field(0.0, ge=0)
    relative_throughput: float = Field(1.0, gt=0, description="decode speed relative to an H100 SXM")
    as_of: dt.date
    source: str
    aliases: list[str] = Field(default_factory=list)


class OwnedDefaults(_Strict):
    depreciation_months: int = Field(36, ge=1)
    usd_per_kwh: float = Field(0.15, ge=0)
    pue: float = Field(1.4, ge=1)


class Catalogue(_Strict):
    version: int = 1
    status: str = "list_prices_to_check"
    owned: OwnedDefaults = Field(default_factory=OwnedDefaults)
    models: dict[str, ModelPrice] = Field(default_factory=dict)
    gpus: dict[str, GpuPrice] = Field(default_factory=dict)

    def model(self, name: str) -> ModelPrice:
        """Exact name, alias, `provider/name`, or a dated snapshot (`gpt-4o-2024-08-06`)."""
        found = _lookup(self.models, name)
        if found is None:
            raise EconomicsError(
                f"no price for model {name!r} in the catalogue; known: {', '.join(sorted(self.models))}. "
                f"Add it to an override file ({OVERRIDE_ENV} or --prices)",
                param="model",
            )
        return found

    def has_model(self, name: str) -> bool:
        return _lookup(self.models, name) is not None

    def gpu(self, name: str) -> GpuPrice:
        found = _lookup(self.gpus, name)
        if found is None:
            raise EconomicsError(f"unknown GPU {name!r}; known: {', '.join(sorted(self.gpus))}", param="gpu")
        return found

    def gpu_name(self, name: str) -> str:
        """The catalogue key for a GPU name or alias."""
        target = self.gpu(name)
        return next(k for k, v in self.gpus.items() if v is target)

    def stale(self, today: dt.date, max_age_days: int = 365) -> list[str]:
        """Entries older than `max_age_days`: prices that most likely changed since."""
        entries: dict[str, ModelPrice | GpuPrice] = {**self.models, **self.gpus}
        return sorted(k for k, v in entries.items() if (today - v.as_of).days > max_age_days)


def _lookup(table: dict[str, _Entry], name: str) -> _Entry | None:
    key = name.strip().lower()
    candidates = [key, key.split("/", 1)[1] if "/" in key else key, _DATE_SUFFIX.sub("", key)]
    for cand in candidates:
        for k, v in table.items():
            if cand == k.lower() or cand in (a.lower() for a in v.aliases):
                return v
    return None


def _read_yaml(path: Path | None) -> dict[str, Any]:
    try:
        if path is None:
            text = resources.files("hybridgate").joinpath("data/prices.yaml").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except OSError as e:
        raise EconomicsError(f"cannot read price file {path}: {e.strerror}", param="prices") from e
    except yaml.YAMLError as e:
        raise EconomicsError(f"price file {path} is not valid YAML: {e}", param="prices") from e
    if not isinstance(data, dict):
        raise EconomicsError(f"price file {path}: expected a mapping at the top level", param="prices")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override replaces whole entries under `models` / `gpus` and single keys elsewhere."""
    out = dict(base)
    for key, value in override.items():
        if key in ("models", "gpus", "owned") and isinstance(value, dict):
            out[key] = {**base.get(key, {}), **value}
        else:
            out[key] = value
    return out


def parse_catalogue(data: dict[str, Any], source: str = "<prices>") -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid price catalogue\n{format_validation_error(e)}") from e


def load_catalogue(override: str | Path | None = None) -> Catalogue:
    """The shipped catalogue, merged with `override` (or the file named by $HYBRIDGATE_PRICES)."""
    path = override if override is not None else os.environ.get(OVERRIDE_ENV) or None
    return _load(str(path) if path is not None else None)


@lru_cache(maxsize=8)
def _load(path: str | None) -> Catalogue:
    data = _read_yaml(None)
    if path is not None:
        data = merge(data, _read_yaml(Path(path)))
    return parse_catalogue(data, path or "hybridgate/data/prices.yaml")
