"""Fan-out of events to sinks: one queue and one task per sink, so a slow sink never blocks quoting."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

import anyio

from mmframe.components import Sink
from mmframe.domain.events import Event
from mmframe.runtime.plugin_faults import describe_fault

log = logging.getLogger("mmframe.sinks")

BATCH_MAX = 1024
BACKLOG_WARNING = 100_000


class SinkRunner:
    """Buffers events for one sink and writes them in batches from its own task.

    The buffer is unbounded (an event is never dropped) and a warning is logged each time the
    backlog crosses another `BACKLOG_WARNING` events. A sink that raises is reported once and its
    events are kept in the error count rather than stopping the pipeline.
    """

    def __init__(self, name: str, sink: Sink) -> None:
        self.name = name
        self.sink = sink
        self.errors = 0
        self.written = 0
        self._queue: deque[Event] = deque()
        self._wake = anyio.Event()
        self._closed = False
        self._warned_at = 0

    def offer(self, event: Event) -> None:
        """Queue an event; never blocks."""
        self._queue.append(event)
        size = len(self._queue)
        if size >= self._warned_at + BACKLOG_WARNING:
            self._warned_at = size
            log.warning("sink %s is %d events behind", self.name, size)
        if size == 1:
            self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        """Drain the queue until `close` is called and the queue is empty."""
        while True:
            if not self._queue:
                if self._closed:
                    return
                await self._wake.wait()
                self._wake = anyio.Event()
                continue
            batch = self._take_batch()
            await self._write(batch)

    def _take_batch(self) -> Sequence[Event]:
        count = min(len(self._queue), BATCH_MAX)
        batch = [self._queue.popleft() for _ in range(count)]
        if len(self._queue) < self._warned_at:
            self._warned_at = 0
        return batch

    async def _write(self, batch: Sequence[Event]) -> None:
        try:
            await self.sink.write(batch)
            self.written += len(batch)
        except Exception as exc:  # a report must not take trading down: named, located, counted
            self.errors += 1
            if self.errors == 1 or self.errors % 100 == 0:
                log.error(
                    "plugin error: %s (%d failed batch(es) so far; the run goes on)",
                    describe_fault("sink", self.name, "write()", exc, self.sink), self.errors,
                )

    def close(self) -> None:
        """Stop after the queue drains."""
        self._closed = True
        self._wake.set()
