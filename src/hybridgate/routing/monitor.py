"""Background loops: active health checks and load scraping. They only write to the HealthTracker;
the request path reads an immutable snapshot of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import aiohttp

from hybridgate.backends.base import Backend
from hybridgate.routing.config import HealthCheckConfig
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.load import LoadSample, parse_prometheus, predict, sample_from
from hybridgate.settings import EndpointConfig, Settings

log = logging.getLogger("hybridgate.health")


def server_root(base_url: str) -> str:
    url = base_url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def probe_request(cfg: EndpointConfig, check: HealthCheckConfig) -> tuple[str, str, bytes | None]:
    """(method, url, body) for one active check."""
    base = (cfg.base_url or "").rstrip("/")
    if check.path:
        return "GET", server_root(base) + check.path, None
    if check.check == "health":
        return "GET", server_root(base) + "/health", None
    if check.check == "completion":
        body = b'{"model":"%s","max_tokens":1,"messages":[{"role":"user","content":"ping"}]}' % cfg.models[0].encode()
        return "POST", base + "/chat/completions", body
    return "GET", base + "/models", None


class Thresholds:
    """Consecutive results needed to flip: avoids flapping on one lost probe."""

    def __init__(self, check: HealthCheckConfig) -> None:
        self.check = check
        self.ok_run = 0
        self.bad_run = 0
        self.healthy = True

    def observe(self, ok: bool) -> bool:
        if ok:
            self.ok_run, self.bad_run = self.ok_run + 1, 0
            if not self.healthy and self.ok_run >= self.check.healthy_threshold:
                self.healthy = True
        else:
            self.bad_run, self.ok_run = self.bad_run + 1, 0
            if self.healthy and self.bad_run >= self.check.unhealthy_threshold:
                self.healthy = False
        return self.healthy


class Monitor:
    def __init__(self, settings: Settings, health: HealthTracker, backends: Mapping[str, Backend]) -> None:
        self.settings = settings
        self.health = health
        self.backends = backends
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.slo = self._endpoint_slos(settings)

    @staticmethod
    def _endpoint_slos(settings: Settings) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for tier in settings.tiers.values():
            for e in tier.endpoints:
                slo = tier.slo.ttft_p95_ms
                prev = out.get(e)
                out[e] = slo if prev is None else (prev if slo is None else min(prev, slo))
        return out

    def start(self) -> None:
        for cfg in self.settings.endpoints:
            if cfg.health is not None and cfg.health.check != "none":
                self._spawn(self._health_loop(cfg, cfg.health))
            if cfg.load.source != "none" and cfg.base_url:
                self._spawn(self._load_loop(cfg))
            elif hasattr(self.backends.get(cfg.name), "queue_depth"):
                self._spawn(self._inprocess_load_loop(cfg))  # the built-in model reports its own queue

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _http_ok(self, cfg: EndpointConfig, check: HealthCheckConfig) -> bool:
        method, url, body = probe_request(cfg, check)
        headers = {"content-type": "application/json", **cfg.headers}
        if cfg.api_key:
            headers["authorization"] = f"Bearer {cfg.api_key}"
        try:
            async with asyncio.timeout(check.timeout_s):
                async with self.session().request(method, url, data=body, headers=headers) as resp:
                    return resp.status < 400
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def probe_once(self, cfg: EndpointConfig, check: HealthCheckConfig) -> bool:
        if cfg.base_url:
            return await self._http_ok(cfg, check)
        probe: Callable[[], Awaitable[bool]] | None = getattr(self.backends.get(cfg.name), "probe", None)
        return True if probe is None else await probe()

    async def _health_loop(self, cfg: EndpointConfig, check: HealthCheckConfig) -> None:
        state = Thresholds(check)
        while True:
            ok = await self.probe_once(cfg, check)
            before = state.healthy
            if state.observe(ok) != before:
                log.warning("endpoint %s is now %s", cfg.name, "healthy" if state.healthy else "unhealthy")
            self.health.set_active(cfg.name, state.healthy)
            await asyncio.sleep(check.interval_s)

    async def scrape_once(self, cfg: EndpointConfig) -> None:
        url = cfg.load.metrics_url or server_root(cfg.base_url or "") + "/metrics"
        try:
            async with asyncio.timeout(min(2.0, cfg.load.interval_s)):
                async with self.session().get(url) as resp:
                    text = await resp.text() if resp.status == 200 else ""
        except (TimeoutError, aiohttp.ClientError):
            text = ""
        if not text:
            self.health.set_load(cfg.name, False, "load signals unavailable")
            return
        sample = sample_from(cfg.load.source, parse_prometheus(text))
        overloaded, note = predict(sample, cfg.load.ttft_ms, cfg.load.request_ms, self.slo.get(cfg.name))
        self.health.set_load(cfg.name, overloaded, note)

    async def _load_loop(self, cfg: EndpointConfig) -> None:
        while True:
            await self.scrape_once(cfg)
            await asyncio.sleep(cfg.load.interval_s)

    def read_inprocess(self, cfg: EndpointConfig) -> None:
        backend = self.backends[cfg.name]
        sample = LoadSample(float(getattr(backend, "queue_depth", 0)), float(bool(getattr(backend, "busy", False))))
        overloaded, note = predict(sample, cfg.load.ttft_ms, cfg.load.request_ms, self.slo.get(cfg.name))
        self.health.set_load(cfg.name, overloaded, note)

    async def _inprocess_load_loop(self, cfg: EndpointConfig) -> None:
        while True:
            self.read_inprocess(cfg)
            await asyncio.sleep(cfg.load.interval_s)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self._session is not None:
            await self._session.close()
