"""Opening the configured audit store, and the operations behind `hybridgate audit ...`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from hybridgate.errors import ConfigError
from hybridgate.observe.audit.capture import key_from_env, sealer_from_env
from hybridgate.observe.audit.chain import Verdict, Verifier
from hybridgate.observe.audit.entry import AdminAction, admin_entry, to_body
from hybridgate.observe.audit.pg_store import PostgresAuditStore, is_postgres_url
from hybridgate.observe.audit.store import AuditStore, SqliteAuditStore, sqlite_path
from hybridgate.observe.config import AuditConfig

AUDIT_FILE = "audit.db"


def audit_path(cfg: AuditConfig) -> Path:
    """The SQLite file (only meaningful when the store is not PostgreSQL)."""
    if cfg.url:
        return sqlite_path(cfg.url)
    from hybridgate.store.paths import data_dir

    return data_dir() / AUDIT_FILE


def checkpoint_key(cfg: AuditConfig) -> bytes | None:
    """Any non-empty secret works for HMAC; a 32-byte hex/base64 value is used as raw bytes."""
    import os

    raw = os.environ.get(cfg.checkpoint_key_env)
    if not raw:
        return None
    try:
        return key_from_env(cfg.checkpoint_key_env)
    except ConfigError:
        return raw.encode()


def location(cfg: AuditConfig) -> str:
    """Where the trail lives, for messages (a PostgreSQL URL loses its password)."""
    if is_postgres_url(cfg.url):
        from urllib.parse import urlsplit

        parts = urlsplit(str(cfg.url))
        port = f":{parts.port}" if parts.port else ""
        schema = "".join(f"?{q}" for q in parts.query.split("&") if q.startswith("schema="))
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}{schema}"
    return str(audit_path(cfg))


def exists(cfg: AuditConfig) -> bool:
    """False only for an embedded trail that was never written (opening it would create the file)."""
    return is_postgres_url(cfg.url) or audit_path(cfg).exists()


def open_store(cfg: AuditConfig) -> AuditStore:
    key = checkpoint_key(cfg)
    if is_postgres_url(cfg.url):
        return PostgresAuditStore(str(cfg.url), hmac_key=key, checkpoint_every=cfg.checkpoint_every)
    return SqliteAuditStore(audit_path(cfg), hmac_key=key, checkpoint_every=cfg.checkpoint_every, fsync=cfg.fsync)


def verify(store: AuditStore, key: bytes | None) -> Verdict:
    v = Verifier(store.checkpoints(), key)
    for row in store.rows():
        if not v.feed(row):
            break
    return v.finish()


def export_lines(store: AuditStore, since_ts: float | None) -> Iterator[bytes]:
    """One JSON object per row: the body as written plus its position and hashes."""
    for row in store.rows(since_ts=since_ts):
        body = orjson.loads(row.body)
        yield orjson.dumps({"seq": row.seq, "prev": row.prev, "hash": row.hash, "entry": body}) + b"\n"


def show(store: AuditStore, request_id: str, capture_key_env: str | None) -> list[bytes]:
    """The rows of one request as JSON lines; with a key env var, the sealed payload opened in place.
    A missing or wrong key is a ConfigError that says which."""
    sealer = sealer_from_env(capture_key_env) if capture_key_env is not None else None
    out = []
    for row in store.find(request_id):
        entry = orjson.loads(row.body)
        if sealer is not None and isinstance(entry.get("payload"), dict):
            entry["payload"] = sealer.open(str(entry["request_id"]), entry["payload"])
        out.append(orjson.dumps({"seq": row.seq, "hash": row.hash, "entry": entry}, option=orjson.OPT_INDENT_2) + b"\n")
    return out


def append_admin(cfg: AuditConfig, action: AdminAction) -> None:
    """For commands that run outside the server (`hybridgate keys create`): one row, written now."""
    store = open_store(cfg)
    try:
        entry = admin_entry(action)
        store.append([(action.ts, action.id, to_body(entry))], time.time())
    finally:
        store.close()
