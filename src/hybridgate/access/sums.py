"""The in-process expiring sum behind every local counter (see counters.py for the semantics).

Entries are small lists `[expires, amount, member]` in a deque ordered by expiry. Every entry of one
counter has the same lifetime (its window, lease or reservation TTL) and the clock moves forward, so a
new entry almost always goes at the end and expiry pops from the front: O(1) either way, no heap, no
per-entry dict. Whoever added an entry keeps the list itself and settles through it (adjust, remove)
without any lookup; a removed entry has member None and is skipped (and dropped in bulk when they pile up).
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any

Entry = list[Any]  # [expires: float, amount: int, member: str | None]; member None once removed or expired


def _expiry(e: Entry) -> float:
    return float(e[0])


class Sum:
    __slots__ = ("dead", "entries", "members", "total")

    def __init__(self) -> None:
        self.entries: deque[Entry] = deque()
        self.total = 0
        self.dead = 0  # removed entries still in the deque
        self.members: dict[str, Entry] | None = None  # member -> entry, only for settles by member name

    def expire(self, now: float) -> None:
        q, members = self.entries, self.members
        while q and q[0][0] <= now:
            e = q.popleft()
            member = e[2]
            if member is None:
                self.dead -= 1
                continue
            self.total -= e[1]
            e[2] = None  # a late settle through this entry changes nothing
            if members is not None and members.get(member) is e:
                del members[member]

    def add(self, member: str, amount: int, expires: float) -> Entry:
        e = [expires, amount, member]
        q = self.entries
        if not q or q[-1][0] <= expires:
            q.append(e)
        else:  # the clock stepped back, or a shorter TTL than the entries before: keep the order
            q.insert(bisect.bisect_right(q, expires, key=_expiry), e)
        self.total += amount
        return e

    def put(self, member: str, amount: int, expires: float) -> int:
        """Sets the member's entry, replacing any it had; returns the change to the total."""
        members = self.members
        if members is None:
            members = self.members = {}
        prev = members.get(member)
        delta = amount
        if prev is not None and prev[2] is not None:
            delta -= prev[1]
            self.remove(prev)
        members[member] = self.add(member, amount, expires)
        return delta

    def remove(self, e: Entry) -> None:
        if e[2] is None:
            return
        e[2] = None
        self.total -= e[1]
        self.dead += 1
        if self.dead > 64 and 2 * self.dead > len(self.entries):  # settled leases pile up: drop them
            self.compact()

    def compact(self) -> None:
        """Drops the removed entries (LocalCounters.release checks the same condition inline)."""
        self.entries = deque(x for x in self.entries if x[2] is not None)
        self.dead = 0

    def adjust(self, e: Entry, amount: int) -> None:
        if e[2] is not None:
            self.total += amount - e[1]
            e[1] = amount

    def reset_s(self, now: float, ttl_s: float) -> float:
        """Until the oldest live entry expires (when room appears); call after `expire`."""
        q = self.entries
        while q and q[0][2] is None:
            q.popleft()
            self.dead -= 1
        return max(0.0, q[0][0] - now) if q else ttl_s
