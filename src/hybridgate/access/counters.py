"""Shared counters for rate limits, concurrency and budgets: one interface, two implementations.

Every counter is an *expiring sum*: entries (member -> amount) that each expire at their own time.
- a rate window adds one entry per request (amount 1, or the token estimate) that expires `window` later:
  a sliding-window log, exact at the edges, so "60 per minute" never lets 120 through across a boundary;
- a concurrency lease is an entry of 1 that the request removes when done (or that expires after
  `lease_ttl_s` if the replica crashed);
- a budget reservation is an entry of the estimated cost that settling removes, adding the real cost
  to the period's `base` counter (spend so far).

`acquire` is all-or-nothing over a list of checks, atomically: the in-process version because nothing
awaits inside it, the Redis version (redis_counters.py) because it is one Lua script. Both also offer
`bind` / `take` / `release`, the same operations over checks bound once per principal (admission.py).
Money is counted in integer nano-dollars so that sums stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, Protocol

from hybridgate.access.sums import Entry, Sum

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


_WINDOWED: dict[str, bool] = {}  # check name -> Check.windowed, for the few names there are


class Bound(NamedTuple):
    """A principal's checks bound to this replica's sums, so a request finds each without a lookup.

    slots:   (sum, limit, ttl_s, amount index, base key or None) per check; the amount index picks from
             the request's (1, tokens, nano-dollars)
    settles: (slot index, action, base key or None, period end) for each check that settling touches
    """

    generation: int
    slots: tuple[tuple[Sum, int, float, int, str | None], ...]
    settles: tuple[tuple[int, int, str | None, float], ...]


ADJUST, REMOVE, SPEND = 1, 2, 3  # settle actions: reconcile the tokens, drop the lease, drop + add the cost
SPENT_GRACE_S = 86400.0  # a period's spend is kept a day past its end (see limits.spent_ttl)
# A check without its amount, as admission hands it to `bind`: key, limit, ttl_s, amount index, base key,
# settle action, period end (budgets), windowed (a rate window, whose reset time the headers report)
Spec = tuple[str, int, float, int, "str | None", int, float, bool]


def _take_back(b: Bound, entries: list[Entry]) -> None:
    """Undoes the first len(entries) additions of a `take` that then found a check without room."""
    for (s, _, _, _, _), e in zip(b.slots, entries, strict=False):
        q = s.entries
        if q and q[-1] is e:
            q.pop()
            s.total -= e[1]
            e[2] = None
        else:
            s.remove(e)


class LocalCounters:
    """In-process: for the embedded single-process gateway. Several worker processes need Redis.

    Nothing here awaits, so every method is atomic with respect to the event loop; settles apply at once.
    Admission uses `bind`, `take` and `release` (no awaits, no per-check objects); the `Counters` methods
    serve everything else and share the same sums.
    """

    def __init__(self) -> None:
        self._sums: dict[str, Sum] = {}
        self._base: dict[str, tuple[int, float]] = {}  # key -> (value, expires)
        self._settled = 0
        self.generation = 0  # bumped when idle sums are dropped: a Bound from before must bind again

    def _sum(self, key: str, now: float) -> Sum:
        s = self._sums.get(key)
        if s is None:
            s = self._sums[key] = Sum()
        elif s.entries and s.entries[0][0] <= now:
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

    def _spend(self, key: str, amount: int, ttl_s: float, now: float) -> None:
        self._base[key] = (self.base(key, now) + amount, now + ttl_s)

    def bind(self, specs: Sequence[Spec]) -> Bound:
        sums = self._sums
        slots = []
        settles = []
        for i, (key, limit, ttl, amount, base, action, end, _) in enumerate(specs):
            s = sums.get(key)
            if s is None:
                s = sums[key] = Sum()
            slots.append((s, limit, ttl, amount, base))
            if action:
                settles.append((i, action, base, end))
        return Bound(self.generation, tuple(slots), tuple(settles))

    def take(self, b: Bound, amounts: tuple[int, int, int], member: str, now: float) -> list[Entry] | None:
        """`acquire` over bound checks: the entries added, or None (and nothing added) if one has no room."""
        # Sum.add and self.base inlined: this runs for every limited request. One pass: each check is
        # added as soon as it has room; if a later one has none, those added are taken back (nothing awaits
        # in between, so no one saw them).
        base = self._base
        entries: list[Entry] = []
        for s, limit, ttl, i, base_key in b.slots:
            q = s.entries
            if q and q[0][0] <= now:
                s.expire(now)
            amount = amounts[i]
            used = s.total + amount
            if base_key is not None:
                got = base.get(base_key)
                if got is not None:
                    if got[1] > now:
                        used += got[0]
                    else:
                        del base[base_key]
            if used > limit:
                _take_back(b, entries)
                return None
            expires = now + ttl
            if not q or q[-1][0] <= expires:
                e = [expires, amount, member]
                q.append(e)
                s.total += amount
            else:
                e = s.add(member, amount, expires)
            entries.append(e)
        return entries

    def release(self, b: Bound, entries: list[Entry], tokens: int, cost_nano: int, now: float) -> None:
        """`settle_soon` for what `take` added: tokens reconciled, leases and reservations dropped, spend added."""
        slots = b.slots
        for i, action, base_key, end in b.settles:
            e = entries[i]
            if action == ADJUST:
                if e[2] is not None:  # Sum.adjust, inlined
                    slots[i][0].total += tokens - e[1]
                    e[1] = tokens
                continue
            if e[2] is not None:  # Sum.remove, inlined
                s = slots[i][0]
                e[2] = None
                s.total -= e[1]
                q = s.entries
                if q[0] is e:  # leases mostly end in the order they began: drop it and the removed behind it
                    q.popleft()
                    while q and q[0][2] is None:
                        q.popleft()
                        s.dead -= 1
                else:
                    s.dead += 1
                    if s.dead > 64 and 2 * s.dead > len(q):
                        s.compact()
            if base_key is not None and cost_nano:  # _spend and base, inlined
                got = self._base.get(base_key)
                old = got[0] if got is not None and got[1] > now else 0
                self._base[base_key] = (old + cost_nano, now + (end - now + SPENT_GRACE_S))
        self._settled += 1
        if self._settled % 4096 == 0:
            self._count_settle()

    async def acquire(self, checks: Sequence[Check], member: str, now: float) -> list[Hit]:
        found: list[tuple[Sum, int]] = []
        ok = True
        for c in checks:
            s = self._sum(c.key, now)
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
            members = s.members
            e = members.get(member) if members is not None else None
            if e is not None:
                if st.action == "remove":
                    s.remove(e)
                    del members[member]  # type: ignore[union-attr]  # e came from it
                else:
                    s.adjust(e, st.amount)
            if st.base_key is not None and st.base_add:
                self._spend(st.base_key, st.base_add, st.base_ttl_s, now)
        self._settled += 1
        self._count_settle()

    def _count_settle(self) -> None:
        """Every 4096 settles (the caller counts them in `_settled`): drops the empty sums of idle principals."""
        if self._settled % 4096 == 0 and len(self._sums) > 10_000:
            empty = [k for k, s in self._sums.items() if not s.entries]
            for k in empty:
                del self._sums[k]
            if empty:
                self.generation += 1

    async def settle(self, settles: Sequence[Settle], member: str, now: float) -> None:
        self.settle_soon(settles, member, now)

    async def flush(self) -> None:
        return None

    async def seed(self, spent: Mapping[str, tuple[int, float]], now: float) -> None:
        for key, (amount, ttl_s) in spent.items():
            if self.base(key, now) == 0 and key not in self._base:
                self._base[key] = (amount, now + ttl_s)

    async def aclose(self) -> None:
        return None
