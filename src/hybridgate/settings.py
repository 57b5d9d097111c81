"""Typed configuration: one YAML file (plus ${ENV} interpolation), loaded once, unknown keys rejected."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hybridgate.access.config import AccessConfig
from hybridgate.errors import ConfigError
from hybridgate.jobs.config import JobsConfig
from hybridgate.labels import DataClass, Trust
from hybridgate.observe.config import ObservabilityConfig
from hybridgate.routing.config import (
    HealthCheckConfig,
    LoadConfig,
    OutlierConfig,
    RetryConfig,
    SloConfig,
    Strategy,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    connect: float = Field(5.0, gt=0, description="TCP/TLS connect")
    first_byte: float = Field(60.0, gt=0, description="request sent -> first response byte")
    total: float = Field(600.0, gt=0, description="whole non-streaming call")
    between_chunks: float = Field(30.0, gt=0, description="stall limit between streamed chunks")


EndpointKind = Literal["openai", "azure", "anthropic", "gemini", "local", "mock"]


class EndpointConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    kind: EndpointKind = "openai"
    base_url: str | None = None
    api_key: str | None = None
    trust: Trust
    models: list[str] = Field(min_length=1)
    weight: float = Field(1.0, gt=0)
    max_in_flight: int = Field(256, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    # kind-specific knobs
    api_version: str | None = None  # azure
    model_path: str | None = None  # local: a GGUF file; default is the packaged model
    n_ctx: int = Field(2048, ge=128)  # local
    n_threads: int | None = None  # local
    health: HealthCheckConfig | None = None  # active checks; None: passive detection only
    outlier: OutlierConfig = Field(default_factory=OutlierConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)

    @model_validator(mode="after")
    def _needs_url(self) -> EndpointConfig:
        if self.kind in ("openai", "azure") and not self.base_url:
            raise ValueError(f"endpoint {self.name!r} of kind {self.kind!r} needs base_url")
        return self


class TierConfig(_Strict):
    endpoints: list[str] = Field(min_length=1)
    model: str | None = None
    fallback: list[str] = Field(default_factory=list, description="tiers to try next, boundary permitting")
    strategy: Strategy = "p2c_ewma"
    prefix_affinity: bool = False
    overflow: bool = True  # when this tier's load predicts an SLO miss, use the fallback tiers first
    retry: RetryConfig = Field(default_factory=RetryConfig)
    slo: SloConfig = Field(default_factory=SloConfig)


class RuleWhen(_Strict):
    data_class_at_least: DataClass | None = None
    finding_types: list[str] | None = None
    complexity_above: float | None = Field(None, ge=0, le=1)
    complexity_below: float | None = Field(None, ge=0, le=1)
    volume: Literal["normal", "high"] | None = None
    latency_budget: Literal["interactive", "relaxed"] | None = None
    purpose_matches: str | None = None
    model: list[str] | None = None
    team: list[str] | None = None
    detector_error: bool | None = None

    @field_validator("purpose_matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}") from e
        return v


class RuleConfig(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    when: RuleWhen = Field(default_factory=RuleWhen)
    action: Literal["route", "deny", "redact"] = "route"
    tier: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _tier_for_route(self) -> RuleConfig:
        if self.action in ("route", "redact") and not self.tier:
            raise ValueError(f"rule {self.id!r}: action {self.action!r} needs a tier")
        return self


class PolicyConfig(_Strict):
    default_tier: str
    sensitive_tier: str | None = None  # default: "self_hosted" if that tier exists
    frontier_tier: str | None = None  # default: "frontier" if that tier exists
    complexity_threshold: float | None = Field(None, ge=0, le=1, description="raw score threshold")
    frontier_share: float | None = Field(
        None, ge=0, le=1, description="target share of auto traffic sent to frontier; calibrates the threshold"
    )
    sensitive_class: DataClass = DataClass.CONFIDENTIAL
    builtin_rules: bool = True
    rules: list[RuleConfig] = Field(default_factory=list)
    trust_by_class: dict[DataClass, list[Trust]] | None = None


class DetectionConfig(_Strict):
    detector: Literal["basic", "full"] = "full"
    time_budget_ms: float = Field(50.0, gt=0, description="detection budget for the first KB")
    time_budget_ms_per_kb: float = Field(10.0, ge=0, description="added per KB of request text")
    ner: bool = True  # run the NER tier (names, addresses) when a request could otherwise leave
    ner_time_budget_ms: float = Field(2000.0, gt=0)
    # `hybridgate serve` loads the NER model once, in a sidecar process shared by all workers (each worker
    # would otherwise hold its own copy: ~90 MB of spaCy and model). False: every worker loads it.
    ner_sidecar: bool = True
    ner_socket: str | None = None  # Unix socket of a running NER sidecar; set by serve, or to share one
    # finding type -> data class; types not listed map to `default_class`
    classes: dict[str, DataClass] = Field(default_factory=dict)
    default_class: DataClass = DataClass.CONFIDENTIAL
    names_policy: Literal["off", "with_context", "likely_person", "except_exercises", "all"] = "likely_person"
    complexity: Literal["length", "learned", "off"] = "learned"


class ServerConfig(_Strict):
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    allow_open: bool | None = None  # None: open only when bound to loopback


class StoreConfig(_Strict):
    url: str | None = None  # sqlite:///path or postgresql://...; default: sqlite in the data dir
    redis_url: str | None = None


class Settings(_Strict):
    endpoints: list[EndpointConfig] = Field(min_length=1)
    tiers: dict[str, TierConfig] = Field(min_length=1)
    policy: PolicyConfig
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)

    @model_validator(mode="after")
    def _references(self) -> Settings:
        names = [e.name for e in self.endpoints]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate endpoint names: {sorted(dup)}")
        for tname, tier in self.tiers.items():
            for e in tier.endpoints:
                if e not in names:
                    raise ValueError(f"tier {tname!r} names unknown endpoint {e!r}")
            for f in tier.fallback:
                if f not in self.tiers:
                    raise ValueError(f"tier {tname!r} falls back to unknown tier {f!r}")
        p = self.policy
        refs: tuple[tuple[str, str | None], ...] = (
            ("default_tier", p.default_tier),
            ("sensitive_tier", p.sensitive_tier),
            ("frontier_tier", p.frontier_tier),
        )
        for label, ref in refs:
            if ref is not None and ref not in self.tiers:
                raise ValueError(f"policy.{label} names unknown tier {ref!r}")
        for rule in p.rules:
            if rule.tier is not None and rule.tier not in self.tiers:
                raise ValueError(f"rule {rule.id!r} names unknown tier {rule.tier!r}")
        return self

    def endpoint(self, name: str) -> EndpointConfig:
        return next(e for e in self.endpoints if e.name == name)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string. An unset variable without default is empty."""
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


def format_validation_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg: str = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{path}: {msg}")
    return "\n".join(lines)


def parse_settings(data: Any, source: str = "<config>") -> Settings:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Settings.model_validate(interpolate(data))
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid configuration\n{format_validation_error(e)}") from e


def load_settings(path: str | Path) -> Settings:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    return parse_settings(data, str(p))
