"""Whether the core may trade: the trading state and the gate's state.

Plain vocabulary shared by the runtime (which changes them) and the control plane (which shows
them), so neither has to import the other for it.
"""

from __future__ import annotations

import enum


class TradingState(enum.StrEnum):
    """Whether the core may quote: ``active``, ``paused`` (operator) or ``halted`` (a risk rule)."""

    ACTIVE = "active"
    PAUSED = "paused"
    HALTED = "halted"


class GateState(enum.StrEnum):
    """Open, or why the gate is closed. Values are shown by ``/health`` and ``/state``."""

    OPEN = "open"
    PAUSED = "paused"
    HALTED = "halted"
    FLATTENING = "flattening"
    STOPPING = "stopping"
