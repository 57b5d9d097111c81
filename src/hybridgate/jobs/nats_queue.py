"""The scale-out queue: NATS JetStream, for several gateway and worker processes.

One stream with a subject per priority class and a durable pull consumer on each; a
worker fetches from the highest class first. The ack deadline is the visibility timeout; attempts
are counted by the job store (deferrals are not attempts), so the consumer redelivers forever and
dead-lettering publishes the job id with its last error to `<stream>.dlq`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import nats
from nats.js import api
from nats.js.errors import NotFoundError

from hybridgate.errors import GatewayError
from hybridgate.jobs.queue import Delivery, Item, QueueStats

CLASSES = ("high", "normal", "low")
_WEEK_S = 7 * 86400.0  # acked messages age out; the job store keeps the outcome


def priority_class(priority: int) -> str:
    return "high" if priority > 0 else "normal" if priority == 0 else "low"


class NatsQueue:
    def __init__(self, nc: Any, js: Any, stream: str, visibility_timeout_s: float) -> None:
        self.nc, self.js, self.stream, self.vt = nc, js, stream, visibility_timeout_s
        self.subject = stream.lower()
        self._subs: dict[str, Any] = {}
        self._held: dict[str, Any] = {}  # token -> the message, for ack/nak

    @classmethod
    async def connect(cls, url: str, stream: str, visibility_timeout_s: float) -> NatsQueue:
        try:
            nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=-1)
        except (OSError, TimeoutError, nats.errors.Error) as e:
            raise GatewayError(f"cannot reach NATS at {url}: {e}", code="queue_unavailable") from e
        q = cls(nc, nc.jetstream(), stream, visibility_timeout_s)
        await q._ensure()
        return q

    async def _ensure(self) -> None:
        subjects = [f"{self.subject}.q.{c}" for c in CLASSES] + [f"{self.subject}.dlq"]
        try:
            await self.js.stream_info(self.stream)
        except NotFoundError:
            await self.js.add_stream(name=self.stream, subjects=subjects, max_age=_WEEK_S, duplicate_window=600)
        for c in CLASSES:
            cfg = api.ConsumerConfig(
                durable_name=f"workers-{c}",
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.vt,
                max_deliver=-1,
                max_ack_pending=-1,
            )
            self._subs[c] = await self.js.pull_subscribe(
                f"{self.subject}.q.{c}", durable=f"workers-{c}", stream=self.stream, config=cfg
            )

    async def put_many(self, items: Sequence[Item]) -> None:
        for job_id, prio, _deadline in items:
            # Nats-Msg-Id: the stream drops a second publish of the same job within the duplicate window
            await self.js.publish(
                f"{self.subject}.q.{priority_class(prio)}", job_id.encode(), headers={"Nats-Msg-Id": job_id}
            )

    async def take(self, n: int) -> list[Delivery]:
        out: list[Delivery] = []
        for c in CLASSES:
            if len(out) >= n:
                break
            try:
                msgs = await self._subs[c].fetch(n - len(out), timeout=0.05)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for m in msgs:
                token = os.urandom(8).hex()
                self._held[token] = m
                out.append(Delivery(m.data.decode(), int(m.metadata.num_delivered), token))
        return out

    async def ack(self, d: Delivery) -> None:
        m = self._held.pop(d.token, None)
        if m is not None:
            await m.ack()

    async def nack(self, d: Delivery, delay_s: float) -> None:
        m = self._held.pop(d.token, None)
        if m is not None:
            await m.nak(delay=delay_s)

    async def touch(self, d: Delivery) -> None:
        m = self._held.get(d.token)
        if m is not None:
            await m.in_progress()

    async def dead(self, d: Delivery, error: str) -> None:
        m = self._held.pop(d.token, None)
        if m is None:
            return
        await self.js.publish(f"{self.subject}.dlq", d.job_id.encode(), headers={"hybridgate-error": error[:1000]})
        await m.term()

    async def stats(self) -> QueueStats:
        ready = leased = 0
        for c in CLASSES:
            info = await self.js.consumer_info(self.stream, f"workers-{c}")
            ready += int(info.num_pending or 0)
            leased += int(info.num_ack_pending or 0)
        dead = await self._count(f"{self.subject}.dlq")
        return QueueStats("nats", ready, leased, 0, dead)

    async def _count(self, subject: str) -> int:
        info = await self.js.stream_info(self.stream, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))

    async def dead_letters(self, limit: int = 100) -> list[tuple[str, str]]:
        sub = await self.js.subscribe(
            f"{self.subject}.dlq", ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL
        )
        out: list[tuple[str, str]] = []
        try:
            while len(out) < limit:
                m = await sub.next_msg(timeout=0.2)
                out.append((m.data.decode(), (m.headers or {}).get("hybridgate-error", "")))
        except (TimeoutError, nats.errors.TimeoutError):
            pass
        finally:
            await sub.unsubscribe()
        return out

    async def aclose(self) -> None:
        await self.nc.drain()
