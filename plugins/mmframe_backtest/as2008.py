"""Avellaneda & Stoikov (2008), §3.3: the paper's simulated market, as a feed and an executor.

``as2008-midprice``: the mid-price is an arithmetic random walk, S(t+dt) = S(t) ± σ√dt with equal
probability, published every step as a book snapshot one tick either side of the mid on a wide,
fine grid (a "paper" market: payout $1000, $0.0001 ticks), so a strategy reading the mid sees S(t).

``as2008-fills``: at every step each of our resting orders at distance δ from the mid fills,
completely, with probability λ(δ)·dt = A·e^(−kδ)·dt — the paper's Poisson arrivals of market
orders. δ is measured from the mid the order was quoted against (the last one published before the
step), dt is the time since the previous step in the paper's time unit, and there are no fees.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from mmframe.api import (
    MAX_PAYOUT_DOLLARS,
    NANOS_PER_SECOND,
    ONE_DOLLAR,
    PRICE_SCALE,
    WEEK_SECONDS,
    BookSide,
    BookSnapshotReceived,
    ComponentContext,
    ComponentSpec,
    Event,
    FeeType,
    Kind,
    MarketInfo,
    MarketInfoReceived,
    OrderAction,
    Price,
    SimulatedOrders,
    TickGrid,
    dollars_to_price,
    resolve_config,
)
from mmframe_backtest._orders import BacktestOnly

DEFAULT_TICKER = "AS2008"
DEFAULT_START_NS = 1_700_000_000 * NANOS_PER_SECOND

FEED_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "as2008-midprice feed",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ticker": {"type": "string", "minLength": 1, "default": DEFAULT_TICKER,
                   "description": "The simulated market's ticker (list it under markets:)."},
        "s0": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**9, "multipleOf": 0.0001, "default": 100,
               "description": "Initial mid-price in dollars (the paper: 100)."},
        "sigma": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**9, "default": 2,
                  "description": "Volatility per square-root time unit (the paper: 2)."},
        "dt": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**6, "default": 0.005,
               "description": "Time step in time units (the paper: 0.005)."},
        "horizon": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**9, "default": 1,
                    "description": "Terminal time T in time units (the paper: 1); also the market's close."},
        "time_unit_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": WEEK_SECONDS, "default": 1,
                              "description": "Seconds of simulated clock per time unit."},
        "payout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_PAYOUT_DOLLARS, "multipleOf": 0.0001, "default": 1000,
                   "description": "What one contract pays (the price range is 0..payout), dollars."},
        "tick": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "multipleOf": 0.0001, "default": 0.0001,
                 "description": "The grid step in dollars; the book is one tick either side of the mid."},
        "depth": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**9, "default": 100,
                  "description": "Contracts shown at each side of the book."},
        "start_unix_s": {"type": "integer", "minimum": 0, "maximum": 4_102_444_800, "default": DEFAULT_START_NS // NANOS_PER_SECOND,
                         "description": "Simulated clock at t = 0, Unix seconds."},
    },
}

EXECUTOR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "as2008-fills executor",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "A": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**6, "default": 140,
              "description": "Arrival intensity of market orders at the mid, per time unit (the paper: 140)."},
        "k": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**6, "default": 1.5,
              "description": "Decay of the intensity with distance from the mid, per dollar (the paper: 1.5)."},
        "time_unit_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": WEEK_SECONDS, "default": 1,
                              "description": "Seconds of simulated clock per time unit (as in the feed)."},
    },
}


class As2008MidpriceFeed:
    """The paper's mid-price process as a `BacktestFeed` (see the module docstring).

    The walk's step σ√dt is rounded to the grid once ($0.1414 for σ = 2, dt = 0.005: 0.003% smaller
    than exact), so every mid is exactly on the grid. The market's close is at T, so a strategy
    taking its horizon from the close time sees T - t as in the paper.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        c = resolve_config("as2008-midprice", FEED_SCHEMA, config)
        self.ticker: str = c["ticker"]
        self.s0: Price = dollars_to_price(Decimal(c["s0"]), what="s0")
        self.payout: Price = dollars_to_price(Decimal(c["payout"]), what="payout")
        self.tick: Price = dollars_to_price(Decimal(c["tick"]), what="tick")
        sigma, dt, horizon = Decimal(c["sigma"]), Decimal(c["dt"]), Decimal(c["horizon"])
        unit_ns = Decimal(c["time_unit_seconds"]) * NANOS_PER_SECOND
        step = sigma * dt.sqrt() * PRICE_SCALE
        self.step: Price = max(self.tick, int((step / self.tick).to_integral_value()) * self.tick)
        self.steps: int = int((horizon / dt).to_integral_value())
        if self.steps < 1:
            raise ValueError("as2008-midprice: horizon must be at least one dt")
        self.dt_ns: int = int(dt * unit_ns)
        self.start_ns: int = c["start_unix_s"] * NANOS_PER_SECOND
        self.depth: int = int(Decimal(c["depth"]) * 100)
        if not 2 * self.tick < self.s0 < self.payout - 2 * self.tick:
            raise ValueError("as2008-midprice: s0 must lie inside the price range 0..payout")
        self.info = MarketInfo(
            ticker=self.ticker,
            status="active",
            open_ts_ns=self.start_ns,
            close_ts_ns=self.start_ns + self.steps * self.dt_ns,
            grid=TickGrid.uniform(self.tick, top=self.payout),
            fee_type=FeeType.QUADRATIC,
            payout=self.payout,
        )

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> As2008MidpriceFeed:
        """The component factory."""
        return cls(config)

    def events(self, rng_seed: int) -> Iterator[Event]:
        """Market info, then a snapshot at t = 0, dt, ..., T (steps + 1 snapshots)."""
        ticker, tick, payout, depth, step = self.ticker, self.tick, self.payout, self.depth, self.step
        low, high = 2 * tick, payout - 2 * tick
        ts = self.start_ns
        yield MarketInfoReceived(ts_ns=ts, ticker=ticker, info=self.info)
        moves = random.Random(rng_seed).getrandbits(self.steps)
        mid = self.s0
        for i in range(self.steps + 1):
            if i:
                mid += step if (moves >> (i - 1)) & 1 else -step
                mid = min(max(mid, low), high)  # never reached with the paper's numbers
            yield BookSnapshotReceived(
                ts_ns=ts + i * self.dt_ns, ticker=ticker,
                yes_bids=((mid - tick, depth),), no_bids=((payout - mid - tick, depth),),
            )

    async def run(self, ctx: Any) -> None:
        """A model market exists only in simulated time."""
        raise RuntimeError("as2008-midprice is a backtest feed: run this pipeline with `mmframe backtest`")


