"""Start-up objects out of the garbage collector's way.

Everything alive once a worker has started (the NER model, the router's tables, the config, compiled
regexes) lives as long as the worker. CPython's full collections still walk all of it: with the NER tier
loaded that is ~260,000 objects and a ~100 ms pause of the event loop every few thousand requests (it
was the c=1 p99 of the full pipeline). `gc.freeze()` moves them to a permanent generation that
collections skip; what is allocated later is collected as usual.
"""

from __future__ import annotations

import gc

from aiohttp import web


async def freeze_startup_heap(_: web.Application) -> None:
    """An on_startup hook; append it after the hooks that load models (build_app's warm-up)."""
    gc.collect()  # start-up garbage goes now, not into the permanent generation
    gc.freeze()
