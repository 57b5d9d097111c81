"""Where audit rows live: the store interface and its embedded SQLite implementation.

Appends from several worker processes interleave safely: each batch takes SQLite's write lock
(BEGIN IMMEDIATE), reads the chain head and links its rows to it inside the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from hashlib import sha256
from pathlib import Path
from typing import Protocol

from hybridgate.errors import ConfigError
from hybridgate.observe.audit.chain import GENESIS, Checkpoint, Row, prune_cut, sign

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY, ts REAL NOT NULL, request_id TEXT, body BLOB NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts);
DROP INDEX IF EXISTS audit_log_rid;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL, mac TEXT
);
"""

Pending = tuple[float, str, bytes]  # ts, request id, canonical body
_Params = tuple[int, float, str, bytes, str, str]  # one audit_log row as inserted

# `find` looks for a gateway request id (api.server.new_request_id: "hg-" + 48-bit unix milliseconds +
# 48 random bits, in hex) among the rows stamped within this many seconds of its time, through the ts
# index, so the table needs no request_id index: that index cost about a third of each append.
_FIND_WINDOW_S = 5.0


def id_time(request_id: str) -> float | None:
    """The unix time a gateway request id was made at, or None for any other id (admin actions, old ids)."""
    if len(request_id) != 27 or not request_id.startswith("hg-"):
        return None
    try:
        return int(request_id[3:15], 16) / 1000.0
    except ValueError:
        return None


class AuditStore(Protocol):
    def append(self, items: Sequence[Pending], now: float) -> list[Row]: ...
    def rows(self, after_seq: int = 0, since_ts: float | None = None) -> Iterator[Row]: ...
    def find(self, request_id: str) -> list[Row]: ...
    def checkpoints(self) -> list[Checkpoint]: ...
    def checkpoint_head(self, now: float) -> Checkpoint | None: ...
    def prune(self, before_ts: float, now: float) -> int: ...
    def close(self) -> None: ...


