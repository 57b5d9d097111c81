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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

NANO = 1_000_000_000  # nano-dollars per dollar


# Tuples rather than dataclasses: several of each are built for every request, and a NamedTuple is
# several times cheaper to construct than a frozen dataclass.
class Check(NamedTuple):
    key: str
    amount: int
    limit: int
    ttl_s: float  # how long the entry lives: the window, the lease or the reservation
    base_key: str | None = None  # budgets: the period's settled spend, counted against the limit too
    name: str = ""  # which limit this is, for headers and messages (e.g. "key.rpm")

    @property
    def windowed(self) -> bool:
        """A rate window (requests, tokens): the only kind whose reset time anyone reads."""
        return self.name.endswith((".requests", ".tokens"))

    @property
    def counts(self) -> bool:
        """Counts requests (a request window or an in-flight limit): every entry is 1, never adjusted."""
        return self.amount == 1 and self.name.endswith((".requests", ".concurrent"))


class Settle(NamedTuple):
    key: str
    action: Literal["adjust", "remove"]  # adjust: set the entry to `amount`; remove: drop it
    amount: int = 0
    base_key: str | None = None
    base_add: int = 0
    base_ttl_s: float = 0.0


class Hit(NamedTuple):
    allowed: bool
    used: int  # after this request if allowed, else before it
    limit: int
    reset_s: float  # until the oldest entry expires (when room appears); only exact for windowed checks


class Counters(Protocol):
    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        """Adds `member` to every check's sum if all of them have room, else to none. Each Hit says
        whether its own check had room, so the caller can name the limit that was hit."""
        ...

    def settle_soon(self, settles: Sequence[Settle], member: str, now: float) -> None:
        """Queues a settle without waiting for it: applied before any later `acquire` of this instance.
        Failures are logged (a reservation that never settles expires after its TTL)."""
        ...

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        """`settle_soon`, then wait until it is applied (raises if it could not be)."""
        ...

    async def flush(self) -> None:
        """Returns once every settle queued so far is applied (or has failed)."""
        ...

    async def seed(self, spent: Mapping[str, tuple[int, float]], now: float) -> None:
        """Sets each `base` counter (a period's settled spend) to `(amount, ttl_s)` unless it already
        holds a value: at start-up, from the usage table, so that a restart does not forget the spend."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Sum:
    entries: dict[str, tuple[int, float]] = field(default_factory=dict)  # member -> (amount, expires)
    heap: list[tuple[float, str]] = field(default_factory=list)  # (expires, member); stale items skipped
    total: int = 0

    def expire(self, now: float) -> None:
        """O(log n) per expired entry: a busy key holds one entry per request of its window. A heap item
        whose entry was removed or replaced (settled lease, re-acquire) is stale: popped and ignored."""
        heap, entries = self.heap, self.entries
        while heap and heap[0][0] <= now:
            exp, member = heapq.heappop(heap)
            e = entries.get(member)
            if e is not None and e[1] == exp:
                del entries[member]
                self.total -= e[0]

    def put(self, member: str, amount: int, expires: float) -> int:
        """Sets the member's entry; returns the change to the total."""
        prev = self.entries.get(member)
        delta = amount - prev[0] if prev is not None else amount
        self.entries[member] = (amount, expires)
        heapq.heappush(self.heap, (expires, member))
        self.total += delta
        if len(self.heap) > 2 * len(self.entries) + 64:  # removed leases leave stale items: compact
            self.heap = [(exp, m) for m, (_, exp) in self.entries.items()]
            heapq.heapify(self.heap)
        return delta

    def reset_s(self, now: float, ttl_s: float) -> float:
        heap, entries = self.heap, self.entries
        while heap:
            exp, member = heap[0]
            e = entries.get(member)
            if e is not None and e[1] == exp:
                return max(0.0, exp - now)
            heapq.heappop(heap)
        return ttl_s


_WINDOWED: dict[str, bool] = {}  # check name -> Check.windowed, for the few names there are


class LocalCounters:
    """In-process: for the embedded single-process gateway. Several worker processes need Redis.

    Nothing here awaits, so every method is atomic with respect to the event loop; settles apply at once.
    """

    def __init__(self) -> None:
        self._sums: dict[str, _Sum] = {}
        self._base: dict[str, tuple[int, float]] = {}  # key -> (value, expires)
        self._settled = 0

    def _sum(self, key: str, now: float) -> _Sum:
        s = self._sums.get(key)
        if s is None:
            s = self._sums[key] = _Sum()
        else:
            s.expire(now)
        return s

    def base(self, key: str | None, now: float) -> int:
        if key is None:
            return 0
        got = self._base.get(key)
        if got is None:
            return 0
        if got[1] <= now:
            del self._base[key]
            return 0
        return got[0]

    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        # The request path of every limited request: lookups inlined, `expire` and `base` only when needed.
        sums = self._sums
        found: list[tuple[_Sum, int]] = []
        ok = True
        for c in checks:
            s = sums.get(c.key)
            if s is None:
                s = sums[c.key] = _Sum()
            elif s.heap and s.heap[0][0] <= now:
                s.expire(now)
            used = s.total if c.base_key is None else s.total + self.base(c.base_key, now)
            found.append((s, used))
            if used + c.amount > c.limit:
                ok = False
        hits = []
        for c, (s, used) in zip(checks, found, strict=True):
            if ok:
                used += s.put(member, c.amount, now + c.ttl_s)
            windowed = _WINDOWED.get(c.name)
            if windowed is None:
                windowed = _WINDOWED[c.name] = c.windowed
            reset = s.reset_s(now, c.ttl_s) if windowed else c.ttl_s
            hits.append(Hit(ok or used + c.amount <= c.limit, used, c.limit, reset))
        return hits

    def settle_soon(self, settles: Sequence[Settle], member: str, now: float) -> None:
        for st in settles:
            s = self._sum(st.key, now)
            old = s.entries.get(member)
            if old is not None:
                if st.action == "remove":
                    del s.entries[member]  # its heap item is now stale and skipped
                    s.total -= old[0]
                else:
                    s.entries[member] = (st.amount, old[1])
                    s.total += st.amount - old[0]
            if st.base_key is not None and st.base_add:
                value = self.base(st.base_key, now)
                self._base[st.base_key] = (value + st.base_add, now + st.base_ttl_s)
        self._settled += 1
        if self._settled % 4096 == 0:
            self._gc()

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        self.settle_soon(settles, member, now)

    async def flush(self) -> None:
        return None

    async def seed(self, spent: Mapping[str, tuple[int, float]], now: float) -> None:
        for key, (amount, ttl_s) in spent.items():
            if self.base(key, now) == 0 and key not in self._base:
                self._base[key] = (amount, now + ttl_s)

    def _gc(self) -> None:
        if len(self._sums) > 10_000:  # keys of idle principals: drop the empty ones
            for k in [k for k, s in self._sums.items() if not s.entries]:
                del self._sums[k]

    async def aclose(self) -> None:
        return None
