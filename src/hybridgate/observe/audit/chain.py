"""The hash chain, as pure functions over plain rows.

Row n stores `hash_n = SHA-256(hash_{n-1} | n | body_n)`. Changing a byte of a body or a hash breaks
row n; deleting a row leaves a gap in `seq` and a `prev` that no longer matches; moving a body to
another position breaks the hash because the position is hashed too. A plain chain can be rebuilt by
anyone who can write the table, so checkpoints (the hash at a position, signed with an HMAC key the
writer holds) pin it: rebuilding past a checkpoint, or cutting rows off the end, no longer verifies.
Pruning replaces the removed prefix with a signed checkpoint the remaining chain starts from.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    body: bytes
    prev: str
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    ts: float
    kind: str  # periodic | prune
    mac: str | None


@dataclass(frozen=True, slots=True)
class Broken:
    seq: int
    reason: str


@dataclass
class Verdict:
    rows: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoints: int = 0
    broken: Broken | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None


def link(prev: str, seq: int, body: bytes) -> str:
    return hashlib.sha256(b"%s|%d|%s" % (prev.encode(), seq, body)).hexdigest()


def sign(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, b"hybridgate-audit-checkpoint|%d|%s" % (seq, digest.encode()), hashlib.sha256).hexdigest()


def chain(prev: str, first_seq: int, bodies: Iterable[bytes]) -> list[Row]:
    rows = []
    for i, body in enumerate(bodies):
        seq = first_seq + i
        h = link(prev, seq, body)
        rows.append(Row(seq, body, prev, h))
        prev = h
    return rows


def prune_cut(keep: int | None, top: int | None) -> int:
    """The last seq a prune removes: everything before the first row new enough to keep (`keep`), so a
    late-stamped row never leaves a hole; all rows (up to `top`) when none is new enough; 0 when empty."""
    if keep is not None:
        return int(keep) - 1
    return int(top) if top is not None else 0


def check_checkpoint(cp: Checkpoint, key: bytes | None) -> str | None:
    """Why a checkpoint cannot be trusted, or None."""
    if key is None:
        return None
    if cp.mac is None:
        return f"checkpoint at seq {cp.seq} is unsigned"
    if not hmac.compare_digest(cp.mac, sign(key, cp.seq, cp.hash)):
        return f"checkpoint at seq {cp.seq} has a bad signature"
    return None


def start_point(first_seq: int | None, checkpoints: dict[int, Checkpoint]) -> tuple[int, str] | Broken:
    """(expected first seq, prev hash) the remaining chain must start from."""
    if first_seq is None or first_seq == 1:
        return 1, GENESIS
    anchor = checkpoints.get(first_seq - 1)
    if anchor is None:
        return Broken(1, f"rows 1..{first_seq - 1} are missing and no checkpoint covers them")
    return first_seq, anchor.hash


class Verifier:
    """Feed rows in seq order; stops at the first broken link."""

    def __init__(self, checkpoints: Iterable[Checkpoint], key: bytes | None) -> None:
        self.cps = {c.seq: c for c in checkpoints}
        self.key = key
        self.v = Verdict()
        self._expect: int | None = None
        self._prev = GENESIS
        if key is None and self.cps:
            self.v.warnings.append("no checkpoint key: signatures not checked, a rebuilt chain would pass")
        for cp in self.cps.values():
            why = check_checkpoint(cp, key)
            if why is not None and self.v.broken is None:
                self.v.broken = Broken(cp.seq, why)

    def feed(self, row: Row) -> bool:
        """False once broken."""
        v = self.v
        if v.broken is not None:
            return False
        if self._expect is None:
            start = start_point(row.seq, self.cps)
            if isinstance(start, Broken):
                v.broken = start
                return False
            self._expect, self._prev = start
            v.first_seq = row.seq
        if row.seq != self._expect:
            v.broken = Broken(self._expect, f"row(s) {self._expect}..{row.seq - 1} deleted (next row is {row.seq})")
        elif row.prev != self._prev:
            v.broken = Broken(row.seq, "link to the previous row does not match (row removed or replaced)")
        elif link(row.prev, row.seq, row.body) != row.hash:
            v.broken = Broken(row.seq, "content does not match its hash (row altered or moved)")
        else:
            cp = self.cps.get(row.seq)
            if cp is not None and cp.hash != row.hash:
                v.broken = Broken(row.seq, "row differs from its signed checkpoint (chain rebuilt)")
            elif cp is not None:
                v.checkpoints += 1
        if v.broken is not None:
            return False
        self._prev, self._expect = row.hash, row.seq + 1
        v.rows += 1
        v.last_seq = row.seq
        return True

    def finish(self) -> Verdict:
        v = self.v
        last = v.last_seq or 0
        beyond = [s for s in self.cps if s > last and self.cps[s].kind != "prune"] if v.broken is None else []
        if beyond:
            v.broken = Broken(
                last + 1, f"log ends at seq {last} but a checkpoint exists at seq {max(beyond)} (rows cut)"
            )
        return v
