"""Fault injection: the switches the REST routes and the WebSocket hub consult, and scripted fault plans.

Switches are plain attributes so the hot path reads them cheaply. A fault plan (the scenario's
``faults:`` list, or a list posted to the admin API) fires actions at ``at_seconds`` after the
simulator started; each action is one admin operation (see `FAULT_ACTIONS`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

WriteFailure = Literal["before", "after"]

FAULT_ACTIONS: dict[str, str] = {
    "drop_ws": "close every WebSocket connection (optional: user_id, code)",
    "skip_seq": "skip one seq on the next `count` sequenced WS messages (default 1)",
    "duplicate": "send the next `count` WS messages twice (default 1)",
    "reorder": "swap the next `count` pairs of WS messages (default 1)",
    "delay": "delay every REST response by `ms` milliseconds (0 = off)",
    "burst_429": "answer the next `count` REST requests 429 (default 10)",
    "fail_writes": "answer a `share` (0..1) of writes 500; `placed: true` executes them first",
    "strict_batch_cancel": "refuse a whole batch cancel (400 invalid_order, nothing cancelled) when one of "
    "its orders no longer rests, as a venue may (the spec allows a 400 for the request); `on: false` ends it",
    "pause_exchange": "trading_active false",
    "resume_exchange": "trading_active true",
    "deactivate_market": "`ticker` -> inactive (cancels its resting orders)",
    "activate_market": "`ticker` -> active",
    "close_market": "`ticker` closes now",
    "determine_market": "`ticker` determined (`result` yes|no, default drawn from fair value)",
    "settle_market": "`ticker` settles now",
    "set_fair_value": "`ticker` hidden fair probability := `probability`",
    "set_fee": "fee override of `event_ticker` (or `ticker`'s event): `fee_type` and/or `fee_multiplier`; "
    "neither (or null) clears it; sends event_fee_update",
    "clear": "switch every fault off",
}


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One scripted fault: ``action`` with ``params`` at ``at_seconds`` after start."""

    at_seconds: float
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_fault_plan(entries: Iterable[Mapping[str, Any]], *, where: str = "faults") -> list[FaultStep]:
    """Validate a ``faults:`` list (``[{at_seconds: 5, action: drop_ws, ...}]``) into steps, sorted by time.

    Raises `ValueError` naming the entry, the problem and the known actions.
    """
    steps: list[FaultStep] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}[{index}]: expected a mapping, got {type(entry).__name__}")
        params = dict(entry)
        if "at_seconds" not in params or "action" not in params:
            raise ValueError(f"{where}[{index}]: needs 'at_seconds' and 'action'")
        try:
            at = float(params.pop("at_seconds"))
        except (TypeError, ValueError):
            raise ValueError(f"{where}[{index}].at_seconds: expected a number") from None
        if at < 0:
            raise ValueError(f"{where}[{index}].at_seconds: must be >= 0")
        action = str(params.pop("action"))
        if action not in FAULT_ACTIONS and action not in ("pause_trading", "resume_trading"):
            raise ValueError(f"{where}[{index}].action: unknown {action!r}; known: {', '.join(sorted(FAULT_ACTIONS))}")
        steps.append(FaultStep(at, action, params))
    return sorted(steps, key=lambda s: s.at_seconds)


class FaultState:
    """The live switches. ``seed`` makes the write-failure draws reproducible."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.delay_s = 0.0
        self.burst_429_remaining = 0
        self.fail_write_share = 0.0
        self.fail_write_placed = False
        self.skip_seq_remaining = 0
        self.duplicate_remaining = 0
        self.reorder_remaining = 0
        self.strict_batch_cancel = False

    def clear(self) -> None:
        self.delay_s = 0.0
        self.burst_429_remaining = 0
        self.fail_write_share = 0.0
        self.fail_write_placed = False
        self.skip_seq_remaining = 0
        self.duplicate_remaining = 0
        self.reorder_remaining = 0
        self.strict_batch_cancel = False

    @property
    def ws_faults_active(self) -> bool:
        """Whether any WebSocket message fault is pending (the fan-out takes its slow path then)."""
        return bool(self.skip_seq_remaining or self.duplicate_remaining or self.reorder_remaining)

    def take_429(self) -> bool:
        """Whether this request falls in an injected 429 burst."""
        if self.burst_429_remaining <= 0:
            return False
        self.burst_429_remaining -= 1
        return True

    def draw_write_failure(self) -> WriteFailure | None:
        """For one write: None (normal), ``before`` (500, not executed) or ``after`` (executed, then 500)."""
        if self.fail_write_share <= 0 or self._rng.random() >= self.fail_write_share:
            return None
        return "after" if self.fail_write_placed else "before"

    def describe(self) -> dict[str, Any]:
        return {
            "delay_ms": round(self.delay_s * 1000, 3),
            "burst_429_remaining": self.burst_429_remaining,
            "fail_write_share": self.fail_write_share,
            "fail_write_placed": self.fail_write_placed,
            "skip_seq_remaining": self.skip_seq_remaining,
            "duplicate_remaining": self.duplicate_remaining,
            "reorder_remaining": self.reorder_remaining,
            "strict_batch_cancel": self.strict_batch_cancel,
        }
