"""A `FeedContext` for executor tests with the runtime's real parts: the `OrderTracker` (what the
executor looks orders up in) and the `Gate` (what it asks before writing a create or amend)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmframe.api import Event, LiveClock, OrderAction
from mmframe.domain.orders import OrderTracker
from mmframe.runtime.gate import Gate


@dataclass
class TrackedCtx:
    """Records what is published, applying order events to a real tracker as the runtime does."""

    markets: tuple[str, ...] = ("T-1",)
    clock: LiveClock = field(default_factory=LiveClock)
    orders: OrderTracker = field(default_factory=OrderTracker)
    gate: Gate = field(init=False)
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate = Gate(self.clock.monotonic_ns)

    def monotonic_ns(self) -> int:
        return self.clock.monotonic_ns()

    def publish(self, event: Event) -> None:
        self.orders.apply(event)
        self.events.append(event)
        self.changed.set()

    def submitted(self, actions: Sequence[OrderAction]) -> Sequence[OrderAction]:
        """Record ``actions`` in the tracker as the runtime does before handing them over."""
        now = self.clock.now_ns()
        for action in actions:
            self.orders.submitted(action, now)
        return actions

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def loop() -> Any:
            while not (found := predicate()):
                self.changed.clear()
                await self.changed.wait()
            return found

        return await asyncio.wait_for(loop(), timeout)
