"""The `jobs:` section of the config file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Literal["sqlite", "nats"] = "sqlite"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = Field("HYBRIDGATE_JOBS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    db_path: str | None = Field(None, description="SQLite file for jobs, files and batches; default: data dir")
    workers: int = Field(4, ge=0, le=1024, description="jobs run concurrently by the in-process worker (0: none)")
    visibility_timeout_s: float = Field(60.0, gt=0, description="a taken job reappears if not acked by then")
    max_attempts: int = Field(5, ge=1, description="executions before a job is dead-lettered")
    retry_backoff_s: float = Field(2.0, ge=0, description="base of the exponential back-off between attempts")
    poll_interval_s: float = Field(0.2, gt=0)
    reserve_ratio: float = Field(
        0.25, ge=0, lt=1, description="share of each endpoint's max_in_flight kept free for interactive traffic"
    )
    overflow_on_deadline: bool = True
    overflow_margin_s: float = Field(
        300.0, ge=0, description="how long before its deadline a job may overflow to another allowed tier"
    )
    default_deadline_s: float = Field(86400.0, gt=0, description="deadline of an async request that names none")
    max_file_bytes: int = Field(100 * 1024 * 1024, ge=1024)
    max_lines: int = Field(50_000, ge=1)
    webhook_allow_hosts: list[str] = Field(default_factory=list, description="hosts webhooks may be sent to")
    webhook_secret_env: str = "HYBRIDGATE_WEBHOOK_SECRET"
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_timeout_s: float = Field(10.0, gt=0)
