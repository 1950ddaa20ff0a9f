"""Strategy quote time and risk-rule check time, against a bare "read the mid, build a quote" loop.

Run: ``python bench/bench_strategies.py [--rounds R] [--markets 4,2000] [--requotes N]``. Each row is
one call on a market whose mid moves every call (so nothing is cached): median and p99 nanoseconds per
call (over batches of 100), calls per second, and the ratio of its time to the baseline measured in the
same run. The baseline is the least a strategy can do: read the book's mid and allocate a one-level
Quote. The "cold caches" rows time each call alone, after a few MB of unrelated work (`thrasher`)
that evicts the CPU caches as the daemon's network work does between two requotes.

A second table times one `QuotingCore.requote` (strategy, risk chain, reconcile, tracker) at several
market counts, with orders acknowledged and some filled between requotes (not timed), for three rule
chains: none (the baseline of that table), symmetric.yaml's chain, and max-exposure + max-position
with totals. Limits are set high enough that nothing is clipped, so every row does the same work
apart from the rules' own reads.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from mmframe_risk import RULES
from mmframe_strategies.avellaneda_stoikov import AvellanedaStoikovStrategy
from mmframe_strategies.symmetric import SymmetricStrategy

from mmframe.api import (
    AmendOrder,
    BookDeltaReceived,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    Count,
    CreateOrder,
    DecreaseOrder,
    Event,
    Leg,
    Level,
    MarketInfo,
    OrderAccepted,
    OrderAction,
    OrderAmended,
    OrderBook,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderStatus,
    Position,
    Price,
    Quote,
    TickGrid,
    WorkingOrder,
)
from mmframe.domain.reconciler import ReconcilePolicy, reconcile
from mmframe.runtime.quoting import NamedRule, QuotingCore

TICKER = "KXHIGHNY-26NOV27-T60"
BATCH = 100
START_NS = 1_700_000_000_000_000_000
STEP_NS = 5_000_000


@dataclass
class Market:
    """A MarketView over a real book and position."""

    ticker: str = TICKER
    info: MarketInfo | None = None
    book: OrderBook = field(default_factory=lambda: OrderBook(TICKER))
    position: Position = field(default_factory=lambda: Position(TICKER))
    working_orders: Sequence[WorkingOrder] = ()
    last_trade_price: Price | None = 5000
    fair_value: Price | None = None
    status: str = "active"
    now_ns: int = START_NS
    last_book_update_ns: int | None = START_NS


@dataclass
class Portfolio:
    """A PortfolioView over one market (its totals computed on each read: one market is cheap)."""

    positions: dict[str, Position]
    working_orders: Sequence[WorkingOrder]
    realised_pnl: Price = 0
    unrealised_pnl: Price = 0
    fees: Price = 0
    day_start_pnl: Price = 0
    now_ns: int = START_NS

    def reachable_contracts(self, ticker: str) -> Count:
        held = self.positions[ticker].position if ticker in self.positions else 0
        bids = sum(o.remaining for o in self.working_orders if o.ticker == ticker and o.side is BookSide.BID)
        asks = sum(o.remaining for o in self.working_orders if o.ticker == ticker and o.side is BookSide.ASK)
        return max(held + bids, asks - held, 0)

    @property
    def total_reachable_contracts(self) -> Count:
        return sum(self.reachable_contracts(ticker) for ticker in self.positions)

    def worst_case_loss(self, ticker: str) -> Price:
        position = self.positions.get(ticker) or Position(ticker)
        orders = [(o.side, o.price, o.remaining) for o in self.working_orders if o.ticker == ticker]
        return position.worst_case_loss_with(orders)

    @property
    def total_worst_case_loss(self) -> Price:
        return sum(self.worst_case_loss(ticker) for ticker in self.positions)


def make_market() -> Market:
    market = Market(info=MarketInfo(TICKER, grid=TickGrid.linear_cent(), close_ts_ns=START_NS + 10**15))
    market.book.apply_snapshot(
        [(4800 - 100 * i, 1000) for i in range(10)], [(4800 - 100 * i, 1000) for i in range(10)]
    )
    market.position.seed(1500, 5000)
    market.working_orders = [
        WorkingOrder("b0", TICKER, BookSide.BID, 4800, 1000, OrderStatus.RESTING, created_ns=START_NS),
        WorkingOrder("a0", TICKER, BookSide.ASK, 5200, 1000, OrderStatus.RESTING, created_ns=START_NS),
    ]
    return market


def mover(market: Market) -> Callable[[int], None]:
    """Move the YES best bid up or down a cent, alternating, and advance time."""

    def move(i: int) -> None:
        delta = 1000 if i % 2 else -1000
        market.book.apply_delta(Leg.YES, 4900, delta, market.now_ns)
        market.now_ns += STEP_NS
        market.last_book_update_ns = market.now_ns

    return move


def measure(call: Callable[[], object], move: Callable[[int], None], rounds: int) -> list[float]:
    samples = []
    for r in range(rounds):
        start = time.perf_counter_ns()
        for i in range(BATCH):
            move(r * BATCH + i)
            call()
        samples.append((time.perf_counter_ns() - start) / BATCH)
    return samples


def thrasher(dicts: int = 20_000) -> Callable[[], object]:
    """What the daemon does between two requotes of a market, roughly: parse a few KB of JSON and
    touch a few MB of Python objects, so the next call starts with cold CPU caches."""
    frame = orjson.dumps(
        [
            {"market_ticker": TICKER, "price_dollars": f"0.{i % 99:02d}00", "delta_fp": f"{i}.00"}
            for i in range(60)
        ]
    )
    objects = [(i, str(i)) for i in range(dicts)]

    def thrash() -> object:
        parsed = orjson.loads(frame)
        total = 0
        for number, _text in objects:
            total += number
        return parsed, total

    return thrash


def measure_cold(
    call: Callable[[], object], move: Callable[[int], None], thrash: Callable[[], object], calls: int
) -> list[float]:
    """Nanoseconds of each call timed alone, with ``thrash`` run (untimed) before it."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    for i in range(calls):
        move(i)
        thrash()
        start = clock()
        call()
        samples.append(clock() - start)
    return samples


