"""The write log: every signed write request that reached the exchange, with its arrival time and answer.

It is the judge's record of what a client *sent* (a create the exchange refused, or one answered 429,
still reached the venue), read through ``GET /_sim/requests``. Times are the server's wall clock, so
a test on the same machine can compare them with its own ``time.time_ns()``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Send

from mmframe.api import Clock

DEFAULT_CAPACITY = 200_000
"""Entries kept (the oldest go first): hours of writes at Basic-tier rates."""


@dataclass(slots=True)
class WriteEntry:
    """One write: when it arrived (wall ns, after its signature was verified), whose, which route, how
    many orders it carried (batches), and the HTTP status it was answered with (0: not answered yet)."""

    ts_ns: int
    user_id: str
    method: str
    route: str
    items: int
    status: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"ts_ns": self.ts_ns, "user_id": self.user_id, "method": self.method, "route": self.route,
                "items": self.items, "status": self.status}


class WriteLog:
    """A bounded, append-only list of `WriteEntry`."""

    def __init__(self, clock: Clock, capacity: int = DEFAULT_CAPACITY) -> None:
        self._clock = clock
        self._entries: collections.deque[WriteEntry] = collections.deque(maxlen=capacity)
        self.total = 0

    def record(self, user_id: str, method: str, route: str, items: int, send: Send) -> Send:
        """Log a write arriving now; returns ``send`` wrapped to note the status it is answered with."""
        entry = WriteEntry(self._clock.now_ns(), user_id, method, route, items)
        self._entries.append(entry)
        self.total += 1

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = int(message["status"])
            await send(message)

        return noting

    def entries(self, user_id: str | None = None, since_ns: int | None = None) -> Iterator[WriteEntry]:
        """Entries of ``user_id`` (all users: None) that arrived at or after ``since_ns``, oldest first."""
        for entry in self._entries:
            if (user_id is None or entry.user_id == user_id) and (since_ns is None or entry.ts_ns >= since_ns):
                yield entry

    @property
    def dropped(self) -> int:
        """Entries no longer kept (over capacity)."""
        return self.total - len(self._entries)
