"""Plain job records. A job is one request (an async call, or one line of a batch) run by a worker."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from hybridgate.backends.base import Operation

JobStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled", "expired"})

PRIORITIES = {"high": 1, "normal": 0, "low": -1}
OPS: dict[str, Operation] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
# what a worker needs from the caller's headers to plan the request as the caller would have
KEPT_HEADERS = ("authorization", "x-api-key")


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def kept_headers(headers: Any) -> dict[str, str]:
    """Auth and the gateway's own hints; never the mode switch (a job must not re-enqueue itself)."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        name = str(k).lower()
        if name in KEPT_HEADERS or (name.startswith("x-hybridgate-") and name != "x-hybridgate-mode"):
            out[name] = str(v)
    return out


@dataclass(slots=True)
class Job:
    id: str
    op: Operation
    body: dict[str, Any]
    headers: dict[str, str]
    created: float
    deadline: float
    priority: int = 0
    kind: Literal["async", "batch"] = "async"
    owner_key: str | None = None  # the submitting principal's key id: only it may read the job
    batch_id: str | None = None
    custom_id: str | None = None
    line: int | None = None
    webhook: str | None = None
    status: str = "queued"
    attempts: int = 0
    result: dict[str, Any] | None = None  # {"status_code": int, "body": {...}, "route": str}
    error: dict[str, Any] | None = None  # {"code": str, "message": str}
    finished: float | None = None
    billed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class Claim:
    """What a worker got when it asked to run a job."""

    outcome: Literal["run", "done", "busy", "missing"]
    job: Job | None = None


def job_view(job: Job) -> dict[str, Any]:
    """The client's view of an async job (GET /v1/async/jobs/{id})."""
    return {
        "id": job.id,
        "object": "async.job",
        "status": job.status,
        "created_at": int(job.created),
        "completed_at": int(job.finished) if job.finished else None,
        "deadline": int(job.deadline),
        "priority": next((k for k, v in PRIORITIES.items() if v == job.priority), str(job.priority)),
        "attempts": job.attempts,
        "endpoint": next(p for p, o in OPS.items() if o == job.op),
        "response": job.result,
        "error": job.error,
    }