# --- requote through the quoting core at N markets ---------------------------------------------------


def _acks(actions: Sequence[OrderAction], now: int) -> list[Event]:
    """What a venue would answer to ``actions``, each taking effect at once."""
    acks: list[Event] = []
    for a in actions:
        if isinstance(a, CreateOrder):
            acks.append(OrderAccepted(ts_ns=now, client_order_id=a.client_order_id, ticker=a.ticker,
                                      order_id=a.client_order_id, remaining=a.size))
        elif isinstance(a, AmendOrder):
            acks.append(OrderAmended(ts_ns=now, client_order_id=a.client_order_id, ticker=a.ticker,
                                     new_client_order_id=a.new_client_order_id, price=a.price, remaining=a.size))
        elif isinstance(a, DecreaseOrder):
            acks.append(OrderDecreased(ts_ns=now, client_order_id=a.client_order_id, ticker=a.ticker,
                                       remaining=a.size))
        elif isinstance(a, CancelOrder):
            acks.append(OrderCanceled(ts_ns=now, client_order_id=a.client_order_id, ticker=a.ticker))
    return acks


def requote_chains(markets: int) -> dict[str, list[tuple[str, dict[str, object]]]]:
    """Rule chains by name, with limits far enough away that nothing is clipped."""
    d = Decimal
    total = 200 * markets
    return {
        "no rules": [],
        "symmetric.yaml chain": [
            ("stale-data", {"max_age_seconds": 30}),
            ("market-lifecycle", {"stop_before_close_minutes": 5}),
            ("max-order-size", {"max_size": 25}),
            ("max-position", {"per_market": 100, "total": total}),
            ("price-band", {"min_price": d("0.02"), "max_price": d("0.98"), "max_distance_from_mid": d("0.10")}),
            ("daily-loss", {"max_loss": 1_000_000}),
        ],
        "max-exposure + max-position(total)": [
            ("max-exposure", {"max_contracts": total, "max_loss": 1_000_000}),
            ("max-position", {"per_market": 100, "total": total}),
        ],
    }


def requote_samples(markets: int, chain: list[tuple[str, dict[str, object]]], requotes: int) -> list[float]:
    """Nanoseconds per `QuotingCore.requote`, one market at a time, round robin."""
    by_name = {rule.NAME: rule for rule in RULES}
    clock = [START_NS]
    core = QuotingCore(
        strategy=SymmetricStrategy(
            {"spread": Decimal("0.04"), "size": 10, "skew_per_contract": Decimal("0.001"), "max_skew": Decimal("0.03")}
        ),
        rules=[NamedRule(name, by_name[name](config)) for name, config in chain],
        now_ns=lambda: clock[0],
        emit=lambda event: None,
    )
    tickers = [f"BENCH-{i:05d}" for i in range(markets)]
    info = {"grid": TickGrid.linear_cent(), "close_ts_ns": START_NS + 10**15}
    for ticker in tickers:
        core.market(ticker, MarketInfo(ticker, **info))  # type: ignore[arg-type]
        core.apply(BookSnapshotReceived(ts_ns=START_NS, ticker=ticker,
                                        yes_bids=tuple((4800 - 100 * i, 1000) for i in range(10)),
                                        no_bids=tuple((4800 - 100 * i, 1000) for i in range(10))))
    trades = 0

    def step(ticker: str, i: int, timed: bool) -> float:
        nonlocal trades
        clock[0] += STEP_NS
        core.apply(BookDeltaReceived(ts_ns=clock[0], ticker=ticker, leg=Leg.YES, price=4900,
                                     delta=1000 if i % 2 else -1000))
        core.take_dirty()
        start = time.perf_counter_ns()
        actions = core.requote(ticker)
        elapsed = time.perf_counter_ns() - start
        for ack in _acks(actions, clock[0]):
            core.apply(ack)
        if i % 7 == 0:  # a small fill now and then, so positions and PnL move
            live = core.tracker.working(ticker)
            if live:
                order = live[0]
                trades += 1
                core.apply(OrderFilled(ts_ns=clock[0], client_order_id=order.client_order_id, ticker=ticker,
                                       order_id=order.client_order_id, trade_id=f"t{trades}", side=order.side,
                                       price=order.price, count=100, fee=0, is_taker=False))
        return elapsed if timed else 0.0

    for i, ticker in enumerate(tickers * 2):  # warm up: every market quoted, some filled
        step(ticker, i, False)
    return [step(tickers[i % markets], i, True) for i in range(requotes)]


