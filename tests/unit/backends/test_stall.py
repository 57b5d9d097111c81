"""StallWatch: one timer per stream that behaves like an `asyncio.timeout` around each read."""

from __future__ import annotations

import asyncio

import pytest

from hybridgate.backends.stall import StallWatch

LIMIT = 0.05


async def _read(watch: StallWatch, seconds: float) -> str:
    watch.waiting()
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if watch.expired():
            return "stalled"
        raise
    finally:
        watch.done()
    return "read"


async def test_a_wait_over_the_limit_is_a_stall() -> None:
    watch = StallWatch(LIMIT)
    assert await _read(watch, 0.01) == "read"
    assert await _read(watch, 1.0) == "stalled"
    assert await _read(watch, 0.01) == "read"  # the task is not left cancelled
    await asyncio.sleep(0)
    watch.close()


async def test_many_short_waits_add_up_past_the_limit_without_a_stall() -> None:
    watch = StallWatch(LIMIT)
    results = [await _read(watch, LIMIT * 0.6) for _ in range(6)]
    watch.close()
    assert results == ["read"] * 6


async def test_time_with_the_consumer_between_waits_does_not_count() -> None:
    watch = StallWatch(LIMIT)
    assert await _read(watch, 0.01) == "read"
    await asyncio.sleep(LIMIT * 3)  # the relay writing to a slow client
    assert await _read(watch, LIMIT * 0.5) == "read"
    watch.close()


async def test_a_cancel_from_elsewhere_is_not_mistaken_for_a_stall() -> None:
    watch = StallWatch(10.0)
    task = asyncio.create_task(_read(watch, 5.0))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    watch.close()


async def test_close_disarms_the_timer() -> None:
    watch = StallWatch(LIMIT)
    watch.waiting()
    watch.close()
    await asyncio.sleep(LIMIT * 2)  # nothing cancels this task


async def test_a_wait_with_its_own_longer_limit_then_a_shorter_one_moves_the_timer_earlier() -> None:
    watch = StallWatch(LIMIT)
    watch.waiting(10.0)  # e.g. the first-byte deadline while the headers are awaited
    try:
        await asyncio.sleep(LIMIT * 2)  # past the watch's own limit, within this wait's
    finally:
        watch.done()
    assert await _read(watch, 1.0) == "stalled"  # due at LIMIT, not when the 10 s timer would fire
    watch.close()


async def test_a_wait_over_its_own_limit_expires() -> None:
    watch = StallWatch(10.0)
    watch.waiting(LIMIT)
    try:
        await asyncio.sleep(1.0)
        result = "read"
    except asyncio.CancelledError:
        assert watch.expired()
        result = "stalled"
    finally:
        watch.done()
    watch.close()
    assert result == "stalled"