def sqlite_path(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise ConfigError(f"audit store {url!r}: expected sqlite:///PATH or postgresql://...")
    return Path(url[len("sqlite:///") :])


class SqliteAuditStore:
    def __init__(self, path: Path, *, hmac_key: bytes | None = None, checkpoint_every: int = 1000, fsync: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.key, self.every = hmac_key, checkpoint_every
        self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a committed transaction survives the process being killed; FULL also power loss.
        self.db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self.db.executescript(_SCHEMA)
        # For `append_nowait` (the writer commits on the event loop when it can, see writer.py): a second
        # connection that never waits for the write lock and never checkpoints the WAL itself (a
        # checkpoint syncs the files; `checkpoint_wal` runs it on the writer thread). None with fsync on,
        # where every commit syncs and so must stay off the loop.
        self._fast: sqlite3.Connection | None = None
        if not fsync:
            self._fast = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
            self._fast.execute("PRAGMA synchronous=NORMAL")
            self._fast.execute("PRAGMA wal_autocheckpoint=0")
        # One cursor per connection for `_append`'s statements: `Connection.execute` makes a cursor each
        # time, a fifth of what BEGIN or COMMIT cost it. Each connection appends from one thread at a time.
        self._cursors = {id(c): c.cursor() for c in (self.db, self._fast) if c is not None}

    def _head(self, db: sqlite3.Connection | None = None) -> tuple[int, str]:
        db = db or self.db
        row = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        cp = db.execute("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(cp[0]), str(cp[1])) if cp is not None else (0, GENESIS)

    def append(self, items: Sequence[Pending], now: float) -> list[Row]:
        self._cursors[id(self.db)].execute("BEGIN IMMEDIATE")
        return [Row(seq, body, prev, digest) for seq, _, _, body, prev, digest in self._append(self.db, items, now)]

    def append_nowait(self, items: Sequence[Pending], now: float) -> int | None:
        """`append` returning the number of rows, or None at once when it would have to wait: another
        connection (a worker process, the writer thread pruning) holds the write lock, or fsync is on.
        Never syncs a file: cheap enough to run on the event loop."""
        if self._fast is None:
            return None
        try:
            self._cursors[id(self._fast)].execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # SQLITE_BUSY: the write lock is taken
            return None
        return len(self._append(self._fast, items, now))

    def checkpoint_wal(self) -> bool:
        """Copies committed WAL frames into the database file (what SQLite's auto-checkpoint does every
        1,000 pages, off for `append_nowait`'s connection); PASSIVE: writers are never blocked. True when
        the whole WAL was copied, so the next commit starts the file over."""
        busy, frames, copied = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return bool(busy == 0 and frames == copied)

    def _append(self, db: sqlite3.Connection, items: Sequence[Pending], now: float) -> list[_Params]:
        """Inside a BEGIN IMMEDIATE on `db`: links the rows to the head (`chain.link`, inlined: this runs
        per row) and commits. Returns the inserted (seq, ts, request_id, body, prev, hash) tuples."""
        cur = self._cursors[id(db)]
        try:
            row = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (int(row[0]), str(row[1])) if row is not None else self._head(db)  # `_head(db)`
            params: list[_Params] = []
            for ts, rid, body in items:
                seq += 1
                digest = sha256(b"%s|%d|%s" % (prev.encode(), seq, body)).hexdigest()  # link(prev, seq, body)
                params.append((seq, ts, rid, body, prev, digest))
                prev = digest
            cur.executemany(
                "INSERT INTO audit_log (seq, ts, request_id, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)", params
            )
            if self.key is not None:
                for p in params:
                    if p[0] % self.every == 0:
                        self._checkpoint(p[0], p[5], now, "periodic", db)
            cur.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return params

    def _checkpoint(self, seq: int, digest: str, now: float, kind: str, db: sqlite3.Connection | None = None) -> None:
        mac = sign(self.key, seq, digest) if self.key is not None else None
        (db or self.db).execute(
            "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, ts, kind, mac) VALUES (?, ?, ?, ?, ?)",
            (seq, digest, now, kind, mac),
        )

    def checkpoint_head(self, now: float) -> Checkpoint | None:
        """Signs the current head, so cutting rows off the end is detected from here on."""
        if self.key is None:
            return None
        self.db.execute("BEGIN IMMEDIATE")
        try:
            seq, digest = self._head()
            if seq > 0:
                self._checkpoint(seq, digest, now, "periodic")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return Checkpoint(seq, digest, now, "periodic", sign(self.key, seq, digest)) if seq > 0 else None

    def rows(self, after_seq: int = 0, since_ts: float | None = None) -> Iterator[Row]:
        q = "SELECT seq, body, prev, hash FROM audit_log WHERE seq > ?"
        args: list[float] = [after_seq]
        if since_ts is not None:
            q += " AND ts >= ?"
            args.append(since_ts)
        cur = self.db.execute(q + " ORDER BY seq", args)
        while batch := cur.fetchmany(1000):
            for seq, body, prev, digest in batch:
                yield Row(int(seq), bytes(body), str(prev), str(digest))

    def find(self, request_id: str) -> list[Row]:
        """Rows with this request id. A gateway id is looked up near its own time; any other id, or one
        not found there (a clock step mid-request), by a scan of the table."""
        q = "SELECT seq, body, prev, hash FROM audit_log WHERE request_id = ?"
        t = id_time(request_id)
        found: list[Row] = []
        if t is not None:
            near = (request_id, t - _FIND_WINDOW_S, t + _FIND_WINDOW_S)
            found = self._rows(q + " AND ts BETWEEN ? AND ? ORDER BY seq", near)
        return found or self._rows(q + " ORDER BY seq", (request_id,))

    def _rows(self, query: str, args: tuple[object, ...]) -> list[Row]:
        return [Row(int(s), bytes(b), str(p), str(h)) for s, b, p, h in self.db.execute(query, args)]

    def checkpoints(self) -> list[Checkpoint]:
        cur = self.db.execute("SELECT seq, hash, ts, kind, mac FROM audit_checkpoints ORDER BY seq")
        return [Checkpoint(int(s), str(h), float(t), str(k), m) for s, h, t, k, m in cur]

    def prune(self, before_ts: float, now: float) -> int:
        """Deletes rows older than `before_ts` (a whole prefix) and leaves a signed checkpoint in their place."""
        if self.key is None:
            raise ConfigError("pruning needs the checkpoint key: without it the pruned chain cannot be anchored")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # the prefix ends before the first row that is new enough, so a late-stamped row never leaves a hole
            keep = self.db.execute("SELECT MIN(seq) FROM audit_log WHERE ts >= ?", (before_ts,)).fetchone()[0]
            top = self.db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
            cut = prune_cut(keep, top)
            row = self.db.execute("SELECT hash FROM audit_log WHERE seq = ?", (cut,)).fetchone()
            if row is None:
                self.db.execute("COMMIT")
                return 0
            self._checkpoint(cut, str(row[0]), now, "prune")
            n = self.db.execute("DELETE FROM audit_log WHERE seq <= ?", (cut,)).rowcount
            self.db.execute("DELETE FROM audit_checkpoints WHERE seq < ?", (cut,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return int(n)

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        self.db.close()
