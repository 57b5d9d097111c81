"""Resilience knobs: active health checks, outlier ejection, load signals, retries, SLOs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheckConfig(_Strict):
    check: Literal["health", "models", "completion", "none"] = "models"
    path: str | None = None  # overrides the path implied by `check` (relative to the server root)
    interval_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    healthy_threshold: int = Field(2, ge=1)
    unhealthy_threshold: int = Field(3, ge=1)


class OutlierConfig(_Strict):
    """Passive detection: consecutive failures eject the endpoint with exponential back-off."""

    consecutive_failures: int = Field(3, ge=1)
    base_ejection_s: float = Field(5.0, gt=0)
    max_ejection_s: float = Field(300.0, gt=0)


class LoadConfig(_Strict):
    """The inference server's own load signals, scraped from its Prometheus endpoint."""

    source: Literal["none", "vllm", "tgi", "llamacpp"] = "none"
    metrics_url: str | None = None  # default: the server root + /metrics
    interval_s: float = Field(2.0, gt=0)
    ttft_ms: float = Field(300.0, gt=0, description="TTFT of an idle replica")
    request_ms: float = Field(2000.0, gt=0, description="typical request duration (prefill + decode) when idle")


class RetryConfig(_Strict):
    max_attempts: int = Field(3, ge=1, le=10)
    per_try_timeout_s: float | None = Field(None, gt=0)
    backoff_base_s: float = Field(0.05, ge=0)
    backoff_max_s: float = Field(1.0, ge=0)
    max_retry_after_s: float = Field(2.0, ge=0, description="wait for an upstream's Retry-After up to this")
    budget_ratio: float = Field(0.2, ge=0, le=1, description="retries may be at most this share of requests")
    reroute_content_policy: bool = False  # a 4xx refusal is the answer, not a fault to route around


class SloConfig(_Strict):
    ttft_p95_ms: float | None = Field(None, gt=0)
    queue_timeout_s: float = Field(5.0, ge=0, description="how long a request may wait for capacity")
    max_queue: int = Field(100, ge=0)


Strategy = Literal["p2c_ewma", "least_outstanding", "weighted_round_robin"]
