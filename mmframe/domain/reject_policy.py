"""The knobs of the runtime's reject guard (`mmframe.runtime.rejects`), as the pipeline sets them."""

from __future__ import annotations

from dataclasses import dataclass

_MS = 1_000_000
_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RejectPolicy:
    """Knobs (pipeline ``runtime.rejects``); times in nanoseconds."""

    backoff_ns: int = 250 * _MS
    max_backoff_ns: int = 30 * _S
    quarantine_after: int = 5
    window_ns: int = 60 * _S
    cooldown_ns: int = 300 * _S
