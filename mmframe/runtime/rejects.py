"""Reject storms: backoff per market and reason, quarantine of a market, an account-wide balance stop.

A venue reject means the next identical request will most likely be rejected too. So:

* after a reject of a create or amend, that market writes no create or amend until a backoff
  expires: ``backoff`` doubled per consecutive reject of the same reason (capped at
  ``max_backoff``), jittered to [1/2, 1] of it. An accepted create or amend in the market ends the
  streak (for an account-wide reason only an accepted create: an amend proves nothing about the
  balance). Cancels and decreases always go.
* ``quarantine_after`` rejects in a market within ``window`` quarantine it: its orders are pulled and
  it is not quoted until an operator resumes (all markets, or this one) or ``cooldown`` passes
  (`MarketQuarantined`, one alert line; `MarketReleased`). Account-wide reasons (the balance, an
  exchange pause) back off but never quarantine a market: the market is not at fault.
* ``insufficient_balance`` stops creates in every market until the balance may have changed. Kalshi
  has no balance stream, so "changed" is a fill of ours or a position report (what moves cash), or
  ``balance_cooldown`` passing (default 30 s), whichever comes first. Our own cancels do not end it:
  they happen every few requotes, and ending the stop on each would let the storm through again.

Rejects that are not the venue refusing an order we asked for — our own gate, an aged intent,
shutdown, an order already gone, 429s (the write budget's business), outcomes still unknown — are
not counted, and neither is any reject of a cancel or a decrease (pulling is always allowed).
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

NOT_COUNTED = frozenset(
    {
        "gate_closed",  # our own gate refused the write
        "stale_intent",  # the intent aged out before its turn
        "shutdown",  # dropped unsent by a stop
        "unknown_order",  # the order was no longer live when the action's turn came
        "not_found",  # ... or on the venue (filled or cancelled meanwhile)
        "not_placed",  # a create whose outcome was unknown, settled as never placed
        "amend_unknown",
        "outcome_unknown",
        "order_already_exists",  # a retried create that was placed the first time
        "too_many_requests",  # 429: the write budget's business, not the market's
    }
)
"""Reject codes that say nothing about the venue refusing what we asked."""
PULLING_ACTIONS = frozenset({"cancel", "decrease"})
"""Rejects of these never count: taking risk off is always allowed."""
INSUFFICIENT_BALANCE = "insufficient_balance"
ACCOUNT_WIDE = frozenset({INSUFFICIENT_BALANCE, "trading_is_paused", "exchange_closed"})
"""Reasons that are the account's or the exchange's, not the market's: backoff, never quarantine."""
_S = 1_000_000_000
_MS = 1_000_000


