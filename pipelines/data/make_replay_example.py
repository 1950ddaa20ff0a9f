"""Generate ``replay-example.jsonl``: a small, deterministic recording of one Kalshi market in the
replay format (docs/replay-format.md), plus ``replay-example.expected.json`` with the book at a few
records, which the tests compare a replay against.

The market is synthetic but every message has Kalshi's shape as received (API.md §6): a REST
market and order book on subscribe, an ``orderbook_snapshot``, ``orderbook_delta`` and ``trade``
frames (a trade and its book decrease arrive in either order), ``ticker`` frames, one sequence
gap followed by a fresh REST book and a resubscription.

    python pipelines/data/make_replay_example.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TICKER = "KXHIGHNY-26NOV27-T60"
MARKET_ID = "5b3c9f0e-6a1d-4c57-9a58-2f0d7e4a1c11"
START_NS = 1_795_737_600_000_000_000  # 2026-11-27T00:00:00Z
STEPS = 300
GAP_AT = 200
HERE = Path(__file__).parent


def dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}00"


def contracts(n: int) -> str:
    return f"{n}.00"


class Recorder:
    def __init__(self) -> None:
        self.lines: list[dict[str, object]] = []
        self.t = START_NS
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        self.seq: dict[int, int] = {}
        self.trade_no = 0
        self.checkpoints: dict[int, dict[str, list[list[str]]]] = {}

    def add(self, record: dict[str, object]) -> None:
        self.lines.append({"t": self.t, **record})

    def frame(self, kind: str, sid: int | None, msg: dict[str, object], *, skip: int = 0) -> None:
        frame: dict[str, object] = {"type": kind}
        if sid is not None:
            frame["sid"] = sid
            if kind != "ticker":
                self.seq[sid] = self.seq.get(sid, 0) + 1 + skip
                frame["seq"] = self.seq[sid]
        frame["msg"] = msg
        self.add({"kind": "ws", "msg": frame})

    def ladders(self) -> dict[str, list[list[str]]]:
        return {
            "yes_dollars": [[dollars(p), contracts(s)] for p, s in sorted(self.yes.items())],
            "no_dollars": [[dollars(p), contracts(s)] for p, s in sorted(self.no.items())],
        }

    def checkpoint(self) -> None:
        self.checkpoints[len(self.lines)] = self.ladders()

    def best_bid(self) -> int:
        return max(self.yes)

    def best_ask(self) -> int:
        return 100 - max(self.no)

    def delta(self, sid: int, leg: str, price: int, change: int, *, skip: int = 0) -> None:
        ladder = self.yes if leg == "yes" else self.no
        size = ladder.get(price, 0) + change
        if size > 0:
            ladder[price] = size
        else:
            ladder.pop(price, None)
        self.frame("orderbook_delta", sid, {
            "market_ticker": TICKER, "market_id": MARKET_ID, "price_dollars": dollars(price),
            "delta_fp": f"{change}.00", "side": leg,
            "ts_ms": self.t // 1_000_000,
        }, skip=skip)


def market_body() -> dict[str, object]:
    return {
        "ticker": TICKER, "event_ticker": "KXHIGHNY-26NOV27", "market_type": "binary", "status": "active",
        "open_time": "2026-11-26T15:00:00Z", "close_time": "2026-11-28T04:59:00Z",
        "yes_bid_dollars": "0.4700", "yes_ask_dollars": "0.5000", "last_price_dollars": "0.4800",
        "volume_fp": "1520.00", "open_interest_fp": "830.00", "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "notional_value_dollars": "1.0000", "result": "", "can_close_early": True,
    }


def generate(rng: random.Random) -> Recorder:
    rec = Recorder()
    rec.yes = {40: 120, 43: 35, 44: 60, 45: 18, 46: 25, 47: 12}
    rec.no = {45: 90, 47: 40, 48: 22, 49: 30, 50: 15}  # asks 0.50 .. 0.55
    rec.add({"kind": "market", "body": market_body(),
             "series": {"ticker": "KXHIGHNY", "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 1}})
    rec.t += 2_000_000
    rec.add({"kind": "ws", "msg": {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}})
    rec.add({"kind": "ws", "msg": {"id": 2, "type": "subscribed", "msg": {"channel": "trade", "sid": 2}}})
    rec.t += 3_000_000
    rec.add({"kind": "rest", "path": f"/trade-api/v2/markets/{TICKER}/orderbook", "body": {"orderbook_fp": rec.ladders()}})
    rec.t += 1_000_000
    snapshot = rec.ladders()
    rec.frame("orderbook_snapshot", 1, {"market_ticker": TICKER, "market_id": MARKET_ID,
                                        "yes_dollars_fp": snapshot["yes_dollars"], "no_dollars_fp": snapshot["no_dollars"]})
    rec.checkpoint()
    book_sid = 1
    for step in range(STEPS):
        rec.t += rng.randint(40, 400) * 1_000_000
        if step == GAP_AT:
            # A delta is lost (seq jumps by 2); the recorder re-reads the book and resubscribes.
            rec.delta(book_sid, "yes", rec.best_bid(), rng.randint(1, 5), skip=1)
            rec.delta(book_sid, "no", max(rec.no), -1)  # applied by the exchange, but the feed distrusts it
            rec.t += 150_000_000
            rec.add({"kind": "rest", "path": f"/trade-api/v2/markets/{TICKER}/orderbook",
                     "body": {"orderbook_fp": rec.ladders()}})
            book_sid = 3
            rec.add({"kind": "ws", "msg": {"id": 3, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 3}}})
            snapshot = rec.ladders()
            rec.frame("orderbook_snapshot", book_sid, {"market_ticker": TICKER, "market_id": MARKET_ID,
                                                       "yes_dollars_fp": snapshot["yes_dollars"],
                                                       "no_dollars_fp": snapshot["no_dollars"]})
            rec.checkpoint()
            continue
        roll = rng.random()
        bid, ask = rec.best_bid(), rec.best_ask()
        if roll < 0.45 or len(rec.yes) < 3 or len(rec.no) < 3:
            if rng.random() < 0.5 or len(rec.yes) < 3:
                price = rng.randint(max(1, bid - 3), min(ask - 1, bid + 1))
                rec.delta(book_sid, "yes", price, rng.randint(1, 20))
            else:
                ask_price = rng.randint(max(bid + 1, ask - 1), min(99, ask + 3))
                rec.delta(book_sid, "no", 100 - ask_price, rng.randint(1, 20))
        elif roll < 0.72:
            leg = "yes" if rng.random() < 0.5 else "no"
            ladder = rec.yes if leg == "yes" else rec.no
            price = rng.choice(sorted(ladder)[-4:])
            rec.delta(book_sid, leg, price, -rng.randint(1, ladder[price]))
        elif roll < 0.95:
            buyer = rng.random() < 0.5  # the taker buys YES: lifts the best ask (the best NO bid)
            leg = "no" if buyer else "yes"
            ladder = rec.no if buyer else rec.yes
            level = max(ladder)
            count = rng.randint(1, min(15, ladder[level]))
            yes_price = 100 - level if buyer else level
            rec.trade_no += 1
            trade = {
                "trade_id": f"8f2e61c4-{rec.trade_no:04d}-4a1b-9c3d-5e7f80912a3b", "market_ticker": TICKER,
                "yes_price_dollars": dollars(yes_price), "no_price_dollars": dollars(100 - yes_price),
                "count_fp": contracts(count), "taker_outcome_side": "yes" if buyer else "no",
                "taker_book_side": "bid" if buyer else "ask", "taker_side": "yes" if buyer else "no",
                "is_block_trade": False, "ts": rec.t // 1_000_000_000, "ts_ms": rec.t // 1_000_000,
            }
            if rng.random() < 0.7:
                rec.frame("trade", 2, trade)
                rec.t += rng.randint(0, 3) * 1_000_000
                rec.delta(book_sid, leg, level, -count)
            else:
                rec.delta(book_sid, leg, level, -count)
                rec.t += rng.randint(0, 3) * 1_000_000
                rec.frame("trade", 2, trade)
        else:
            rec.frame("ticker", None, {
                "market_ticker": TICKER, "market_id": MARKET_ID, "price_dollars": dollars(bid),
                "yes_bid_dollars": dollars(bid), "yes_ask_dollars": dollars(ask),
                "yes_bid_size_fp": contracts(rec.yes[bid]), "yes_ask_size_fp": contracts(rec.no[100 - ask]),
                "volume_fp": "1600.00", "open_interest_fp": "850.00", "ts": rec.t // 1_000_000_000,
                "ts_ms": rec.t // 1_000_000,
            })
        if step == STEPS // 2:
            rec.checkpoint()
    rec.checkpoint()
    return rec


def main() -> None:
    rec = generate(random.Random(20261127))
    with open(HERE / "replay-example.jsonl", "w", encoding="utf-8") as out:
        for line in rec.lines:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
    expected = {"ticker": TICKER, "books_after_line": {str(k): v for k, v in rec.checkpoints.items()}}
    (HERE / "replay-example.expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(rec.lines)} records, {len(rec.checkpoints)} checkpoints")


if __name__ == "__main__":
    main()
