"""A bounded waiting room: requests wait here for an endpoint inside their boundary to free up."""

from __future__ import annotations

import asyncio


class CapacityGate:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.waiting = 0

    def notify(self) -> None:
        """Something finished or changed state: every waiter re-checks."""
        self._event.set()

    async def wait(self, seconds: float, max_waiting: int) -> bool:
        """False when the queue is full or the deadline passed without any change."""
        if self.waiting >= max_waiting:
            return False
        self.waiting += 1
        self._event.clear()
        try:
            # Re-check at least every 250 ms: load signals change without any request finishing.
            async with asyncio.timeout(min(seconds, 0.25)):
                await self._event.wait()
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1
        return True
