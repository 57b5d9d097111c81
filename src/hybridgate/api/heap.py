"""Start-up objects out of the garbage collector's way.

Everything alive once a worker has started (the NER model, the router's tables, the config, compiled
regexes) lives as long as the worker. CPython's full collections still walk all of it: with the NER tier
loaded that is ~260,000 objects and a ~100 ms pause of the event loop every few thousand requests (it
was the c=1 p99 of the full pipeline). `gc.freeze()` moves them to a permanent generation that
collections skip; what is allocated later is collected as usual.

Then the youngest generation's threshold goes from 700 to 10,000 net allocations. A request allocates a
few hundred tracked objects and frees nearly all of them by reference counting, but the few that live a
little longer (in-flight requests, connection state) kept the count crossing 700 every couple of
requests: each young collection walked every live young object again, ~28 us per request on hg-minimal
(6% of the worker's CPU, measured with gc.callbacks). Cyclic garbage is still collected, a few MB later.
"""

from __future__ import annotations

import gc

from aiohttp import web

YOUNG_THRESHOLD = 10_000  # net allocations of tracked objects between young collections (CPython: 700)


async def freeze_startup_heap(_: web.Application) -> None:
    """An on_startup hook; append it after the hooks that load models (build_app's warm-up)."""
    gc.collect()  # start-up garbage goes now, not into the permanent generation
    gc.freeze()
    older, oldest = gc.get_threshold()[1:]
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
