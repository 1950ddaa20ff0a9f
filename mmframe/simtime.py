"""Simulated time: an asyncio event loop whose clock jumps to the next timer when nothing is ready.

``mmframe run PIPELINE --sim-time`` runs a pipeline against the in-process simulator on this loop:
every sleep, timeout and timer (asyncio's, anyio's, httpx's, uvicorn's) is a loop timer, and when no
callback is ready and no socket has data, the loop's time moves straight to the earliest timer
instead of waiting for it. Eight simulated hours then cost only the CPU the pipeline and the
simulator spend, and a run is deterministic for a seed as long as every byte travels over sockets
whose delivery is synchronous (Unix-domain sockets inside one process: a ``send`` puts the bytes on
the peer's queue before it returns, so readiness never depends on the kernel's scheduling).

Work handed to a thread (anyio's worker threads, ``run_in_executor``) holds time still: while a job
is running the loop waits for it in real time rather than jumping ahead, so a journal commit on a
thread cannot let the market run on without the pipeline.

`VirtualClock` is the `mmframe.clock.Clock` over the loop's time, for components and the simulator.
"""

from __future__ import annotations

import asyncio
import logging
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import anyio

from mmframe.clock import NANOS_PER_SECOND

T = TypeVar("T")

DEFAULT_START_NS = 1_800_000_000 * NANOS_PER_SECOND
"""Where simulated wall time starts (2027-01-15 08:00 UTC): fixed, so that two runs with one seed
stamp the same times."""

_THREAD_POLL_S = 0.05  # real seconds to wait for a busy thread before looking again


class _VirtualSelector(selectors.DefaultSelector):
    """The platform selector, polled without blocking; an empty poll advances the loop's time."""

    loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        loop = self.loop
        if timeout is None or loop is None:  # no timer at all: only the outside world can wake us
            return super().select(timeout)
        if loop.threads_busy():  # time stands still until the thread reports
            return super().select(_THREAD_POLL_S)
        loop.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on simulated time (see the module docstring). ``time()`` starts at 0."""

    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self._executor_jobs = 0
        self.jumps = 0
        """How many times time jumped to the next timer (for benchmarks)."""

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (called when nothing is ready)."""
        if seconds > 0:
            self._now += seconds
            self.jumps += 1

    def run_in_executor(  # type: ignore[override]  # the same call, typed loosely
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        future.add_done_callback(self._executor_done)
        return future

    def _executor_done(self, _future: asyncio.Future[Any]) -> None:
        self._executor_jobs -= 1

    def threads_busy(self) -> bool:
        """Whether work this loop handed to a thread is still running (or its answer is on its way)."""
        if self._executor_jobs:
            return True
        # anyio's worker threads (anyio.to_thread) take jobs from a queue and call back through
        # call_soon_threadsafe before marking the job done: a job is in flight while it is unfinished.
        for thread in threading.enumerate():
            queue = getattr(thread, "queue", None)
            if getattr(thread, "loop", None) is self and getattr(queue, "unfinished_tasks", None):
                return True
        return False


class VirtualClock:
    """`mmframe.clock.Clock` on a `VirtualTimeLoop`'s time: wall time is ``start_ns`` plus the loop's."""

    def __init__(self, loop: VirtualTimeLoop, start_ns: int = DEFAULT_START_NS) -> None:
        self.loop = loop
        self.start_ns = start_ns

    def monotonic_ns(self) -> int:
        return round(self.loop.time() * NANOS_PER_SECOND)

    def now_ns(self) -> int:
        return self.start_ns + self.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def pacing_ns() -> int:
    """A monotonic time, nanoseconds, for pacing CPU work (bursts, time slices of a long pass): the
    real one, or the loop's under simulated time, where work takes no time (a slice then never runs
    out, and a run does not depend on how fast this machine happens to be)."""
    loop = asyncio._get_running_loop()
    if type(loop) is VirtualTimeLoop:
        return round(loop._now * NANOS_PER_SECOND)
    return time.monotonic_ns()


def in_virtual_time() -> bool:
    """Whether the running event loop is on simulated time (False outside a loop)."""
    try:
        return isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
    except RuntimeError:
        return False


def virtual_clock() -> VirtualClock:
    """A `VirtualClock` on the running loop (which must be a `VirtualTimeLoop`)."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, VirtualTimeLoop):
        raise RuntimeError("not running on simulated time (use mmframe.simtime.VirtualTimeLoop)")
    return VirtualClock(loop)


def stamp_logs_with(clock: VirtualClock) -> Callable[[], None]:
    """Stamp log records with ``clock``'s simulated time instead of the real time (the run's log then
    reads like a wall-clock run's); returns what puts the previous record factory back."""
    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = make(*args, **kwargs)
        ns = clock.now_ns()
        rec.created = ns / NANOS_PER_SECOND
        rec.msecs = (ns // 1_000_000) % 1000
        return rec

    logging.setLogRecordFactory(record)
    return lambda: logging.setLogRecordFactory(make)


def run_virtual(func: Callable[[], Any]) -> Any:
    """``anyio.run(func)`` on a fresh `VirtualTimeLoop`."""
    return anyio.run(func, backend="asyncio", backend_options={"loop_factory": VirtualTimeLoop})
