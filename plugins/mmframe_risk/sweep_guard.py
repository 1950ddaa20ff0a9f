"""``sweep-guard``: pull the side of a market that informed flow is sweeping, for a cool-down.

News reaches informed traders before it reaches the book; they act on it by sweeping every stale
quote on one side, often several of them one after another within a second (each with its own
reaction time and size). The first sweep cannot be avoided by a maker who learns of the news from
the book, but it is public: a burst of taker volume in one direction. A maker who pulls the swept
side as soon as it sees that burst is not there for the sweeps that follow, and how many of them
it misses is a race its latency decides (docs/strategies.md, "The value of latency").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmframe.api import (
    COUNT_SCALE,
    DAY_SECONDS,
    MAX_ORDER_CONTRACTS,
    NANOS_PER_SECOND,
    BookSide,
    Count,
    Event,
    Level,
    MarketView,
    PortfolioView,
    Price,
    Quote,
    TickGrid,
    TradeReported,
    Verdict,
    count_from_config,
    format_price,
    fraction_from_config,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema
from mmframe_risk._quotes import grid_of, shift_levels


@dataclass(frozen=True, slots=True)
class SweepGuardParams:
    min_count: Count
    window_ns: int
    cooldown_ns: int
    both_sides: bool
    reprice_ns: int
    reprice_margin: Price


class _Flow:
    """One market's recent taker trades in one direction and when it was last swept."""

    __slots__ = ("furthest", "swept_at_ns", "trades", "volume")

    def __init__(self) -> None:
        self.trades: deque[tuple[int, Count, Price]] = deque()
        self.volume: Count = 0
        self.swept_at_ns: int | None = None
        self.furthest: Price | None = None
        """The sweep's furthest trade price: the highest a sweep of the asks paid, the lowest a
        sweep of the bids sold at."""

    def add(self, ts_ns: int, count: Count, price: Price, window_ns: int) -> Count:
        """Count a trade; the volume within ``window_ns`` up to ``ts_ns``."""
        trades = self.trades
        trades.append((ts_ns, count, price))
        self.volume += count
        start = ts_ns - window_ns
        while trades and trades[0][0] <= start:
            self.volume -= trades.popleft()[1]
        return self.volume


