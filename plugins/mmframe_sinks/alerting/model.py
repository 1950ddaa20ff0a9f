"""What an alert is: its kind, the market it concerns (if any), a one-line message and how bad it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("start", "stop", "halt", "pause", "quarantine", "loss", "disconnect", "reject", "order_group", "fill",
         "daily")
"""Every alert kind a pipeline can switch on (``alerts: [...]``)."""
DEFAULT_KINDS = ("start", "stop", "halt", "pause", "quarantine", "loss", "disconnect", "reject", "order_group")
"""On unless the pipeline lists its own: everything but the chatty ``fill`` and the opt-in ``daily``."""
UNTHROTTLED = frozenset({"start", "stop", "daily"})
"""Once per run or per day by construction: never held back (the stop carries the held-back summary)."""

INFO, SUCCESS, WARNING, FAILURE = "info", "success", "warning", "failure"
"""Severities, named as apprise's notification types (a target may colour or prioritise by them)."""


@dataclass(frozen=True)
class Alert:
    """One alert. ``market`` is None for alerts about the whole run (a halt, a disconnect)."""

    kind: str
    message: str
    ts_ns: int
    severity: str = WARNING
    market: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    variant: str = ""
    """Tells apart alerts of one kind that are not repeats of each other (each loss threshold, a
    disconnect and the reconnect after it, a pause and the resume)."""

    @property
    def key(self) -> AlertKey:
        """What makes two alerts "the same" for folding repeats: kind, market (and variant)."""
        return (self.kind, self.market or "", self.variant)


AlertKey = tuple[str, str, str]
