"""`QuotingPass`: the order in which one pass of the quoting task serves dirty markets.

A pass can be long: housekeeping (every second), a params change or a resume marks *every* market
dirty, and at 2,000 markets that is ~2,000 requotes (tens of ms of CPU). The quoting task yields
between slices of a pass so the feeds keep publishing; a market an event dirties meanwhile (a frame
left to the quoting task because its market was requoted inline a moment before) must not wait for
the rest of the sweep. A pass therefore takes such markets ahead of what is left of it: an event's
market waits for at most the slice in progress, never for O(markets) requotes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Protocol


class DirtyMarkets(Protocol):
    """What a pass needs of the quoting core: its set of markets that need a new quote."""

    @property
    def dirty(self) -> bool: ...

    def take_dirty(self) -> list[str]: ...


class QuotingPass:
    """Iterates the markets to requote: those dirty when the pass began, oldest first, except that
    markets dirtied since (checked before each one, O(1)) go first. A market is served once per
    pass unless it is dirtied again after it was served."""

    def __init__(self, core: DirtyMarkets) -> None:
        self._core = core
        self._queue: deque[str] = deque(core.take_dirty())
        self._served: set[str] = set()
        self.jumped = 0
        """Markets dirtied during the pass and served ahead of the rest of it."""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        core = self._core
        if core.dirty:
            fresh = core.take_dirty()
            self.jumped += len(fresh)
            self._served.difference_update(fresh)  # dirtied again after its turn: serve it again
            self._queue.extendleft(reversed(fresh))
        queue, served = self._queue, self._served
        while queue:
            ticker = queue.popleft()
            if ticker not in served:  # else served earlier in this pass (it jumped the queue)
                served.add(ticker)
                return ticker
        raise StopIteration