class SweepGuardRule(ConfiguredRule[SweepGuardParams]):
    """Watches every market's public trades (`TradeReported`, anyone's). When takers buy at least
    ``min_contracts`` within ``window_seconds`` (a sweep of the asks), our asks in that market are
    pulled until ``cooldown_seconds`` after the sweep's last trade; sells sweeping the bids pull our
    bids. The side left standing is the one the sweep moved the price towards (after buyers sweep,
    a bid is below the new value), so it keeps quoting unless ``pull: both``. For
    ``reprice_seconds`` after the cool-down the swept side quotes again, but with its levels moved
    together so the best is at least ``reprice_margin`` beyond the furthest price the sweep (and
    takers the same way since) traded at: the book the strategy quotes from still lags the news.
    Put it after ``action-rate``, whose hold would otherwise put a pulled side back."""

    NAME = "sweep-guard"
    SUMMARY = "Pull the side takers are sweeping (N contracts one way within a window) for a cool-down."
    SCHEMA = schema(
        {
            "min_contracts": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_ORDER_CONTRACTS,
                "multipleOf": 0.01,
                "default": 30,
                "description": "Taker contracts in one direction within the window that make a sweep.",
                "examples": [30],
            },
            "window_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": DAY_SECONDS,
                "multipleOf": 0.001,
                "default": 0.25,
                "description": "The window over which taker volume is summed, seconds.",
                "examples": [0.25],
            },
            "cooldown_seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": DAY_SECONDS,
                "multipleOf": 0.001,
                "default": 2,
                "description": "How long after a sweep's last trade the swept side stays pulled, seconds.",
                "examples": [2],
            },
            "reprice_seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": DAY_SECONDS,
                "multipleOf": 0.001,
                "default": 0,
                "description": "After the cool-down, how long the swept side is kept at least "
                "`reprice_margin` beyond the sweep's furthest trade, seconds (0: not at all).",
                "examples": [30],
            },
            "reprice_margin": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "multipleOf": 0.0001,
                "default": 0.02,
                "description": "How far beyond the sweep's furthest trade the swept side is kept, dollars.",
                "examples": [0.02],
            },
            "pull": {
                "enum": ["swept_side", "both"],
                "default": "swept_side",
                "description": "`swept_side` pulls only the side the takers hit; `both` pulls the whole market.",
            },
        },
        "sweep-guard risk rule",
    )
    UPDATABLE = frozenset(
        {"min_contracts", "window_seconds", "cooldown_seconds", "reprice_seconds", "reprice_margin", "pull"}
    )
    EXAMPLE = {"min_contracts": 30, "window_seconds": 0.25, "cooldown_seconds": 2}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        # Per (market, the side the takers hit): our side of the same name is what they take.
        self._flows: dict[tuple[str, BookSide], _Flow] = {}
        self.sweeps = 0
        """Sweeps seen since the start (a sweep within another's cool-down and reprice time extends it)."""

    def parse(self, config: Mapping[str, Any]) -> SweepGuardParams:
        window = fraction_from_config(config["window_seconds"], "window_seconds")
        cooldown = fraction_from_config(config["cooldown_seconds"], "cooldown_seconds")
        reprice = fraction_from_config(config["reprice_seconds"], "reprice_seconds")
        return SweepGuardParams(
            min_count=count_from_config(config["min_contracts"], "min_contracts"),
            window_ns=int(window * NANOS_PER_SECOND),
            cooldown_ns=int(cooldown * NANOS_PER_SECOND),
            both_sides=config["pull"] == "both",
            reprice_ns=int(reprice * NANOS_PER_SECOND),
            reprice_margin=price_from_config(config["reprice_margin"], "reprice_margin"),
        )

    def observe(self, event: Event) -> None:
        """Sum taker volume per market and direction; mark a sweep when it reaches the threshold."""
        if not isinstance(event, TradeReported):
            return
        # A taker buying YES lifts the asks: the side at risk is ours of the opposite book side.
        hit = BookSide.ASK if event.taker_side is BookSide.BID else BookSide.BID
        key = (event.ticker, hit)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = _Flow()
        p = self.params
        now = event.ts_ns
        active = flow.swept_at_ns is not None and now - flow.swept_at_ns <= p.cooldown_ns + p.reprice_ns
        further = max if hit is BookSide.ASK else min
        if flow.add(now, event.count, event.price, p.window_ns) >= p.min_count:
            if not active:
                self.sweeps += 1
                flow.furthest = None
            for _, _, price in flow.trades:
                flow.furthest = price if flow.furthest is None else further(flow.furthest, price)
            flow.swept_at_ns = now
        elif active and flow.furthest is not None:
            # More takers the same way while the book catches up: the price they paid counts too.
            flow.furthest = further(flow.furthest, event.price)

    def state(self, ticker: str, side: BookSide, now_ns: int) -> tuple[bool, Price | None]:
        """For our ``side`` of ``ticker``: (pulled: within a sweep's cool-down, the furthest price
        the side must stay beyond, or None)."""
        flow = self._flows.get((ticker, side))
        if flow is None or flow.swept_at_ns is None:
            return False, None
        age = now_ns - flow.swept_at_ns
        if age <= self.params.cooldown_ns:
            return True, None
        if age <= self.params.cooldown_ns + self.params.reprice_ns:
            return False, flow.furthest
        return False, None

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, drop or move the swept side, or block the market (``pull: both``)."""
        now = market.now_ns
        bids_pulled, bids_beyond = self.state(quote.ticker, BookSide.BID, now)
        asks_pulled, asks_beyond = self.state(quote.ticker, BookSide.ASK, now)
        if not (bids_pulled or asks_pulled or bids_beyond is not None or asks_beyond is not None):
            return Verdict.passed()
        p = self.params
        swept = f"({Decimal(p.min_count) / COUNT_SCALE:g}+ contracts within {p.window_ns / NANOS_PER_SECOND:g}s)"
        if bids_pulled or asks_pulled:
            what = "bids and asks" if bids_pulled and asks_pulled else "bids" if bids_pulled else "asks"
            reason = f"sweep-guard: {what} swept {swept}, cooling down"
            if p.both_sides or (bids_pulled and asks_pulled):
                return Verdict.block(reason)
        else:
            reason = f"sweep-guard: swept side kept ${format_price(p.reprice_margin)} beyond the sweep {swept}"
        grid = grid_of(market)
        bids = () if bids_pulled else _beyond(grid, quote.bids, BookSide.BID, bids_beyond, p.reprice_margin)
        asks = () if asks_pulled else _beyond(grid, quote.asks, BookSide.ASK, asks_beyond, p.reprice_margin)
        kept = Quote(quote.ticker, bids, asks)
        if kept == quote:
            return Verdict.passed()
        return Verdict.adjust(kept, reason)


def _beyond(
    grid: TickGrid, levels: tuple[Level, ...], side: BookSide, furthest: Price | None, margin: Price
) -> tuple[Level, ...]:
    """``levels`` of our ``side`` moved, all by the same amount, so the best is at least ``margin``
    beyond ``furthest``: above it for asks, below it for bids."""
    if furthest is None or not levels:
        return levels
    best = levels[0].price
    if side is BookSide.ASK:
        limit = furthest + margin
        return levels if best >= limit else shift_levels(grid, levels, limit - best)
    limit = furthest - margin
    return levels if best <= limit else shift_levels(grid, levels, limit - best)
