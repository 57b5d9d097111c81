"""Which store a URL names. Only composition code (app.py, commands/) calls this."""

from __future__ import annotations

from hybridgate.errors import ConfigError
from hybridgate.settings import Settings
from hybridgate.store.base import MemoryStore, Store
from hybridgate.store.paths import database_url


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from hybridgate.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from hybridgate.store.postgres import PostgresStore

        return PostgresStore(url)
    if url == "memory://":
        return MemoryStore()
    raise ConfigError(f"store.url: unsupported database URL {url.split(':', 1)[0]}:// (sqlite:/// or postgresql://)")


def store_for(settings: Settings | None) -> Store:
    return open_store(database_url(settings))
