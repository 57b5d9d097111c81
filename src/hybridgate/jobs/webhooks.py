"""Completion webhooks: HMAC-signed, retried with exponential back-off, only to allow-listed hosts.

Delivery state lives in the job store (pending -> delivered | failed), so a webhook survives a
restart. Redirects are not followed: a 3xx must not carry the payload to a host off the list.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
import orjson

from hybridgate.errors import BadRequest
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.model import Job, job_view
from hybridgate.jobs.store import JobStore

SIGNATURE_HEADER = "x-hybridgate-signature"
TIMESTAMP_HEADER = "x-hybridgate-timestamp"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` over `<timestamp>.<body>`; the timestamp lets receivers reject replays."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def host_allowed(url: str, allow: Sequence[str]) -> bool:
    """Exact host names, or `*.example.com` for subdomains; http(s) only; no userinfo tricks."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc:
        return False
    for entry in allow:
        e = entry.lower()
        if host == e or (e.startswith("*.") and host.endswith(e[1:])):
            return True
    return False


def backoff_s(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    return float(min(cap, base * 4 ** max(0, attempt - 1)))


def check_webhook(url: str | None, cfg: JobsConfig) -> str | None:
    """At submission: refuse a webhook we would never send, so the client learns now, not never."""
    if url is None:
        return None
    if not host_allowed(url, cfg.webhook_allow_hosts):
        raise BadRequest("webhook host is not on the configured allow-list", param="x-hybridgate-webhook-url")
    if not os.environ.get(cfg.webhook_secret_env):
        raise BadRequest(f"webhooks need a signing secret (set {cfg.webhook_secret_env})", code="webhook_disabled")
    return url


class WebhookSender:
    def __init__(self, store: JobStore, cfg: JobsConfig, clock: Callable[[], float] = time.time) -> None:
        self.store, self.cfg, self.clock = store, cfg, clock
        self._session: aiohttp.ClientSession | None = None

    async def deliver_due(self) -> int:
        jobs = await self.store.due_webhooks()
        for job in jobs:
            await self._deliver(job)
        return len(jobs)

    async def _deliver(self, job: Job) -> None:
        secret = os.environ.get(self.cfg.webhook_secret_env, "").encode()
        if not job.webhook or not secret or not host_allowed(job.webhook, self.cfg.webhook_allow_hosts):
            await self.store.webhook_done(job.id, "failed")  # config changed since submission
            return
        body = orjson.dumps({"type": f"async.job.{job.status}", "data": job_view(job)})
        ts = int(self.clock())
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(secret, ts, body),
            TIMESTAMP_HEADER: str(ts),
        }
        ok = False
        try:
            s = self._session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.cfg.webhook_timeout_s))
            self._session = s
            async with s.post(job.webhook, data=body, headers=headers, allow_redirects=False) as r:
                ok = 200 <= r.status < 300
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            await self.store.webhook_done(job.id, "delivered")
            return
        n = await self.store.webhook_attempts(job.id) + 1
        if n >= self.cfg.webhook_max_attempts:
            await self.store.webhook_done(job.id, "failed")
        else:
            await self.store.webhook_done(job.id, "pending", self.clock() + backoff_s(n))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
