"""What the writer appends per record (the canonical body, built without sorting) and how a row is
found again by request id (near the id's own time, without a request_id index)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from hybridgate.api.server import new_request_id
from hybridgate.observe.audit.entry import AdminAction, entry_of, pending_of, to_body
from hybridgate.observe.audit.store import SqliteAuditStore, id_time
from hybridgate.store.records import AttemptRecord, UsageRecord
from tests.unit.observe.test_metrics import rec

RECORDS: list[UsageRecord | AdminAction] = [
    rec(),
    rec(attempts=()),
    rec(
        finding_counts={"SSN": 1, "EMAIL": 2, "CREDIT_CARD": 1},
        attempts=(
            AttemptRecord("a", "frontier", "timeout", 10.12345),
            AttemptRecord("b", "self_hosted", "ok", 3.0),
        ),
        allowed_trust=("self_hosted", "frontier"),
        ttft_ms=12.34567,
        overflow="fallback",
        key_id="k1",
        team="red",
        reason='quoted "reason" \u00e9',
        fail_closed=True,
    ),
    rec(finding_counts={"EMAIL": 1}, payload={"nonce": "n", "ct": "c", "alg": "AES-256-GCM"}),
    AdminAction("key.create", actor="admin", target="key-9", details={"team": "red", "a": 1}, ts=5.0, id="adm-1"),
]


@pytest.mark.parametrize("item", RECORDS)
def test_pending_body_is_the_sorted_canonical_body(item: UsageRecord | AdminAction) -> None:
    ts, rid, body = pending_of(item)
    entry = entry_of(item)
    assert body == to_body(entry) == orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    assert (ts, rid) == (entry["ts"], entry["request_id"])


def test_id_time_reads_the_time_in_a_gateway_request_id() -> None:
    t = id_time(new_request_id())
    assert t is not None and abs(t - time.time()) < 60
    assert id_time("adm-0123456789abcdef") is None
    assert id_time("hg-zzzzzzzzzzzzzzzzzzzzzzzz") is None
    assert id_time("r1") is None


def test_find_by_request_id(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "a.db")
    now = time.time()
    ids = [new_request_id() for _ in range(3)]
    items = [(now, rid, b'{"i":%d}' % i) for i, rid in enumerate(ids)]
    far = new_request_id()
    items.append((now - 7200.0, far, b'{"far":1}'))  # stamped two hours off its id's time (a clock step)
    items.append((now, "adm-1", b'{"admin":1}'))
    items.append((now + 10.0, "hg-" + "0" * 24, b'{"old":1}'))
    store.append(items, now)
    assert [r.body for r in store.find(ids[0])] == [b'{"i":0}']
    assert [r.body for r in store.find(ids[2])] == [b'{"i":2}']
    assert [r.body for r in store.find(far)] == [b'{"far":1}']  # not near its time: found by a scan
    assert [r.seq for r in store.find("adm-1")] == [5]  # not a gateway id: found by a scan
    assert [r.seq for r in store.find("hg-" + "0" * 24)] == [6]  # its time says 1970: found by a scan
    assert store.find(new_request_id()) == []
