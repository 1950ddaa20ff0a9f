"""Safety invariant 1: no action that would breach a configured limit reaches the executor.

Generated event sequences (book moves, fills and partial fills racing acks, limit changes) drive the
real quoting core with the first-party risk rules and reconciler. A tiny venue model applies each
batch at once (creates rest immediately, acks reach the core later), so "could still fill" is judged
by what the venue really holds — stricter than the core's own view.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import (
    AmendOrder,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    Event,
    Kind,
    Level,
    MarketView,
    OrderAccepted,
    OrderAction,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    Quote,
)
from mmframe.plugins import load_registry
from mmframe.runtime.quoting import NamedRule, QuotingCore

TICKERS = ("INV-A", "INV-B")
MAX_SIZE = 2_000  # 20 contracts per order
PER_MARKET = 5_000  # 50 contracts
TOTAL = 8_000
MIN_PRICE, MAX_PRICE = 500, 9_500
REGISTRY = load_registry()


class WildStrategy:
    """Asks for far too much, at random prices: the rules must keep it in bounds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def quote(self, market: MarketView) -> Quote:
        rng = self.rng
        mid = rng.randrange(100, 9_900, 100)
        bids = tuple(Level(mid - 100 * (i + 1), rng.randrange(100, 10_000, 100)) for i in range(rng.randint(0, 3)))
        asks = tuple(Level(mid + 100 * (i + 1), rng.randrange(100, 10_000, 100)) for i in range(rng.randint(0, 3)))
        return Quote(market.ticker, tuple(b for b in bids if b.price > 0), tuple(a for a in asks if a.price < 10_000))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


@dataclass
class VenueOrder:
    ticker: str
    side: BookSide
    price: int
    remaining: int
    client_order_id: str


@dataclass
class VenueModel:
    """Applies actions at once; the acks queue up and reach the core in random order later."""

    rng: random.Random
    orders: dict[str, VenueOrder] = field(default_factory=dict)
    acks: list[Event] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    trade_ids: int = 0

    def apply(self, actions: list[OrderAction]) -> None:
        for a in actions:
            if isinstance(a, CreateOrder):
                self.orders[a.client_order_id] = VenueOrder(a.ticker, a.side, a.price, a.size, a.client_order_id)
                self.acks.append(OrderAccepted(ts_ns=0, client_order_id=a.client_order_id, ticker=a.ticker,
                                               order_id=a.client_order_id, remaining=a.size))
            elif isinstance(a, CancelOrder):
                if self.orders.pop(a.client_order_id, None) is not None:
                    self.acks.append(OrderCanceled(ts_ns=0, client_order_id=a.client_order_id, ticker=a.ticker))
            elif isinstance(a, AmendOrder):
                order = self.orders.pop(a.client_order_id, None)
                if order is not None:
                    order.price, order.remaining, order.client_order_id = a.price, a.size, a.new_client_order_id
                    self.orders[a.new_client_order_id] = order
                    self.acks.append(OrderAmended(ts_ns=0, client_order_id=a.client_order_id, ticker=a.ticker,
                                                  new_client_order_id=a.new_client_order_id, price=a.price,
                                                  remaining=a.size))
            elif isinstance(a, DecreaseOrder):
                order = self.orders.get(a.client_order_id)
                if order is not None:
                    order.remaining = min(order.remaining, a.size)
                    self.acks.append(OrderDecreased(ts_ns=0, client_order_id=a.client_order_id, ticker=a.ticker,
                                                    remaining=order.remaining))

    def random_fill(self) -> OrderFilled | None:
        if not self.orders:
            return None
        order = self.rng.choice(list(self.orders.values()))
        count = self.rng.randint(1, order.remaining)
        order.remaining -= count
        if order.remaining == 0:
            del self.orders[order.client_order_id]
        signed = count if order.side is BookSide.BID else -count
        self.positions[order.ticker] = self.positions.get(order.ticker, 0) + signed
        self.trade_ids += 1
        return OrderFilled(ts_ns=0, client_order_id=order.client_order_id, ticker=order.ticker,
                           order_id=order.client_order_id, trade_id=f"t{self.trade_ids}", side=order.side,
                           price=order.price, count=count, fee=0, is_taker=False)

    def worst_case(self, ticker: str) -> tuple[int, int]:
        """(most long, most short) the market can reach if everything resting fills."""
        position = self.positions.get(ticker, 0)
        bids = sum(o.remaining for o in self.orders.values() if o.ticker == ticker and o.side is BookSide.BID)
        asks = sum(o.remaining for o in self.orders.values() if o.ticker == ticker and o.side is BookSide.ASK)
        return position + bids, asks - position


