"""Strategy quote time and risk-rule check time, against a bare "read the mid, build a quote" loop.

Run: ``python bench/bench_strategies.py [--rounds R]``. Each row is one call on a market whose mid
moves every call (so nothing is cached): median and p99 nanoseconds per call (over batches of 100),
calls per second, and the ratio of its time to the baseline measured in the same run. The baseline
is the least a strategy can do: read the book's mid and allocate a one-level Quote.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mmframe_risk import RULES
from mmframe_strategies.avellaneda_stoikov import AvellanedaStoikovStrategy
from mmframe_strategies.symmetric import SymmetricStrategy

from mmframe.api import (
    BookSide,
    Leg,
    Level,
    MarketInfo,
    OrderBook,
    OrderStatus,
    Position,
    Price,
    Quote,
    TickGrid,
    WorkingOrder,
)

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
    positions: dict[str, Position]
    working_orders: Sequence[WorkingOrder]
    realised_pnl: Price = 0
    unrealised_pnl: Price = 0
    fees: Price = 0
    day_start_pnl: Price = 0
    now_ns: int = START_NS


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds

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

    configs = {
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

    base = statistics.median(rows[0][1])
    print(f"{'case':<42} {'median ns':>10} {'p99 ns':>10} {'calls/s':>11} {'x baseline':>11}")
    for name, samples in rows:
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"{name:<42} {median:>10.0f} {p99:>10.0f} {1e9 / median:>11,.0f} {median / base:>11.2f}")


if __name__ == "__main__":
    main()
