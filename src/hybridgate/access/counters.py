"""Shared counters for rate limits, concurrency and budgets: one interface, two implementations.

Every counter is an *expiring sum*: entries (member -> amount) that each expire at their own time.
- a rate window adds one entry per request (amount 1, or the token estimate) that expires `window` later:
  a sliding-window log, exact at the edges, so "60 per minute" never lets 120 through across a boundary;
- a concurrency lease is an entry of 1 that the request removes when done (or that expires after
  `lease_ttl_s` if the replica crashed);
- a budget reservation is an entry of the estimated cost that settling removes, adding the real cost
  to the period's `base` counter (spend so far).

`acquire` is all-or-nothing over a list of checks, atomically: the in-process version because nothing
awaits inside it, the Redis version (redis_counters.py) because it is one Lua script.
Money is counted in integer nano-dollars so that sums stay exact.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

NANO = 1_000_000_000  # nano-dollars per dollar


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    amount: int
    limit: int
    ttl_s: float  # how long the entry lives: the window, the lease or the reservation
    base_key: str | None = None  # budgets: the period's settled spend, counted against the limit too
    name: str = ""  # which limit this is, for headers and messages (e.g. "key.rpm")


@dataclass(frozen=True, slots=True)
class Settle:
    key: str
    action: Literal["adjust", "remove"]  # adjust: set the entry to `amount`; remove: drop it
    amount: int = 0
    base_key: str | None = None
    base_add: int = 0
    base_ttl_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Hit:
    allowed: bool
    used: int  # after this request if allowed, else before it
    limit: int
    reset_s: float  # until the oldest entry expires (when room appears)


class Counters(Protocol):
    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        """Adds `member` to every check's sum if all of them have room, else to none. Each Hit says
        whether its own check had room, so the caller can name the limit that was hit."""
        ...

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None: ...
    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Sum:
    entries: dict[str, tuple[int, float]] = field(default_factory=dict)  # member -> (amount, expires)
    heap: list[tuple[float, str]] = field(default_factory=list)  # (expires, member); stale items skipped
    total: int = 0

    def _clean_top(self) -> None:
        while self.heap and self.entries.get(self.heap[0][1], (0, None))[1] != self.heap[0][0]:
            heapq.heappop(self.heap)

    def expire(self, now: float) -> None:
        """O(log n) per expired entry: a busy key holds one entry per request of its window."""
        self._clean_top()
        while self.heap and self.heap[0][0] <= now:
            _, member = heapq.heappop(self.heap)
            self.total -= self.entries.pop(member)[0]
            self._clean_top()

    def put(self, member: str, amount: int, expires: float) -> None:
        prev = self.entries.get(member, (0, 0.0))[0]
        self.entries[member] = (amount, expires)
        heapq.heappush(self.heap, (expires, member))
        self.total += amount - prev
        if len(self.heap) > 2 * len(self.entries) + 64:  # removed leases leave stale items: compact
            self.heap = [(exp, m) for m, (_, exp) in self.entries.items()]
            heapq.heapify(self.heap)

    def reset_s(self, now: float, ttl_s: float) -> float:
        self._clean_top()
        return max(0.0, self.heap[0][0] - now) if self.heap else ttl_s


class LocalCounters:
    """In-process: for the embedded single-process gateway. Several worker processes need Redis."""

    def __init__(self) -> None:
        self._sums: dict[str, _Sum] = {}
        self._base: dict[str, tuple[int, float]] = {}  # key -> (value, expires)
        self._settled = 0

    def _sum(self, key: str, now: float) -> _Sum:
        s = self._sums.setdefault(key, _Sum())
        s.expire(now)
        return s

    def base(self, key: str | None, now: float) -> int:
        if key is None or key not in self._base:
            return 0
        value, exp = self._base[key]
        if exp <= now:
            del self._base[key]
            return 0
        return value

    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        current = [self._sum(c.key, now).total + self.base(c.base_key, now) for c in checks]
        ok = all(used + c.amount <= c.limit for c, used in zip(checks, current, strict=True))
        hits = []
        for c, used in zip(checks, current, strict=True):
            s = self._sums[c.key]
            if ok:
                s.put(member, c.amount, now + c.ttl_s)
                used = s.total + self.base(c.base_key, now)
            hits.append(Hit(ok or used + c.amount <= c.limit, used, c.limit, s.reset_s(now, c.ttl_s)))
        return hits

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        for st in settles:
            s = self._sum(st.key, now)
            if member in s.entries:
                old, exp = s.entries[member]
                if st.action == "remove":
                    del s.entries[member]  # its heap item is now stale and skipped
                    s.total -= old
                else:
                    s.entries[member] = (st.amount, exp)
                    s.total += st.amount - old
            if st.base_key is not None and st.base_add:
                value = self.base(st.base_key, now)
                self._base[st.base_key] = (value + st.base_add, now + st.base_ttl_s)
        self._settled += 1
        if self._settled % 4096 == 0:
            self._gc()

    def _gc(self) -> None:
        if len(self._sums) > 10_000:  # keys of idle principals: drop the empty ones
            for k in [k for k, s in self._sums.items() if not s.entries]:
                del self._sums[k]

    async def aclose(self) -> None:
        return None
