"""Reconciler cost per call on typical quote changes, against a naive cancel-and-replace planner.

Run: ``python bench/bench_reconciler.py [--rounds R]``. For each scenario (five levels a side,
or one where the name says so: the usual quote) it prints median and p99 nanoseconds per ``reconcile`` call (over batches), calls per second, the
ratio of its rate to the naive planner's (cancel every order, create every level) measured in the
same run, and the actions each produces: the reconciler spends CPU to save venue writes.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import time
from collections.abc import Callable, Sequence

from mmframe.domain.actions import CancelOrder, CreateOrder, OrderAction
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide, Level, Quote
from mmframe.domain.reconciler import ReconcilePolicy, reconcile

TICKER = "KXHIGHNY-26NOV27-T60"
BATCH = 100
LEVELS = 5


def ladder(best_bid: int, best_ask: int, size: int = 1000, levels: int = LEVELS) -> Quote:
    """``levels`` bid and ask levels one cent apart."""
    bids = tuple(Level(best_bid - 100 * i, size) for i in range(levels))
    asks = tuple(Level(best_ask + 100 * i, size) for i in range(levels))
    return Quote(TICKER, bids, asks)


def resting(quote: Quote) -> list[WorkingOrder]:
    orders = []
    for n, level in enumerate(quote.bids):
        orders.append(
            WorkingOrder(f"b{n}", TICKER, BookSide.BID, level.price, level.size, OrderStatus.RESTING)
        )
    for n, level in enumerate(quote.asks):
        orders.append(
            WorkingOrder(f"a{n}", TICKER, BookSide.ASK, level.price, level.size, OrderStatus.RESTING)
        )
    return orders


def naive(quote: Quote, working: Sequence[WorkingOrder], new_id: Callable[[], str]) -> list[OrderAction]:
    """Cancel everything, create everything: the baseline planner."""
    actions: list[OrderAction] = [
        CancelOrder(client_order_id=o.client_order_id, ticker=o.ticker) for o in working
    ]
    for side in (BookSide.BID, BookSide.ASK):
        for level in quote.side(side):
            actions.append(
                CreateOrder(
                    client_order_id=new_id(), ticker=TICKER, side=side, price=level.price, size=level.size
                )
            )
    return actions


def scenarios() -> dict[str, tuple[Quote, list[WorkingOrder]]]:
    base = ladder(4800, 5200)
    working = resting(base)
    sized = Quote(TICKER, tuple(Level(lv.price, 600) for lv in base.bids), base.asks)
    return {
        "no change": (base, working),
        "one tick up": (ladder(4900, 5300), working),
        "size down": (sized, working),
        "jump 10 ticks": (ladder(5800, 6200), working),
        "fresh quote": (base, []),
        "pull all": (Quote.empty(TICKER), working),
        "1 lvl same": (ladder(4800, 5200, levels=1), resting(ladder(4800, 5200, levels=1))),
        "1 lvl tick up": (ladder(4900, 5300, levels=1), resting(ladder(4800, 5200, levels=1))),
    }


def measure(call: Callable[[], object], batches: int) -> list[float]:
    per_op = []
    clock = time.perf_counter_ns
    for _ in range(batches):
        began = clock()
        for _ in range(BATCH):
            call()
        per_op.append((clock() - began) / BATCH)
    return per_op


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    policy = ReconcilePolicy()
    ids = itertools.count()

    def new_id() -> str:
        return f"n{next(ids)}"

    print(f"reconcile, {LEVELS} levels a side unless 1 lvl, batches of {BATCH} calls, {args.rounds} rounds")
    print(
        f"{'scenario':<15}{'path':<11}{'median ns':>11}{'p99 ns':>10}{'calls/s':>11}{'ratio':>7}{'actions':>9}"
    )
    for name, (quote, working) in scenarios().items():
        paths: dict[str, Callable[[], list[OrderAction]]] = {
            "naive": functools.partial(naive, quote, working, new_id),
            "reconcile": functools.partial(reconcile, quote, working, policy, new_id),
        }
        results: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(args.rounds):
            for path, call in paths.items():
                results[path].extend(measure(call, args.batches // args.rounds or 1))
        base_rate = 1e9 / statistics.median(results["naive"])
        for path, samples in results.items():
            median = statistics.median(samples)
            rate = 1e9 / median
            count = len(paths[path]())
            print(
                f"{name:<15}{path:<11}{median:>11.0f}{p99(samples):>10.0f}{rate:>11,.0f}"
                f"{rate / base_rate:>7.2f}{count:>9}"
            )


if __name__ == "__main__":
    main()
