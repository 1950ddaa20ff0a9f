"""``action-rate``: limit how many order actions one market may send in a sliding window."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    DAY_SECONDS,
    NANOS_PER_SECOND,
    BookSide,
    Count,
    Event,
    Level,
    MarketView,
    OrderActionsSubmitted,
    OrderStatus,
    PortfolioView,
    Price,
    Quote,
    Verdict,
    fraction_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema


@dataclass(frozen=True, slots=True)
class ActionRateParams:
    max_actions: int
    window_ns: int
    mode: str


class ActionRateRule(ConfiguredRule[ActionRateParams]):
    """Counts the order actions (create, amend, decrease, cancel) submitted for each market, from
    `OrderActionsSubmitted` events, over a sliding ``window_seconds``. At ``max_actions`` the market
    is held: ``mode: hold`` replaces the quote by what already rests (so the reconciler sends nothing;
    put this rule first so later rules can still cut that quote down), ``mode: block`` pulls the
    market instead (which costs cancels)."""

    NAME = "action-rate"
    SUMMARY = "Hold or pull a market that sent too many order actions in a sliding window."
    SCHEMA = schema(
        {
            "max_actions": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100000,
                "default": 20,
                "description": "Most order actions one market may submit within the window.",
                "examples": [20],
            },
            "window_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": DAY_SECONDS,
                "multipleOf": 0.001,
                "default": 10,
                "description": "Length of the sliding window, seconds.",
                "examples": [10],
            },
            "mode": {
                "enum": ["hold", "block"],
                "default": "hold",
                "description": "`hold` keeps the resting orders as they are; `block` cancels them.",
            },
        },
        "action-rate risk rule",
    )
    UPDATABLE = frozenset({"max_actions", "window_seconds", "mode"})
    EXAMPLE = {"max_actions": 20, "window_seconds": 10}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        # Only the newest max_actions times matter: the market is over the limit when the oldest
        # of them is still inside the window.
        self._times: dict[str, deque[int]] = {}

    def parse(self, config: Mapping[str, Any]) -> ActionRateParams:
        seconds = fraction_from_config(config["window_seconds"], "window_seconds")
        return ActionRateParams(config["max_actions"], int(seconds * NANOS_PER_SECOND), config["mode"])

    def update_params(self, params: Mapping[str, Any]) -> None:
        super().update_params(params)
        size = self.params.max_actions
        self._times = {ticker: deque(times, maxlen=size) for ticker, times in self._times.items()}

    def observe(self, event: Event) -> None:
        """Count submitted actions per market."""
        if not isinstance(event, OrderActionsSubmitted):
            return
        for action in event.actions:
            times = self._times.get(action.ticker)
            if times is None:
                times = self._times[action.ticker] = deque(maxlen=self.params.max_actions)
            times.append(event.ts_ns)

    def actions_in_window(self, ticker: str, now_ns: int) -> int:
        """Actions of ``ticker`` within the window ending at ``now_ns`` (at most ``max_actions``)."""
        start = now_ns - self.params.window_ns
        return sum(1 for ts in self._times.get(ticker, ()) if ts > start)

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or hold/block with the reason."""
        times = self._times.get(quote.ticker)
        p = self.params
        if times is None or len(times) < p.max_actions or times[0] <= market.now_ns - p.window_ns:
            return Verdict.passed()
        reason = f"action-rate: {p.max_actions} actions within {p.window_ns / NANOS_PER_SECOND:g}s"
        if p.mode == "block":
            return Verdict.block(reason)
        held = resting_quote(market)
        if held == quote:
            return Verdict.passed()
        return Verdict.adjust(held, reason + ", holding resting orders")


def resting_quote(market: MarketView) -> Quote:
    """A quote equal to our live orders in ``market`` (orders being cancelled excluded)."""
    sides: dict[BookSide, dict[Price, Count]] = {BookSide.BID: {}, BookSide.ASK: {}}
    for order in market.working_orders:
        if (
            order.ticker == market.ticker
            and order.status.is_live
            and order.status is not OrderStatus.PENDING_CANCEL
        ):
            levels = sides[order.side]
            levels[order.price] = levels.get(order.price, 0) + order.remaining
    bids = tuple(
        Level(price, size) for price, size in sorted(sides[BookSide.BID].items(), reverse=True) if size > 0
    )
    asks = tuple(Level(price, size) for price, size in sorted(sides[BookSide.ASK].items()) if size > 0)
    return Quote(market.ticker, bids, asks)
