"""Order book throughput on Kalshi ``orderbook_delta`` frames (API.md §6), against a bare baseline.

Run: ``python bench/bench_book.py [--frames N] [--rounds R]``. Prints median and p99 nanoseconds
per frame (over batches), frames per second, and the ratio of each path's rate to the baseline's,
measured in the same run with rounds interleaved so both see the same machine load.

- baseline: ``orjson.loads`` + exact ``parse_price``/``parse_count`` + a plain dict update
  (the budget in DESIGN.md: "parsing an orderbook frame exactly and updating a dict book").
- book: ``orjson.loads`` + parse + `BookDeltaReceived` construction + `OrderBook.apply_delta`
  (the feed -> book path; goal: ratio >= 0.7).
- book+top: the same, then ``best_bid()``/``best_ask()`` as a quoting task would read them.
- book-no-event: the book path without the event object (shows what the event costs).
- book+depth2: the book path, then ``bids(2)``/``asks(2)`` as a strategy reads them to look past
  its own order at the touch.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import orjson

from mmframe.domain.book import OrderBook
from mmframe.domain.events import BookDeltaReceived, Leg
from mmframe.domain.money import format_count, format_price, parse_count, parse_price

TICKER = "KXHIGHNY-26NOV27-T60"
BATCH = 200
_LEGS = {"yes": Leg.YES, "no": Leg.NO}


def make_frames(count: int, seed: int = 7) -> tuple[bytes, list[bytes]]:
    """A snapshot frame and ``count`` delta frames of a cent market drifting around 50¢, most
    changes near the top of book, about a third of them removing size."""
    rng = random.Random(seed)
    levels: dict[str, dict[int, int]] = {"yes": {}, "no": {}}
    for price in range(100, 5000, 100):
        levels["yes"][price] = rng.randint(1, 500) * 100
    for price in range(100, 5000, 100):
        levels["no"][price] = rng.randint(1, 500) * 100
    snapshot = orjson.dumps(
        {
            "type": "orderbook_snapshot",
            "sid": 2,
            "seq": 1,
            "msg": {
                "market_ticker": TICKER,
                "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b1c7e11",
                "yes_dollars_fp": [
                    [format_price(p), format_count(s)] for p, s in sorted(levels["yes"].items())
                ],
                "no_dollars_fp": [
                    [format_price(p), format_count(s)] for p, s in sorted(levels["no"].items())
                ],
            },
        }
    )
    frames = []
    for seq in range(2, count + 2):
        side = rng.choice(("yes", "no"))
        ladder = levels[side]
        top = max(ladder) if ladder else 4900
        price = max(100, min(9900, top - 100 * min(int(rng.expovariate(0.5)), 20) + rng.choice((0, 0, 100))))
        size = ladder.get(price, 0)
        delta = -size if size and rng.random() < 0.15 else rng.randint(-size // 100 if size else 1, 300) * 100
        if delta == 0:
            delta = 100
        new = size + delta
        if new > 0:
            ladder[price] = new
        else:
            ladder.pop(price, None)
        frames.append(
            orjson.dumps(
                {
                    "type": "orderbook_delta",
                    "sid": 2,
                    "seq": seq,
                    "msg": {
                        "market_ticker": TICKER,
                        "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b1c7e11",
                        "price_dollars": format_price(price),
                        "delta_fp": format_count(delta),
                        "side": side,
                        "ts_ms": 1_764_000_000_000 + seq,
                    },
                }
            )
        )
    return snapshot, frames


def baseline_path(frames: list[bytes]) -> Callable[[int, int], None]:
    books: dict[str, dict[int, int]] = {"yes": {}, "no": {}}
    loads = orjson.loads

    def run(start: int, stop: int) -> None:
        for frame in frames[start:stop]:
            msg = loads(frame)["msg"]
            price = parse_price(msg["price_dollars"])
            delta = parse_count(msg["delta_fp"])
            ladder = books[msg["side"]]
            size = ladder.get(price, 0) + delta
            if size > 0:
                ladder[price] = size
            else:
                ladder.pop(price, None)

    return run


def book_path(
    snapshot: bytes,
    frames: list[bytes],
    *,
    read_top: bool = False,
    with_event: bool = True,
    read_depth: int = 0,
) -> Callable[[int, int], None]:
    book = OrderBook(TICKER)
    msg = orjson.loads(snapshot)["msg"]
    book.apply_snapshot(
        [(parse_price(p), parse_count(s)) for p, s in msg.get("yes_dollars_fp", [])],
        [(parse_price(p), parse_count(s)) for p, s in msg.get("no_dollars_fp", [])],
    )
    loads = orjson.loads
    legs = _LEGS

    def run_without_event(start: int, stop: int) -> None:
        for frame in frames[start:stop]:
            msg = loads(frame)["msg"]
            price = parse_price(msg["price_dollars"])
            book.apply_delta(legs[msg["side"]], price, parse_count(msg["delta_fp"]), msg["ts_ms"] * 1_000_000)

    def run(start: int, stop: int) -> None:
        for frame in frames[start:stop]:
            msg = loads(frame)["msg"]
            event = BookDeltaReceived(
                ts_ns=msg["ts_ms"] * 1_000_000,
                ticker=msg["market_ticker"],
                leg=legs[msg["side"]],
                price=parse_price(msg["price_dollars"]),
                delta=parse_count(msg["delta_fp"]),
            )
            book.apply_delta(event.leg, event.price, event.delta, event.ts_ns)
            if read_top:
                book.best_bid()
                book.best_ask()
            if read_depth:
                book.bids(read_depth)
                book.asks(read_depth)

    return run if with_event else run_without_event


def measure(run: Callable[[int, int], None], total: int) -> list[float]:
    """Nanoseconds per frame of each batch of ``BATCH`` frames, one pass over the frames."""
    per_op = []
    clock = time.perf_counter_ns
    for start in range(0, total - BATCH + 1, BATCH):
        began = clock()
        run(start, start + BATCH)
        per_op.append((clock() - began) / BATCH)
    return per_op


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def print_table(title: str, results: dict[str, list[float]], baseline: str) -> None:
    base_rate = 1e9 / statistics.median(results[baseline])
    print(f"\n{title}")
    print(f"{'path':<14}{'median ns':>12}{'p99 ns':>12}{'ops/s':>14}{'ratio':>9}")
    for name, samples in results.items():
        median = statistics.median(samples)
        rate = 1e9 / median
        print(f"{name:<14}{median:>12.0f}{p99(samples):>12.0f}{rate:>14,.0f}{rate / base_rate:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    snapshot, frames = make_frames(args.frames)
    paths: dict[str, Callable[[], Callable[[int, int], None]]] = {
        "baseline": lambda: baseline_path(frames),
        "book": lambda: book_path(snapshot, frames),
        "book+top": lambda: book_path(snapshot, frames, read_top=True),
        "book-no-event": lambda: book_path(snapshot, frames, with_event=False),
        "book+depth2": lambda: book_path(snapshot, frames, read_depth=2),
    }
    results: dict[str, list[float]] = {name: [] for name in paths}
    for make in paths.values():  # warm-up pass
        measure(make(), len(frames))
    for _ in range(args.rounds):
        for name, make in paths.items():  # interleaved, each round from a fresh book
            results[name].extend(measure(make(), len(frames)))
    print_table(
        f"orderbook_delta frames: {len(frames):,} x {args.rounds} rounds, batches of {BATCH}",
        results,
        "baseline",
    )


if __name__ == "__main__":
    main()
