"""A stream's stall limit with one timer per stream rather than one per read.

`asyncio.timeout` around each read arms and cancels a timer for every event of a stream; on a paced
stream (one event per read) that was ~8% of the worker's CPU. `StallWatch` notes when each wait
starts and keeps a single timer that, when it fires, either finds the current wait over the limit
(and cancels it, as `asyncio.timeout` would) or re-arms itself for the current wait's own deadline.
Nothing is armed while the stream is handed to its consumer, so a slow client is never the stall.

A wait may carry its own limit (the stream's first-byte deadline, while the response's headers are
awaited): the same timer then serves both, and is moved earlier only when a wait is due before it.
"""

from __future__ import annotations

import asyncio

_EARLY = 0.001  # a timer may fire this much before its time (libuv counts in milliseconds)


class StallWatch:
    def __init__(self, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._due: float | None = None  # when the wait in progress is over its limit; None between waits
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0  # when the armed timer fires
        self._expired = False

    def waiting(self, limit: float | None = None) -> None:
        """Call right before awaiting the next read; `limit`: this wait's own, instead of the watch's."""
        due = self._loop.time() + (self._limit if limit is None else limit)
        self._due = due
        self._task = asyncio.current_task(self._loop)  # given the loop: no getpid() system call (Python 3.11)
        self._cancelling = self._task.cancelling() if self._task is not None else 0
        if self._handle is None or due < self._at:  # with one limit throughout, never due before the timer
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(due, self._check)
            self._at = due

    def done(self) -> None:
        """Call as soon as the read returned."""
        self._due = None

    def expired(self) -> bool:
        """In `except CancelledError`: True when the cancel was this watch's own and no other cancel is
        pending (as `asyncio.timeout` decides), so the stall is to be raised in its place."""
        self._due = None
        if not self._expired or self._task is None:
            return False
        self._expired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        self._due = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        due = self._due
        if due is None or self._task is None:
            return  # between waits: the next wait arms the timer again
        if self._loop.time() >= due - _EARLY:
            self._expired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(due, self._check)
            self._at = due
