"""The knobs of the runtime's reject guard (`mmframe.runtime.rejects`), as the pipeline sets them."""

from __future__ import annotations

from dataclasses import dataclass

_MS = 1_000_000
_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RejectPolicy:
    """Knobs (pipeline ``runtime.rejects``); times in nanoseconds.

    ``backoff_ns`` .. ``max_backoff_ns``: the pause of creates and amends in a market after a reject
    (doubled per consecutive reject of the same reason, jittered). ``quarantine_after`` rejects in one
    market within ``window_ns`` quarantine it for ``cooldown_ns`` (or until an operator resumes).
    ``balance_cooldown_ns``: the longest an ``insufficient_balance`` reject stops creates everywhere
    when no fill or position report says the balance changed.
    """

    backoff_ns: int = 250 * _MS
    max_backoff_ns: int = 30 * _S
    quarantine_after: int = 5
    window_ns: int = 60 * _S
    cooldown_ns: int = 300 * _S
    balance_cooldown_ns: int = 30 * _S

    def __post_init__(self) -> None:
        if self.backoff_ns <= 0 or self.max_backoff_ns < self.backoff_ns:
            raise ValueError("reject backoff must be positive and max_backoff at least the first backoff")
        if self.quarantine_after < 1:
            raise ValueError("quarantine_after must be at least 1")
        if self.window_ns <= 0 or self.cooldown_ns <= 0 or self.balance_cooldown_ns <= 0:
            raise ValueError("reject window and cool-downs must be positive")