class RejectGuard:
    """Decides, from the rejects seen, whether a market may write creates and amends now.

    ``now_ns`` is the injected (monotonic) clock; ``rng`` draws the jitter, seeded for tests.
    """

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
        self.quarantines = 0
        """Markets quarantined so far (a market quarantined twice counts twice)."""

    # --- events ---------------------------------------------------------------------------------

    def observe(self, event: Event) -> list[Event]:
        """Take one event; returns the events this guard raises (quarantine)."""
        if isinstance(event, OrderRejected):
            return self._rejected(event)
        if isinstance(event, OrderAccepted):
            self._success(event.ticker, created=True)
        elif isinstance(event, OrderAmended):
            self._success(event.ticker, created=False)
        if isinstance(event, OrderFilled | PositionReported) and self.balance_blocked_until is not None:
            self.balance_blocked_until = None
            log.info("balance may have changed (%s in %s): creates allowed again", event.kind, event.ticker)
        return []

    @staticmethod
    def counts(event: OrderRejected) -> bool:
        """Whether ``event`` is the venue refusing a create or amend we asked for."""
        return event.code not in NOT_COUNTED and event.action not in PULLING_ACTIONS

    def _rejected(self, event: OrderRejected) -> list[Event]:
        if not self.counts(event):
            return []
        policy = self.policy
        now = self._now()
        ticker = event.ticker
        code = event.code
        self.counted += 1
        if code == INSUFFICIENT_BALANCE:
            if self.balance_blocked_until is None:
                log.warning(
                    "insufficient balance (%s in %s): no creates anywhere until a fill, a position report "
                    "or %ds", event.action, ticker, policy.balance_cooldown_ns // _S,
                )
            self.balance_blocked_until = now + policy.balance_cooldown_ns
        if ticker in self.quarantined:
            return []  # answers to writes sent before the quarantine: it stands as it is
        key = (ticker, code)
        streak = self._streak.get(key, 0) + 1
        self._streak[key] = streak
        self._backoff_until[ticker] = max(self._backoff_until.get(ticker, 0), now + self.backoff_ns(streak))
        if code in ACCOUNT_WIDE:
            return []
        recent = self._recent.setdefault(ticker, deque())
        recent.append(now)
        while recent and recent[0] <= now - policy.window_ns:
            recent.popleft()
        if len(recent) < policy.quarantine_after:
            return []
        until = now + policy.cooldown_ns
        self.quarantined[ticker] = until
        self.quarantines += 1
        reason = f"{len(recent)} rejects within {policy.window_ns / _S:g}s (last: {event.action} {code})"
        log.error(
            "QUARANTINE %s: %s; its orders are pulled until POST /resume or %ds pass",
            ticker, reason, policy.cooldown_ns // _S,
        )
        return [MarketQuarantined(ts_ns=event.ts_ns, ticker=ticker, reason=reason, until_ns=until)]

    def quarantine(self, ticker: str, reason: str, ts_ns: int) -> list[Event]:
        """Quarantine ``ticker`` for the cool-down for a cause other than rejects (a plugin that
        raised on it); the `MarketQuarantined` to publish, none if it already is."""
        if ticker in self.quarantined:
            return []
        until = self._now() + self.policy.cooldown_ns
        self.quarantined[ticker] = until
        self.quarantines += 1
        log.error(
            "QUARANTINE %s: %s; its orders are pulled until POST /resume or %ds pass",
            ticker, reason, self.policy.cooldown_ns // _S,
        )
        return [MarketQuarantined(ts_ns=ts_ns, ticker=ticker, reason=reason, until_ns=until)]

    def backoff_ns(self, streak: int) -> int:
        """The jittered backoff after the ``streak``-th consecutive reject: the full delay
        ``min(max_backoff, backoff * 2^(streak-1))`` cut to a uniform draw in [1/2, 1] of it."""
        policy = self.policy
        full = min(policy.max_backoff_ns, policy.backoff_ns << min(streak - 1, 40))
        half = full // 2
        return full - half + self._rng.randrange(half + 1)

    def _success(self, ticker: str, *, created: bool) -> None:
        for key in [k for k in self._streak if k[0] == ticker and (created or k[1] not in ACCOUNT_WIDE)]:
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

    def backoff_until(self, ticker: str) -> int | None:
        """When ``ticker``'s running backoff ends (monotonic ns), or None."""
        until = self._backoff_until.get(ticker)
        return until if until is not None and until > self._now() else None

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
        """End quarantines and backoffs (of one market, or of all and the balance stop too); returns
        the `MarketReleased` events to publish (none when nothing was quarantined)."""
        now = self._now()
        tickers = list(self.quarantined) if ticker is None else [ticker] if ticker in self.quarantined else []
        events: list[Event] = []
        for name in tickers:
            del self.quarantined[name]
            events.append(MarketReleased(ts_ns=now, ticker=name, reason=reason))
            log.warning("%s released from quarantine (%s)", name, reason)
        if ticker is None:
            self.balance_blocked_until = None
            self._backoff_until.clear()
            self._streak.clear()
            self._recent.clear()
        else:
            self._recent.pop(ticker, None)
            self._backoff_until.pop(ticker, None)
            for key in [k for k in self._streak if k[0] == ticker]:
                del self._streak[key]
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

    def backing_off(self) -> dict[str, int]:
        """Markets in a backoff now -> nanoseconds left."""
        now = self._now()
        return {t: u - now for t, u in sorted(self._backoff_until.items()) if u > now}

    def balance_block_left_ns(self) -> int | None:
        """Nanoseconds left of the balance stop at most (it may end sooner, on a fill), or None."""
        until = self.balance_blocked_until
        now = self._now()
        return None if until is None or until <= now else until - now

    def describe(self) -> dict[str, object]:
        """For ``/state``: quarantined markets (seconds left), markets backing off (ms left), the
        balance stop (seconds left, None when off) and how many rejects counted."""
        now = self._now()
        balance = self.balance_block_left_ns()
        return {
            "quarantined": {t: max(0, _ceil(u - now, _S)) for t, u in sorted(self.quarantined.items())},
            "backing_off": {t: _ceil(left, _MS) for t, left in self.backing_off().items()},
            "balance_blocked_seconds": None if balance is None else _ceil(balance, _S),
            "rejects_counted": self.counted,
            "quarantines": self.quarantines,
        }


def _ceil(ns: int, unit: int) -> int:
    return -(-ns // unit)
