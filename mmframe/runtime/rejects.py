"""Reject storms: backoff per market and reason, quarantine of a market, an account-wide balance stop.

A venue reject means the next identical request will most likely be rejected too. So:

* after a reject of a create, amend or decrease, that market writes no create or amend until a
  backoff expires: ``backoff`` doubled per consecutive reject of the same reason (capped at
  ``max_backoff``), jittered to [1/2, 1] of it; an accepted create or amend in the market ends the
  streak. Cancels and decreases always go.
* ``quarantine_after`` rejects in a market within ``window`` quarantine it: its orders are pulled and
  it is not quoted until an operator resumes or ``cooldown`` passes (`MarketQuarantined`, logged
  once; `MarketReleased`).
* ``insufficient_balance`` stops creates in every market until the balance can have changed (a
  fill, a position report) or ``cooldown`` passes.

Rejects that are not the venue refusing our order — our own gate, shutdown, an order already gone
— are not counted.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable

from mmframe.domain.events import (
    Event,
    MarketQuarantined,
    MarketReleased,
    OrderAccepted,
    OrderAmended,
    OrderFilled,
    OrderRejected,
    PositionReported,
)
from mmframe.domain.reject_policy import RejectPolicy

log = logging.getLogger("mmframe.rejects")

NOT_COUNTED = frozenset({"gate_closed", "shutdown", "unknown_order", "not_placed", "stale_intent"})
"""Reject codes that say nothing about the venue refusing what we asked."""
INSUFFICIENT_BALANCE = "insufficient_balance"
_S = 1_000_000_000


class RejectGuard:
    """Decides, from the rejects seen, whether a market may write creates and amends now."""

    def __init__(
        self, policy: RejectPolicy, now_ns: Callable[[], int], *, rng: random.Random | None = None
    ) -> None:
        self.policy = policy
        self._now = now_ns
        self._rng = rng or random.Random(0)
        self._streak: dict[tuple[str, str], int] = {}
        self._backoff_until: dict[str, int] = {}
        self._recent: dict[str, deque[int]] = {}
        self.quarantined: dict[str, int] = {}
        """Quarantined markets -> when the cool-down ends (ns)."""
        self.balance_blocked_until: int | None = None
        self.counted = 0
        """Rejects that counted towards backoff and quarantine."""

    # --- events ---------------------------------------------------------------------------------

    def observe(self, event: Event) -> list[Event]:
        """Take one event; returns the events this guard raises (quarantine)."""
        if isinstance(event, OrderRejected):
            return self._rejected(event)
        if isinstance(event, OrderAccepted | OrderAmended):
            self._success(event.ticker)
        elif isinstance(event, OrderFilled | PositionReported) and self.balance_blocked_until is not None:
            self.balance_blocked_until = None
            log.info("balance may have changed (%s): creates allowed again", event.kind)
        return []

    def _rejected(self, event: OrderRejected) -> list[Event]:
        if event.code in NOT_COUNTED or event.action == "cancel":
            return []
        now = self._now()
        ticker = event.ticker
        self.counted += 1
        if event.code == INSUFFICIENT_BALANCE:
            if self.balance_blocked_until is None:
                log.warning("insufficient balance: no creates anywhere until a fill or position change")
            self.balance_blocked_until = now + self.policy.cooldown_ns
        key = (ticker, event.code)
        streak = self._streak.get(key, 0) + 1
        self._streak[key] = streak
        delay = min(self.policy.max_backoff_ns, self.policy.backoff_ns << min(streak - 1, 40))
        delay = delay // 2 + int(self._rng.random() * (delay // 2))
        self._backoff_until[ticker] = max(self._backoff_until.get(ticker, 0), now + delay)
        recent = self._recent.setdefault(ticker, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.policy.window_ns:
            recent.popleft()
        if len(recent) >= self.policy.quarantine_after and ticker not in self.quarantined:
            until = now + self.policy.cooldown_ns
            self.quarantined[ticker] = until
            reason = (
                f"{len(recent)} rejects within {self.policy.window_ns // _S}s (last: {event.action} {event.code})"
            )
            log.error("QUARANTINE %s: %s; resume with POST /resume or wait %ds",
                      ticker, reason, self.policy.cooldown_ns // _S)
            return [MarketQuarantined(ts_ns=event.ts_ns, ticker=ticker, reason=reason, until_ns=until)]
        return []

    def _success(self, ticker: str) -> None:
        for key in [k for k in self._streak if k[0] == ticker]:
            del self._streak[key]

    # --- decisions -------------------------------------------------------------------------------

    def writes_allowed(self, ticker: str) -> bool:
        """No backoff running and not quarantined: creates and amends may go in ``ticker``."""
        until = self._backoff_until.get(ticker)
        if until is not None:
            if self._now() < until:
                return False
            del self._backoff_until[ticker]
        return ticker not in self.quarantined

    def creates_allowed(self) -> bool:
        """False while an ``insufficient_balance`` reject stands."""
        until = self.balance_blocked_until
        if until is None:
            return True
        if self._now() >= until:
            self.balance_blocked_until = None
            return True
        return False

    def release(self, ticker: str | None = None, *, reason: str = "operator resume") -> list[Event]:
        """End quarantines (one market, or all) and backoffs; returns the events to publish."""
        now = self._now()
        tickers = list(self.quarantined) if ticker is None else [ticker] if ticker in self.quarantined else []
        events: list[Event] = []
        for name in tickers:
            del self.quarantined[name]
            self._recent.pop(name, None)
            self._backoff_until.pop(name, None)
            self._success(name)
            events.append(MarketReleased(ts_ns=now, ticker=name, reason=reason))
        if ticker is None:
            self.balance_blocked_until = None
            self._backoff_until.clear()
        return events

    def expire(self) -> list[Event]:
        """Release the markets whose cool-down has passed (housekeeping)."""
        now = self._now()
        return [
            event
            for ticker, until in list(self.quarantined.items())
            if now >= until
            for event in self.release(ticker, reason="cool-down elapsed")
        ]

    def describe(self) -> dict[str, object]:
        now = self._now()
        return {
            "quarantined": {t: max(0, (u - now) // _S) for t, u in sorted(self.quarantined.items())},
            "backing_off": sorted(t for t, u in self._backoff_until.items() if u > now),
            "balance_blocked": self.balance_blocked_until is not None and now < self.balance_blocked_until,
            "rejects_counted": self.counted,
        }
