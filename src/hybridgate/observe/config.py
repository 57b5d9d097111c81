"""The `observability:` config section: metrics, tracing, request logs and the audit trail.

Everything is on by default except tracing (an exporter needs somewhere to send spans) and prompt
logging (prompt text never leaves the request unless an operator asks for it, and then redacted).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsConfig(_Strict):
    enabled: bool = True
    path: str = "/metrics"


class TracingConfig(_Strict):
    exporter: Literal["off", "otlp", "console"] = "off"
    endpoint: str | None = None  # OTLP/HTTP traces URL; default: the exporter's (localhost:4318)
    service_name: str = "hybridgate"
    sample_ratio: float = Field(1.0, ge=0, le=1)


class LogConfig(_Strict):
    requests: bool = True  # one JSON line per request at info
    level: Literal["debug", "info", "warning", "error"] = "info"
    prompts: bool = False  # include the prompt, with every finding redacted; off unless asked for


class AuditConfig(_Strict):
    enabled: bool = True
    url: str | None = None  # sqlite:///path or postgresql://...[?schema=NAME]; default: audit.db in the data dir
    batch_size: int = Field(256, ge=1, le=10_000)
    # synchronous=NORMAL survives a killed process; FULL also survives power loss, at an fsync per batch
    fsync: bool = False
    wait_timeout_s: float = Field(5.0, gt=0, description="longest a response waits for its audit row")
    capture: bool = False  # store request/response payloads, encrypted with AES-GCM
    capture_key_env: str = "HYBRIDGATE_AUDIT_KEY"  # 32 bytes, base64 or hex
    checkpoint_key_env: str = "HYBRIDGATE_AUDIT_HMAC_KEY"  # signs checkpoints
    checkpoint_every: int = Field(1000, ge=1)
    retention_days: float | None = Field(None, gt=0)  # the writer prunes older rows (needs the checkpoint key)
    prune_interval_s: float = Field(3600.0, gt=0)  # how often the writer checks retention


class ObservabilityConfig(_Strict):
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    logs: LogConfig = Field(default_factory=LogConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
