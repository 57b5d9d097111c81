"""The audit chain: verifies when intact; every kind of tampering is detected and located."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hybridgate.errors import ConfigError
from hybridgate.observe.audit.chain import GENESIS, Verifier, chain, link
from hybridgate.observe.audit.ops import verify
from hybridgate.observe.audit.store import SqliteAuditStore

KEY = b"k" * 32


def fill(path: Path, n: int, *, key: bytes | None = None, every: int = 1000, batch: int = 100) -> SqliteAuditStore:
    store = SqliteAuditStore(path, hmac_key=key, checkpoint_every=every)
    for start in range(0, n, batch):
        items = [(float(i), f"r{i}", b'{"i":%d}' % i) for i in range(start, min(n, start + batch))]
        store.append(items, 0.0)
    return store


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_link_depends_on_position_and_previous_hash() -> None:
    assert link(GENESIS, 1, b"x") != link(GENESIS, 2, b"x")
    assert link(GENESIS, 1, b"x") != link("1" * 64, 1, b"x")
    rows = chain(GENESIS, 1, [b"a", b"b"])
    assert rows[1].prev == rows[0].hash


def test_intact_chain_of_1000_rows_verifies(tmp_path: Path) -> None:
    store = fill(tmp_path / "a.db", 1000)
    v = verify(store, None)
    assert v.ok and v.rows == 1000 and (v.first_seq, v.last_seq) == (1, 1000)


@pytest.mark.parametrize(
    ("tamper", "seq", "words"),
    [
        (
            "UPDATE audit_log SET body = CAST(replace(body, '\"i\":500', '\"i\":501') AS BLOB) WHERE seq = 501",
            501,
            "content",
        ),
        ("UPDATE audit_log SET hash = '0' || substr(hash, 2) WHERE seq = 300", 300, "content"),
        ("DELETE FROM audit_log WHERE seq = 700", 700, "deleted"),
        ("DELETE FROM audit_log WHERE seq = 1", 1, "missing"),
    ],
)
def test_tampering_is_located(tmp_path: Path, tamper: str, seq: int, words: str) -> None:
    path = tmp_path / "a.db"
    fill(path, 1000).close()
    raw(path).execute(tamper)
    v = verify(SqliteAuditStore(path), None)
    assert v.broken is not None and v.broken.seq == seq and words in v.broken.reason
    assert v.rows == seq - 1


def test_flipping_one_byte_of_a_body(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 50).close()
    db = raw(path)
    body = bytearray(db.execute("SELECT body FROM audit_log WHERE seq = 17").fetchone()[0])
    body[3] ^= 0x01
    db.execute("UPDATE audit_log SET body = ? WHERE seq = 17", (bytes(body),))
    v = verify(SqliteAuditStore(path), None)
    assert v.broken is not None and v.broken.seq == 17


def test_swapping_two_rows_is_detected_at_the_first(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 50).close()
    db = raw(path)
    db.execute("UPDATE audit_log SET seq = -1 WHERE seq = 20")
    db.execute("UPDATE audit_log SET seq = 20 WHERE seq = 21")
    db.execute("UPDATE audit_log SET seq = 21 WHERE seq = -1")
    v = verify(SqliteAuditStore(path), None)
    assert v.broken is not None and v.broken.seq == 20


def test_rebuilt_chain_fails_against_signed_checkpoint(tmp_path: Path) -> None:
    """Without checkpoints a writer could rehash everything; a signed checkpoint pins the chain."""
    path = tmp_path / "a.db"
    fill(path, 200, key=KEY, every=100).close()
    db = raw(path)
    rows = db.execute("SELECT seq, body FROM audit_log ORDER BY seq").fetchall()
    forged = chain(GENESIS, 1, [b'{"forged":1}' if s == 50 else bytes(b) for s, b in rows])
    for r in forged:
        db.execute("UPDATE audit_log SET body = ?, prev = ?, hash = ? WHERE seq = ?", (r.body, r.prev, r.hash, r.seq))
    v = verify(SqliteAuditStore(path), KEY)
    assert v.broken is not None and v.broken.seq == 100 and "checkpoint" in v.broken.reason
    for cp in (100, 200):  # the forger updates the checkpoint hashes too, but cannot sign them
        db.execute("UPDATE audit_checkpoints SET hash = ? WHERE seq = ?", (forged[cp - 1].hash, cp))
    assert verify(SqliteAuditStore(path), None).ok  # a keyless check cannot tell...
    v = verify(SqliteAuditStore(path), KEY)  # ...the signature can
    assert v.broken is not None and v.broken.seq == 100 and "signature" in v.broken.reason


def test_cutting_rows_off_the_end_is_detected_by_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 250, key=KEY, every=100).close()
    raw(path).execute("DELETE FROM audit_log WHERE seq > 150")
    v = verify(SqliteAuditStore(path), KEY)
    assert v.broken is not None and v.broken.seq == 151 and "cut" in v.broken.reason


def test_forged_checkpoint_signature_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 100, key=KEY, every=50).close()
    raw(path).execute("UPDATE audit_checkpoints SET mac = 'ab' WHERE seq = 50")
    v = verify(SqliteAuditStore(path), KEY)
    assert v.broken is not None and v.broken.seq == 50 and "signature" in v.broken.reason


def test_prune_keeps_the_rest_verifiable_and_the_chain_continues(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = fill(path, 300, key=KEY, every=1000)
    assert store.prune(before_ts=120.0, now=1.0) == 120
    store.append([(999.0, "late", b'{"late":1}')], 2.0)
    v = verify(store, KEY)
    assert v.ok and (v.first_seq, v.last_seq) == (121, 301) and v.rows == 181
    raw(path).execute("DELETE FROM audit_log WHERE seq = 121")
    assert verify(SqliteAuditStore(path), KEY).broken is not None


def test_prune_without_key_refuses(tmp_path: Path) -> None:
    store = fill(tmp_path / "a.db", 10)
    with pytest.raises(ConfigError):
        store.prune(before_ts=5.0, now=1.0)


def test_chain_continues_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 10).close()
    fill(path, 10).close()
    v = verify(SqliteAuditStore(path), None)
    assert v.ok and v.rows == 20


def test_verifier_on_empty_input_is_ok() -> None:
    assert Verifier([], None).finish().ok


def test_batches_of_any_size_store_what_chain_computes(tmp_path: Path) -> None:
    """Whatever the batch sizes, each row (ts, id, body, prev, hash) is stored as `chain` computes it over
    the whole sequence, and periodic checkpoints land on their rows."""
    sizes = [1, 63, 64, 65, 128, 129, 2]
    store = SqliteAuditStore(tmp_path / "a.db", hmac_key=KEY, checkpoint_every=64)
    bodies = [b'{"i":%d}' % i for i in range(sum(sizes))]
    start = 0
    for n in sizes:
        store.append([(float(i), f"r{i}", bodies[i]) for i in range(start, start + n)], 0.0)
        start += n
    got = store.db.execute("SELECT seq, ts, request_id, body, prev, hash FROM audit_log ORDER BY seq").fetchall()
    want = chain(GENESIS, 1, bodies)
    assert [(s, t, rid, bytes(b), p, h) for s, t, rid, b, p, h in got] == [
        (r.seq, float(r.seq - 1), f"r{r.seq - 1}", r.body, r.prev, r.hash) for r in want
    ]
    assert [cp.seq for cp in store.checkpoints()] == [64, 128, 192, 256, 320, 384, 448]
    assert verify(store, KEY).ok