class As2008FillsExecutor(SimulatedOrders, BacktestOnly):
    """The paper's fills as a `SimulatedExecutor` (see the module docstring)."""

    post_only_guard = False
    """The paper has no book to cross: a quote through the synthetic touch is filled by the arrival
    model like any other, so the runtime's post-only step must not drop it."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        c = resolve_config("as2008-fills", EXECUTOR_SCHEMA, config)
        self.a = float(c["A"])
        self.k_per_unit = float(c["k"]) / PRICE_SCALE  # δ arrives in price units
        self.unit_ns = float(Decimal(c["time_unit_seconds"]) * NANOS_PER_SECOND)
        self._mids: dict[str, Price] = {}
        self._payouts: dict[str, Price] = {}
        self._rng = random.Random(0)
        self._last_ns: int | None = None

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> As2008FillsExecutor:
        """The component factory."""
        return cls(config)

    def reset(self, seed: int) -> None:
        self.reset_orders()
        self._mids = {}
        self._payouts = {}
        self._rng = random.Random(seed)
        self._last_ns = None

    def execute(self, actions: Sequence[OrderAction], now_ns: int) -> list[Event]:
        return SimulatedOrders.execute(self, actions, now_ns)

    def on_market_event(self, event: Event) -> list[Event]:
        """Remember each market's mid (the book is one tick either side of it)."""
        if type(event) is BookSnapshotReceived:
            if event.yes_bids and event.no_bids:
                payout = self._payouts.get(event.ticker, ONE_DOLLAR)
                bid = max(event.yes_bids)[0]
                ask = payout - max(event.no_bids)[0]
                self._mids[event.ticker] = (bid + ask) // 2
        elif type(event) is MarketInfoReceived:
            self._payouts[event.ticker] = event.info.payout
        return []

    def on_step(self, now_ns: int) -> list[Event]:
        """Each resting order fills with probability A·e^(−kδ)·dt, δ from the last published mid."""
        last, self._last_ns = self._last_ns, now_ns
        if last is None or not self.orders or now_ns <= last:
            return []
        rate = self.a * (now_ns - last) / self.unit_ns
        k = self.k_per_unit
        draw = self._rng.random
        exp = math.exp
        mids = self._mids
        out: list[Event] = []
        for order in list(self.orders.values()):
            mid = mids.get(order.ticker)
            if mid is None:
                continue
            delta = mid - order.price if order.side is BookSide.BID else order.price - mid
            if draw() < rate * exp(-k * delta):
                out.append(self.fill(order, order.remaining, order.price, now_ns, 0, False))
        return out


FEED_SPEC = ComponentSpec(
    kind=Kind.FEED,
    name="as2008-midprice",
    summary="Avellaneda-Stoikov (2008) mid-price: arithmetic random walk ±σ√dt per step, as book snapshots.",
    factory=As2008MidpriceFeed.build,
    config_schema=FEED_SCHEMA,
    example={"s0": 100, "sigma": 2, "dt": 0.005, "horizon": 1},
    description=(As2008MidpriceFeed.__doc__ or "").strip(),
)

EXECUTOR_SPEC = ComponentSpec(
    kind=Kind.EXECUTOR,
    name="as2008-fills",
    summary="Avellaneda-Stoikov (2008) fills: each resting order fills with probability A·e^(−kδ)·dt per step.",
    factory=As2008FillsExecutor.build,
    config_schema=EXECUTOR_SCHEMA,
    example={"A": 140, "k": 1.5},
    description=(As2008FillsExecutor.__doc__ or "").strip(),
)

__all__ = ["EXECUTOR_SPEC", "FEED_SPEC", "As2008FillsExecutor", "As2008MidpriceFeed"]
