"""/readyz: config loaded and at least one endpoint per tier reachable (probed, cached briefly)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from hybridgate.api.responses import json_response
from hybridgate.backends.base import Backend
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.topology import Topology


async def _probe(backend: Backend) -> bool:
    probe: Callable[[], Awaitable[bool]] | None = getattr(backend, "probe", None)
    if probe is None:
        return True  # in-process backends are reachable when they exist
    return await probe()


class Readiness:
    def __init__(
        self, topo: Topology, backends: Mapping[str, Backend], health: HealthTracker, ttl: float = 5.0
    ) -> None:
        self.topo = topo
        self.backends = backends
        self.health = health
        self.ttl = ttl
        self._cached: tuple[float, dict[str, bool]] | None = None
        self.notes: list[str] = []  # startup facts worth showing (e.g. router artifact missing)

    async def reachable(self) -> dict[str, bool]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            names = list(self.backends)
            results = await asyncio.gather(*(_probe(self.backends[n]) for n in names))
            self._cached = (now, dict(zip(names, results, strict=True)))
        return self._cached[1]

    async def report(self) -> tuple[bool, dict[str, Any]]:
        reach = await self.reachable()
        tiers = {}
        for name, tier in self.topo.tiers.items():
            tiers[name] = any(reach.get(e, False) and self.health.state(e).healthy for e in tier.endpoints)
        states = {n: self.health.state(n) for n in self.topo.endpoints}
        endpoints = {
            n: {
                "reachable": reach.get(n, False),
                "trust": self.topo.endpoints[n].trust.value,
                "healthy": st.healthy,
                "breaker": st.breaker,
                "in_flight": st.in_flight,
                "overloaded": st.overloaded,
                "load": st.load_note,
            }
            for n, st in states.items()
        }
        ready = all(tiers.values())
        return ready, {"ready": ready, "tiers": tiers, "endpoints": endpoints, "notes": self.notes}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ready, body = await self.report()
        return json_response(body, status=200 if ready else 503)
