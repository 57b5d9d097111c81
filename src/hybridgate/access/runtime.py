"""Builds and owns everything access control needs at run time; app.py wires it in.

store        SQLite (embedded default) or PostgreSQL, from `store.url`
counters     in-process, or Redis when `store.redis_url` is set (required for several replicas)
authenticator, admission (limits + budgets), cost model, usage writer, admin API
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from aiohttp import web

from hybridgate.access.admission import Admission
from hybridgate.access.config import AccessConfig
from hybridgate.access.cost import CostModel, build_cost
from hybridgate.access.counters import Counters, LocalCounters
from hybridgate.access.spend import seed_spend
from hybridgate.access.usage import UsageWriter
from hybridgate.api.admin import AdminApi
from hybridgate.auth.authenticator import KeyAuthenticator
from hybridgate.settings import Settings
from hybridgate.store.base import Store
from hybridgate.store.open import store_for
from hybridgate.store.paths import database_url
from hybridgate.store.sqlite import sqlite_path

ADMIN_KEY_ENV = "HYBRIDGATE_ADMIN_KEY"
log = logging.getLogger("hybridgate.access")


def access_config(settings: Settings) -> AccessConfig:
    cfg = getattr(settings, "access", None)
    return cfg if isinstance(cfg, AccessConfig) else AccessConfig()


def admin_key(cfg: AccessConfig) -> str | None:
    return cfg.admin_key or os.environ.get(ADMIN_KEY_ENV) or None


def build_counters(settings: Settings, cfg: AccessConfig) -> Counters:
    if settings.store.redis_url:
        from hybridgate.access.redis_counters import RedisCounters

        return RedisCounters(settings.store.redis_url, cfg.redis_prefix)
    return LocalCounters()


class AccessRuntime:
    def __init__(self, settings: Settings, store: Store | None = None, counters: Counters | None = None) -> None:
        self.cfg = access_config(settings)
        self.store = store if store is not None else store_for(settings)
        self.counters = counters if counters is not None else build_counters(settings, self.cfg)
        key = admin_key(self.cfg)
        self.authenticator = KeyAuthenticator(self.store, admin_key=key, cache_ttl_s=self.cfg.cache_ttl_s)
        self.cost: CostModel = build_cost(settings, self.cfg)
        self.admission = Admission(self.counters, self.authenticator, self.cfg, self.cost)
        self.usage = UsageWriter(
            self.store, batch=self.cfg.usage_batch, flush_s=self.cfg.usage_flush_s, max_queue=self.cfg.usage_max_queue
        )
        self.admin = AdminApi(self.store, self.authenticator, key)

    async def start(self, _: web.Application | None = None) -> None:
        await self.store.migrate()
        seeded = await seed_spend(self.store, self.counters, time.time())  # before the first request
        log.info("budget counters seeded from recorded usage: %d", seeded)
        self.usage.start()

    async def close(self, _: web.Application | None = None) -> None:
        await self.admission.drain()
        await self.usage.aclose()
        await self.counters.aclose()
        await self.store.aclose()


async def _count(settings: Settings) -> int:
    store = store_for(settings)
    try:
        await store.migrate()
        return await store.count_keys()
    finally:
        await store.aclose()


def keys_exist(settings: Settings) -> bool:
    """For `serve` before it binds: does the configured store hold any key? (No file yet: no keys.)"""
    url = database_url(settings)
    if url.startswith("sqlite:///") and not sqlite_path(url).exists():
        return False
    return asyncio.run(_count(settings)) > 0


ACCESS = web.AppKey("access", AccessRuntime)
