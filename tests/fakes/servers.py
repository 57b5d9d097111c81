"""Run aiohttp apps (gateway, fakes) on a background event loop so sync clients can call them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._ports: dict[int, web.AppRunner] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, fn: Callable[[], T]) -> T:
        async def wrap() -> T:
            return fn()

        return self.run(wrap())

    def start_app(self, make_app: Callable[[], web.Application], port: int = 0) -> int:
        async def start() -> int:
            runner = web.AppRunner(make_app(), access_log=None, handle_signals=False, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
            self._runners.append(runner)
            server: Any = site._server
            bound = int(server.sockets[0].getsockname()[1])
            self._ports[bound] = runner
            return bound

        return self.run(start())

    def stop_app(self, port: int) -> None:
        """Shuts one app down cleanly (its on_cleanup hooks run), as a restart would."""
        runner = self._ports.pop(port)
        self._runners.remove(runner)
        self.run(runner.cleanup(), timeout=60)

    def stop(self) -> None:
        async def stop() -> None:
            for r in reversed(self._runners):
                await r.cleanup()

        try:
            self.run(stop(), timeout=60)  # a loaded CI box can take a while to flush audit and usage
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
