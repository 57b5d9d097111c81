"""Deadlines for many concurrent calls on one loop timer.

`asyncio.timeout_at` schedules (and cancels) a loop timer per call. Upstream deadlines are long
(seconds to minutes) and almost every call ends well before its own, so here the calls in flight share
one timer, due at the earliest deadline among them: entering and leaving a deadline is a set insert and
delete, and the timer fires about once per deadline length instead of being set up and torn down on every
request. When it fires, the calls whose deadline has passed are cancelled and it is set again for the
earliest one left.

Same semantics as `asyncio.timeout_at` (a sync context manager instead of an async one): on expiry the
task is cancelled, and the cancellation leaving the block becomes `TimeoutError`; a cancellation from
elsewhere passes through unchanged.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType


class Deadlines:
    """One per backend (or any group of calls on the same loop)."""

    __slots__ = ("_armed", "_loop", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._armed: set[Deadline] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def at(self, when: float) -> Deadline:
        """A deadline at loop time `when`; enter it (`with`) inside the task it bounds."""
        return Deadline(self, when)

    def _arm(self, d: Deadline, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:  # first use, or a new loop (tests): nothing armed on the old one counts
            self._loop, self._armed, self._timer, self._timer_at = loop, set(), None, math.inf
        self._armed.add(d)
        if d.when < self._timer_at:
            self._set_timer(d.when)

    def _set_timer(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        assert self._loop is not None
        # what this timer was set for is due even if the loop's clock reads a hair earlier (ms rounding)
        now = max(self._loop.time(), self._timer_at)
        self._timer, self._timer_at = None, math.inf
        due = [d for d in self._armed if d.when <= now]
        for d in due:
            self._armed.discard(d)
            d._expire()
        if self._armed:
            self._set_timer(min(d.when for d in self._armed))

    def __len__(self) -> int:
        return len(self._armed)


class Deadline:
    __slots__ = ("_cancelling", "_owner", "_task", "expired", "when")

    def __init__(self, owner: Deadlines, when: float) -> None:
        self._owner = owner
        self.when = when
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self.expired = False

    def __enter__(self) -> Deadline:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        owner = self._owner
        if loop is owner._loop and self.when >= owner._timer_at:  # the usual case: the timer is due earlier
            owner._armed.add(self)
        else:
            owner._arm(self, loop)  # one already past fires on the loop's next turn, as asyncio's does
        return self

    def reschedule(self, when: float) -> None:
        """Moves the deadline (while inside the block)."""
        self.when = when
        owner = self._owner
        if self in owner._armed and when < owner._timer_at:
            owner._set_timer(when)

    def _expire(self) -> None:
        self.expired = True
        assert self._task is not None
        self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._owner._armed.discard(self)
        if self.expired:
            assert self._task is not None
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc
