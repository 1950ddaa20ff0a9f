"""Clocks: time is injected so that expiry, staleness and rate limits are testable exactly."""

from __future__ import annotations

import time
from typing import Protocol

import anyio

NANOS_PER_SECOND = 1_000_000_000


class Clock(Protocol):
    """A source of time. ``now_ns`` is wall-clock Unix time in nanoseconds."""

    def now_ns(self) -> int:
        """The current time, Unix epoch nanoseconds."""
        ...

    def monotonic_ns(self) -> int:
        """A monotonic time for measuring intervals, nanoseconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class LiveClock:
    """The real clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class TestClock:
    """A clock that moves only when told to: ``advance`` and ``set``.

    ``sleep`` waits until another task has advanced the clock far enough, so timers in code under
    test fire exactly when the test says.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, start_ns: int = 1_700_000_000 * NANOS_PER_SECOND) -> None:
        self._now_ns = start_ns
        self._start_ns = start_ns
        self._moved = anyio.Event()

    def now_ns(self) -> int:
        return self._now_ns

    def monotonic_ns(self) -> int:
        return self._now_ns - self._start_ns

    def advance(self, seconds: float = 0.0, *, ns: int = 0) -> None:
        """Move time forward by ``seconds`` plus ``ns`` nanoseconds."""
        self.set(self._now_ns + int(seconds * NANOS_PER_SECOND) + ns)

    def set(self, now_ns: int) -> None:
        """Jump to ``now_ns`` (never backwards)."""
        if now_ns < self._now_ns:
            raise ValueError("TestClock cannot go backwards")
        self._now_ns = now_ns
        self._moved.set()
        self._moved = anyio.Event()

    async def sleep(self, seconds: float) -> None:
        deadline = self._now_ns + int(seconds * NANOS_PER_SECOND)
        while self._now_ns < deadline:
            await self._moved.wait()
