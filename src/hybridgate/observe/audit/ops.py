"""Opening the configured audit store, and the operations behind `hybridgate audit ...`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from hybridgate.errors import ConfigError
from hybridgate.observe.audit.capture import key_from_env
from hybridgate.observe.audit.chain import Verdict, Verifier
from hybridgate.observe.audit.entry import AdminAction, admin_entry, to_body
from hybridgate.observe.audit.store import SqliteAuditStore, sqlite_path
from hybridgate.observe.config import AuditConfig

AUDIT_FILE = "audit.db"


def audit_path(cfg: AuditConfig) -> Path:
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


def open_store(cfg: AuditConfig) -> SqliteAuditStore:
    return SqliteAuditStore(
        audit_path(cfg), hmac_key=checkpoint_key(cfg), checkpoint_every=cfg.checkpoint_every, fsync=cfg.fsync
    )


def verify(store: SqliteAuditStore, key: bytes | None) -> Verdict:
    v = Verifier(store.checkpoints(), key)
    for row in store.rows():
        if not v.feed(row):
            break
    return v.finish()


def export_lines(store: SqliteAuditStore, since_ts: float | None) -> Iterator[bytes]:
    """One JSON object per row: the body as written plus its position and hashes."""
    for row in store.rows(since_ts=since_ts):
        body = orjson.loads(row.body)
        yield orjson.dumps({"seq": row.seq, "prev": row.prev, "hash": row.hash, "entry": body}) + b"\n"


def append_admin(cfg: AuditConfig, action: AdminAction) -> None:
    """For commands that run outside the server (`hybridgate keys create`): one row, written now."""
    store = open_store(cfg)
    try:
        entry = admin_entry(action)
        store.append([(action.ts, action.id, to_body(entry))], time.time())
    finally:
        store.close()
