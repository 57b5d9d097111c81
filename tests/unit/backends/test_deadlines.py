"""The shared-timer deadlines behave as asyncio.timeout_at: expiry -> TimeoutError, other cancellations
pass through, moving a deadline later or earlier is honoured, and leaving a block disarms it."""

from __future__ import annotations

import asyncio

import pytest

from hybridgate.backends.deadlines import Deadline, Deadlines


async def test_expiry_raises_timeout_error_and_disarms() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError), Deadline(dl, loop.time() + 0.01) as d:
        await asyncio.sleep(10)
    assert d.expired
    assert len(dl) == 0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_finished_block_is_not_cancelled_later() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with Deadline(dl, loop.time() + 0.02) as d:
        await asyncio.sleep(0)
    assert len(dl) == 0
    await asyncio.sleep(0.05)  # past the deadline: nothing may cancel this task now
    assert not d.expired


async def test_only_the_expired_of_many_are_cancelled() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()

    async def one(after: float, work: float) -> str:
        try:
            with Deadline(dl, loop.time() + after):
                await asyncio.sleep(work)
        except TimeoutError:
            return "timeout"
        return "ok"

    got = await asyncio.gather(one(10, 0.01), one(0.01, 10), one(10, 0.05), one(0.03, 10), one(5, 0))
    assert got == ["ok", "timeout", "ok", "timeout", "ok"]
    assert len(dl) == 0


async def test_moved_later_does_not_fire_at_the_old_time() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with Deadline(dl, loop.time() + 0.01) as d:
        d.reschedule(loop.time() + 10)
        await asyncio.sleep(0.05)
    assert not d.expired


async def test_moved_earlier_fires_at_the_new_time() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError), Deadline(dl, loop.time() + 10) as d:
        d.reschedule(loop.time() + 0.01)
        await asyncio.sleep(10)


async def test_past_deadline_times_out_at_the_next_await() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError), Deadline(dl, loop.time() - 1):
        await asyncio.sleep(10)


async def test_outside_cancellation_is_not_turned_into_timeout() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()

    async def victim() -> None:
        with Deadline(dl, loop.time() + 10):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(victim())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(dl) == 0


async def test_nested_under_asyncio_timeout_the_outer_one_wins_when_earlier() -> None:
    dl = Deadlines()
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01) as outer:
            with Deadline(dl, loop.time() + 10) as inner:
                await asyncio.sleep(10)
    assert outer.expired()
    assert not inner.expired
