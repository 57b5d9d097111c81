"""The durable queue interface, and an in-memory fake with the same semantics for tests.

Delivery is at least once: a taken job that is not acked within the visibility timeout is delivered
again (to this or another worker). Workers make that safe with the job store's claim and billing
flags, keyed by the job id (the idempotency key). Ordering: priority first, then earliest deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    job_id: str
    deliveries: int  # how often this message has been handed out, this time included
    token: str  # the backend's handle for ack/nack


@dataclass(frozen=True, slots=True)
class QueueStats:
    backend: str
    ready: int  # deliverable now
    leased: int  # taken, not yet acked
    delayed: int  # waiting for a retry or a deferral
    dead: int  # dead-lettered

    def as_dict(self) -> dict[str, int | str]:
        return {
            "backend": self.backend,
            "ready": self.ready,
            "leased": self.leased,
            "delayed": self.delayed,
            "dead": self.dead,
        }


Item = tuple[str, int, float]  # (job id, priority, deadline)


class JobQueue(Protocol):
    async def put_many(self, items: Sequence[Item]) -> None:
        """Idempotent per job id: putting a job already queued does not deliver it twice."""
        ...

    async def take(self, n: int) -> list[Delivery]: ...

    async def ack(self, d: Delivery) -> None: ...

    async def nack(self, d: Delivery, delay_s: float) -> None:
        """Deliver again after `delay_s`."""
        ...

    async def touch(self, d: Delivery) -> None:
        """Still working: extend the visibility timeout."""
        ...

    async def dead(self, d: Delivery, error: str) -> None:
        """Move to the dead-letter queue with the last error; it is never delivered again."""
        ...

    async def stats(self) -> QueueStats: ...

    async def dead_letters(self, limit: int = 100) -> list[tuple[str, str]]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Msg:
    job_id: str
    priority: int
    deadline: float
    seq: int
    available_at: float = 0.0
    lease_until: float = 0.0
    deliveries: int = 0
    token: str = ""
    error: str | None = None


class MemoryQueue:
    """The fake: same ordering, leases and dead-lettering, no durability."""

    def __init__(self, visibility_timeout_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.vt = visibility_timeout_s
        self.clock = clock
        self._msgs: dict[str, _Msg] = {}
        self._dead: dict[str, _Msg] = {}
        self._seq = 0

    async def put_many(self, items: Sequence[Item]) -> None:
        for job_id, prio, deadline in items:
            if job_id not in self._msgs and job_id not in self._dead:
                self._seq += 1
                self._msgs[job_id] = _Msg(job_id, prio, deadline, self._seq)

    def _ready(self, now: float) -> list[_Msg]:
        ready = [m for m in self._msgs.values() if m.available_at <= now and m.lease_until <= now]
        return sorted(ready, key=lambda m: (-m.priority, m.deadline, m.seq))

    async def take(self, n: int) -> list[Delivery]:
        now = self.clock()
        out = []
        for m in self._ready(now)[:n]:
            m.deliveries += 1
            m.lease_until = now + self.vt
            m.token = f"{m.job_id}:{m.deliveries}"
            out.append(Delivery(m.job_id, m.deliveries, m.token))
        return out

    def _held(self, d: Delivery) -> _Msg | None:
        m = self._msgs.get(d.job_id)
        return m if m is not None and m.token == d.token else None  # a stale lease changes nothing

    async def ack(self, d: Delivery) -> None:
        if self._held(d):
            del self._msgs[d.job_id]

    async def nack(self, d: Delivery, delay_s: float) -> None:
        m = self._held(d)
        if m:
            m.lease_until, m.available_at = 0.0, self.clock() + delay_s

    async def touch(self, d: Delivery) -> None:
        m = self._held(d)
        if m:
            m.lease_until = self.clock() + self.vt

    async def dead(self, d: Delivery, error: str) -> None:
        m = self._held(d)
        if m:
            m.error = error
            self._dead[d.job_id] = self._msgs.pop(d.job_id)

    async def stats(self) -> QueueStats:
        now = self.clock()
        leased = sum(1 for m in self._msgs.values() if m.lease_until > now)
        delayed = sum(1 for m in self._msgs.values() if m.lease_until <= now < m.available_at)
        return QueueStats("memory", len(self._msgs) - leased - delayed, leased, delayed, len(self._dead))

    async def dead_letters(self, limit: int = 100) -> list[tuple[str, str]]:
        return [(m.job_id, m.error or "") for m in list(self._dead.values())[:limit]]

    async def aclose(self) -> None:
        return None
