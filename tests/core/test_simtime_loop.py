"""The virtual-time event loop: time jumps to the next timer, threads hold it still, clocks follow it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import anyio
import anyio.to_thread
import pytest

from mmframe.api import in_virtual_time
from mmframe.clock import NANOS_PER_SECOND
from mmframe.simtime import (
    DEFAULT_START_NS,
    VirtualClock,
    VirtualTimeLoop,
    run_virtual,
    stamp_logs_with,
    virtual_clock,
)


def test_sleeping_an_hour_when_nothing_else_runs_jumps_the_loop_time_by_exactly_an_hour() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        before = loop.time()
        await anyio.sleep(3600)
        return before, loop.time()

    before, after = run_virtual(main)
    assert after - before == pytest.approx(3600, abs=1e-9)


def test_timers_when_interleaved_fire_in_time_order_at_their_own_times() -> None:
    fired: list[tuple[str, float]] = []

    async def ticker(name: str, period: float, n: int) -> None:
        for _ in range(n):
            await anyio.sleep(period)
            fired.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker, "fast", 0.25, 8)
            tg.start_soon(ticker, "slow", 1.0, 2)

    run_virtual(main)
    times = [t for _, t in fired]
    assert times == sorted(times)
    assert [round(t, 6) for name, t in fired if name == "slow"] == [1.0, 2.0]
    assert len([1 for name, _ in fired if name == "fast"]) == 8


def test_a_thread_job_when_running_holds_simulated_time_still() -> None:
    ticks: list[float] = []
    release = threading.Event()

    def blocking_job() -> float:
        release.wait(5)  # real time passes; simulated time must not
        return 0.0

    async def ticker() -> None:
        while True:
            await anyio.sleep(0.01)
            ticks.append(asyncio.get_running_loop().time())

    async def main() -> tuple[float, float, int, int]:
        loop = asyncio.get_running_loop()
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            await anyio.sleep(0.1)
            before, n_before = loop.time(), len(ticks)
            threading.Timer(0.2, release.set).start()
            await anyio.to_thread.run_sync(blocking_job)
            after, n_after = loop.time(), len(ticks)
            tg.cancel_scope.cancel()
        return before, after, n_before, n_after

    before, after, n_before, n_after = run_virtual(main)
    assert after == before
    assert n_after == n_before


def test_run_in_executor_when_busy_holds_simulated_time_still() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        async def background() -> None:
            await anyio.sleep(1000)

        task = loop.create_task(background())
        before = loop.time()
        await loop.run_in_executor(None, time.sleep, 0.05)
        after = loop.time()
        task.cancel()
        return before, after

    before, after = run_virtual(main)
    assert after == before


def test_virtual_clock_when_time_jumps_reads_the_loop_time_from_its_start() -> None:
    async def main() -> tuple[int, int, int, int]:
        clock = virtual_clock()
        start = clock.now_ns(), clock.monotonic_ns()
        await clock.sleep(2.5)
        return (*start, clock.now_ns(), clock.monotonic_ns())

    now0, mono0, now1, mono1 = run_virtual(main)
    assert (now0, mono0) == (DEFAULT_START_NS, 0)
    assert now1 - now0 == mono1 - mono0 == 5 * NANOS_PER_SECOND // 2


def test_in_virtual_time_when_on_each_loop_says_which() -> None:
    assert run_virtual(lambda: _async_value(in_virtual_time)) is True
    assert anyio.run(lambda: _async_value(in_virtual_time)) is False
    assert in_virtual_time() is False  # no loop at all


def test_virtual_clock_when_not_on_a_virtual_loop_refuses() -> None:
    async def main() -> None:
        virtual_clock()

    with pytest.raises(RuntimeError, match="simulated time"):
        anyio.run(main)


def test_log_records_when_stamped_carry_simulated_time_until_restored() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        restore = stamp_logs_with(VirtualClock(loop, start_ns=1_000 * NANOS_PER_SECOND))
        try:
            await anyio.sleep(7)
            inside = logging.getLogRecordFactory()("x", logging.INFO, "f", 1, "m", None, None).created
        finally:
            restore()
        outside = logging.getLogRecordFactory()("x", logging.INFO, "f", 1, "m", None, None).created
        return inside, outside

    inside, outside = run_virtual(main)
    assert inside == pytest.approx(1007.0)
    assert outside > 1_700_000_000  # the real time again


async def _async_value(fn: object) -> object:
    assert callable(fn)
    return fn()
