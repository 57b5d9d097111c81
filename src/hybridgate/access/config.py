"""Typed config for access control. Lives here (not in settings.py) so the pieces that use it stay together."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(StrictModel):
    """Per window (see AccessConfig.window_s, 60 s by default): requests, tokens; plus requests in flight."""

    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)
    concurrent: int | None = Field(None, ge=0)


class Budget(StrictModel):
    daily_usd: float | None = Field(None, ge=0)
    monthly_usd: float | None = Field(None, ge=0)


class EndpointCost(StrictModel):
    """What a self-hosted endpoint costs. Missing figures come from the economics catalogue."""

    gpu: str = "h100"
    gpus: int = Field(1, ge=1)
    gpu_hourly_usd: float | None = Field(None, ge=0)
    throughput_tokens_per_s: float | None = Field(None, gt=0)
    utilisation: float = Field(1.0, gt=0, le=1)


class AccessConfig(StrictModel):
    enabled: bool = True
    admin_key: str | None = None  # else $HYBRIDGATE_ADMIN_KEY; None: the admin API is off
    window_s: float = Field(60.0, gt=0, description="rate-limit window; 60 s makes rpm/tpm per minute")
    gateway: Limits = Field(default_factory=Limits, description="global limits over all keys")
    key_defaults: Limits = Field(default_factory=Limits, description="for keys that set none")
    cache_ttl_s: float = Field(5.0, ge=0, description="how long a replica trusts a cached key lookup")
    lease_ttl_s: float = Field(900.0, gt=0, description="a crashed request frees its concurrency slot after this")
    usage_batch: int = Field(500, ge=1)
    usage_flush_s: float = Field(1.0, gt=0)
    usage_max_queue: int = Field(100_000, ge=1)
    redis_prefix: str = "hg:"
    costs: dict[str, EndpointCost] = Field(default_factory=dict, description="endpoint name -> GPU cost model")
