"""The gate: the last check every create and amend passes at the moment it is written to the venue.

Pause, halt, flatten and stop close the gate; only an explicit resume opens it again, and nothing
reopens a gate that is stopping. Cancels and decreases only ever reduce what rests, so they always
pass. While flattening, only immediate-or-cancel, reduce-only creates pass (the closes of
``/flatten``). A create or amend older than the gate's ``max_age_ns`` (measured from when the
runtime decided it) never passes either: what waits for the write budget is re-derived, never sent
stale.

The gate is checked twice: by the runtime when it hands actions to the executor, and by the executor
right before it writes a request to the socket (anything may have happened while the request waited
for a connection or tokens).
"""

from __future__ import annotations

from collections.abc import Callable

from mmframe.domain.actions import AmendOrder, CreateOrder, OrderAction
from mmframe.domain.trading import GateState

DEFAULT_MAX_AGE_NS = 1_000_000_000
"""Nothing decided more than 1 s ago is written (DESIGN.md: no action written later than 1 s after
its intent)."""


class Gate:
    """Open/closed with a reason; `allows` decides whether an action may be written now.

    ``now_ns`` is the clock the decision times were taken with (the runtime's monotonic clock).
    Listeners registered with `on_close` hear every transition from open to closed (the intent
    scheduler drops what it queued).
    """

    def __init__(self, now_ns: Callable[[], int], *, max_age_ns: int = DEFAULT_MAX_AGE_NS) -> None:
        self._now = now_ns
        self.max_age_ns = max_age_ns
        self.state = GateState.OPEN
        self.reason = ""
        self.changed_ns = now_ns()
        self.blocked = 0
        """Creates and amends refused by the gate so far (closed or too old)."""
        self.passed = 0
        """Creates and amends let through with a decision time."""
        self.oldest_passed_ns = 0
        """The largest decision-to-write age let through so far (bounded by ``max_age_ns``)."""
        self._on_close: list[Callable[[GateState, str], None]] = []

    @property
    def is_open(self) -> bool:
        return self.state is GateState.OPEN

    def on_close(self, listener: Callable[[GateState, str], None]) -> None:
        """Call ``listener(state, reason)`` whenever the gate closes (or its closed state changes)."""
        self._on_close.append(listener)

    def close(self, state: GateState, reason: str) -> None:
        """Close the gate for ``reason``. A stopping gate stays stopping; a halt is not downgraded
        to a pause."""
        if state is GateState.OPEN:
            raise ValueError("close() needs a closed state; use open()")
        if self.state is GateState.STOPPING or (self.state is GateState.HALTED and state is GateState.PAUSED):
            return
        if self.state is state and self.reason == reason:
            return
        self.state = state
        self.reason = reason
        self.changed_ns = self._now()
        for listener in self._on_close:
            listener(state, reason)

    def open(self) -> bool:
        """Open the gate again (resume); returns False if it is stopping (never reopened) or open."""
        if self.state in (GateState.OPEN, GateState.STOPPING):
            return False
        self.state = GateState.OPEN
        self.reason = ""
        self.changed_ns = self._now()
        return True

    def allows(self, action: OrderAction, decided_ns: int | None = None) -> bool:
        """Whether ``action`` may be written to the venue now. ``decided_ns`` (same clock as the
        gate's) is when the runtime decided it; None means now."""
        if not isinstance(action, CreateOrder | AmendOrder):
            return True  # cancels and decreases only reduce what rests
        if self.state is not GateState.OPEN and not (
            self.state is GateState.FLATTENING
            and isinstance(action, CreateOrder)
            and action.immediate_or_cancel
            and action.reduce_only
        ):
            self.blocked += 1
            return False
        if decided_ns is not None:
            age = self._now() - decided_ns
            if age > self.max_age_ns:
                self.blocked += 1
                return False
            self.passed += 1
            if age > self.oldest_passed_ns:
                self.oldest_passed_ns = age
        return True

    def describe(self) -> dict[str, object]:
        """For ``/health`` and ``/state``."""
        return {"state": self.state.value, "reason": self.reason, "blocked": self.blocked}

    def ages(self) -> dict[str, int]:
        """Decision-to-write ages of what passed (for ``/state`` and the write-budget bench)."""
        return {"passed": self.passed, "oldest_passed_ms": self.oldest_passed_ns // 1_000_000}
