"""The serving worker moves its start-up heap out of the collector's generations."""

from __future__ import annotations

import gc

from aiohttp import web

from hybridgate.api.heap import YOUNG_THRESHOLD, freeze_startup_heap


async def test_startup_objects_are_frozen_and_later_ones_are_not() -> None:
    thresholds = gc.get_threshold()
    try:
        await freeze_startup_heap(web.Application())
        frozen = gc.get_freeze_count()
        assert frozen > 0
        later = [[i] for i in range(100)]  # allocated after start-up: still tracked by the collector
        assert gc.get_freeze_count() == frozen and all(gc.is_tracked(x) for x in later)
        # young collections are spaced out; the older generations keep their own thresholds
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:]) and YOUNG_THRESHOLD >= 10_000
    finally:
        gc.unfreeze()  # the test process is not a worker
        gc.set_threshold(*thresholds)