def _core(rng: random.Random) -> QuotingCore:
    rules = [
        ("max-position", {"per_market": Decimal(PER_MARKET) / 100, "total": Decimal(TOTAL) / 100}),
        ("max-order-size", {"max_size": Decimal(MAX_SIZE) / 100}),
        ("price-band", {"min_price": Decimal(MIN_PRICE) / 10_000, "max_price": Decimal(MAX_PRICE) / 10_000}),
        ("daily-loss", {"max_loss": Decimal(5)}),
    ]
    named = [NamedRule(name, REGISTRY.get(Kind.RISK, name).factory(cfg, None)) for name, cfg in rules]  # type: ignore[arg-type]
    core = QuotingCore(strategy=WildStrategy(rng), rules=named, now_ns=lambda: 0, emit=lambda e: None)
    for ticker in TICKERS:
        core.market(ticker)  # only the pipeline's markets are quoted
    return core


def _check_batch(core: QuotingCore, venue: VenueModel, actions: list[OrderAction], halted_before: bool,
                 limit: int, before: dict[str, tuple[int, int]]) -> None:
    for a in actions:
        if isinstance(a, CreateOrder | AmendOrder):
            assert not halted_before, f"{a} sent while halted"
            assert a.size <= MAX_SIZE, f"{a} breaks max-order-size"
            assert MIN_PRICE <= a.price <= MAX_PRICE, f"{a} breaks the price band"
    for ticker in TICKERS:
        long, short = venue.worst_case(ticker)
        old_long, old_short = before[ticker]
        # A batch may never take the reachable position past the limit, nor further past it if a lowered
        # limit already left it outside.
        assert long <= max(limit, old_long), f"{ticker}: reachable long {long} > limit {limit}"
        assert short <= max(limit, old_short), f"{ticker}: reachable short {short} > limit {limit}"
    total = sum(max(venue.worst_case(t)) for t in TICKERS)
    assert total <= max(TOTAL, sum(max(before[t]) for t in TICKERS)), f"total reachable {total} > {TOTAL}"


def run_sequence(seed: int, steps: int = 25) -> None:
    rng = random.Random(seed)
    core = _core(rng)
    venue = VenueModel(rng)
    limit = PER_MARKET
    for ticker in TICKERS:
        core.apply(BookSnapshotReceived(ts_ns=0, ticker=ticker, yes_bids=((4_000, 10_000),), no_bids=((5_000, 10_000),)))
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.3:
            fill = venue.random_fill()
            if fill is not None:
                core.apply(fill)
        elif roll < 0.55 and venue.acks:
            rng.shuffle(venue.acks)
            for ack in venue.acks[: rng.randint(1, len(venue.acks))]:
                core.apply(ack)
                venue.acks.remove(ack)
        elif roll < 0.65:
            limit = rng.choice((1_000, 3_000, PER_MARKET))
            core.update_params("max-position", {"per_market": Decimal(limit) / 100})
        else:
            mid = rng.randrange(1_000, 9_000, 100)
            ticker = rng.choice(TICKERS)
            core.apply(BookSnapshotReceived(ts_ns=0, ticker=ticker, yes_bids=((mid - 100, 5_000),),
                                            no_bids=((10_000 - mid - 100, 5_000),)))
        for ticker in core.take_dirty():
            halted_before = core.state == "halted"
            before = {t: venue.worst_case(t) for t in TICKERS}
            actions = core.requote(ticker)
            venue.apply(actions)
            _check_batch(core, venue, actions, halted_before, limit, before)


def test_risk_chain_when_10000_generated_sequences_run_no_action_breaks_a_limit() -> None:
    for seed in range(10_000):
        run_sequence(seed)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10_000, max_value=2**32))
def test_risk_chain_when_hypothesis_explores_seeds_no_action_breaks_a_limit(seed: int) -> None:
    run_sequence(seed, steps=40)