def print_requote_table(market_counts: Sequence[int], requotes: int) -> None:
    print()
    print(f"{'QuotingCore.requote':<42} {'markets':>8} {'median ns':>10} {'p99 ns':>10} {'x no rules':>11}")
    for markets in market_counts:
        base = 0.0
        for name, chain in requote_chains(markets).items():
            ordered = sorted(requote_samples(markets, chain, requotes))
            median = statistics.median(ordered)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            base = base or median
            print(f"{name:<42} {markets:>8} {median:>10.0f} {p99:>10.0f} {median / base:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--markets", default="4,2000", help="market counts of the requote table")
    parser.add_argument("--requotes", type=int, default=2000, help="timed requotes per row")
    args = parser.parse_args()
    rounds = args.rounds

    rows: list[tuple[str, list[float]]] = []

    def bench(name: str, make: Callable[[Market], Callable[[], object]]) -> None:
        market = make_market()
        rows.append((name, measure(make(market), mover(market), rounds)))

    def baseline(m: Market) -> Callable[[], object]:
        return lambda: Quote(TICKER, (Level(m.book.mid() or 0, 1000),), (Level(m.book.mid() or 0, 1000),))

    bench("baseline: mid + Quote", baseline)
    bench("moving the book only", lambda m: lambda: None)
    d = Decimal
    symmetric = SymmetricStrategy({"spread": d("0.04"), "size": 10})
    bench("symmetric, 1 level", lambda m: lambda: symmetric.quote(m))
    ladder = SymmetricStrategy(
        {"spread": d("0.04"), "size": 10, "levels": 5, "skew_per_contract": d("0.001"), "join": "improve"}
    )
    bench("symmetric, 5 levels, skew, improve", lambda m: lambda: ladder.quote(m))
    fixed = AvellanedaStoikovStrategy({"gamma": 1, "k": 100, "sigma": d("0.01"), "horizon": "rolling"})
    bench("avellaneda-stoikov, fixed sigma", lambda m: lambda: fixed.quote(m))
    online = AvellanedaStoikovStrategy({"gamma": 1, "k": 100, "estimate_k": True})
    bench("avellaneda-stoikov, sigma and k online", lambda m: lambda: online.quote(m))
    glft = AvellanedaStoikovStrategy({"model": "glft", "gamma": 1, "k": 100, "A": 1, "sigma": d("0.01")})
    bench("avellaneda-stoikov, glft", lambda m: lambda: glft.quote(m))

    configs: dict[str, dict[str, Any]] = {
        "max-position": {"per_market": 100, "total": 1000},
        "max-exposure": {"max_contracts": 1000, "max_loss": 500},
        "daily-loss": {"max_loss": 100, "max_drawdown": 40},
        "price-band": {"max_distance_from_mid": d("0.1")},
    }
    rules = [rule(configs.get(rule.NAME, {})) for rule in RULES]
    quote = symmetric.quote(make_market())

    def chain(m: Market) -> Callable[[], object]:
        portfolio = Portfolio({TICKER: m.position}, m.working_orders)

        def check() -> None:
            portfolio.now_ns = m.now_ns
            for rule in rules:
                rule.check(quote, m, portfolio)

        return check

    bench(f"risk chain, all {len(rules)} rules", chain)

    # symmetric.yaml's strategy and the reconciler: the requote minus its risk chain. The cold rows
    # time each call alone after evicting the caches, as the daemon runs it between network work.
    pipeline = SymmetricStrategy(
        {"spread": d("0.04"), "size": 10, "skew_per_contract": d("0.001"), "max_skew": d("0.03")}
    )
    policy = ReconcilePolicy()

    def quote_and_reconcile(m: Market) -> Callable[[], object]:
        return lambda: reconcile(pipeline.quote(m), m.working_orders, policy, lambda: "n")

    bench("symmetric.yaml quote + reconcile", quote_and_reconcile)
    thrash = thrasher()
    for name, make in [
        ("baseline, cold caches", baseline),
        ("symmetric.yaml quote, cold caches", lambda m: lambda: pipeline.quote(m)),
        ("symmetric.yaml quote + reconcile, cold", quote_and_reconcile),
    ]:
        market = make_market()
        rows.append((name, measure_cold(make(market), mover(market), thrash, rounds * 5)))

    base = statistics.median(rows[0][1])
    print(f"{'case':<42} {'median ns':>10} {'p99 ns':>10} {'calls/s':>11} {'x baseline':>11}")
    for name, samples in rows:
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"{name:<42} {median:>10.0f} {p99:>10.0f} {1e9 / median:>11,.0f} {median / base:>11.2f}")
    print_requote_table([int(n) for n in args.markets.split(",")], args.requotes)


if __name__ == "__main__":
    main()
