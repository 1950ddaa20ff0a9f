"""Honest measurement in the journal and the report: mids without our own orders, the estimated
Liquidity Incentive Program score per market, and markouts against an external fair value."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mmframe_sinks.journal import JournalSink
from mmframe_sinks.journal_db import NANOS_PER_DAY
from mmframe_sinks.report import build_report

from mmframe.api import (
    NANOS_PER_SECOND,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    FairValueUpdated,
    IncentiveTerms,
    MarketInfo,
    MarketInfoReceived,
    OrderAccepted,
    OrderActionsSubmitted,
    OrderCanceled,
    OrderFilled,
    RunStarted,
    RunStopped,
)

pytestmark = pytest.mark.anyio
DAY = 20_000 * NANOS_PER_DAY
S = NANOS_PER_SECOND
T = DAY + 3600 * S


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def journal_run(path: Path, events: list[Any]) -> JournalSink:
    sink = JournalSink({"path": str(path)}, "test")
    await sink.start()
    await sink.write(events)
    await sink.close()
    return sink


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def snap(ts: int, yes: tuple[tuple[int, int], ...], no: tuple[tuple[int, int], ...] = ((5000, 1000),)) -> Any:
    return BookSnapshotReceived(ts_ns=ts, ticker="M", yes_bids=yes, no_bids=no)


def our_bid(ts: int, cid: str = "c1", price: int = 4600, size: int = 200) -> list[Any]:
    create = CreateOrder(client_order_id=cid, ticker="M", side=BookSide.BID, price=price, size=size)
    return [OrderActionsSubmitted(ts_ns=ts, actions=(create,)),
            OrderAccepted(ts_ns=ts + 1, client_order_id=cid, ticker="M", order_id=f"o-{cid}", remaining=size)]


async def test_journal_mids_and_fill_mids_leave_our_own_orders_out(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = [
        RunStarted(ts_ns=T, pipeline="p", markets=("M",)),
        snap(T, ((4500, 1000),)),  # before our order: mid 0.4750
        *our_bid(T + 2 * S),
        snap(T + 2 * S + 2, ((4500, 1000), (4600, 200))),  # our bid improves the book: book mid 0.48
        snap(T + 3 * S - 1, ((4500, 1000), (4600, 100))),  # the trade reaches the book before our fill
        OrderFilled(ts_ns=T + 3 * S, client_order_id="c1", ticker="M", order_id="o-c1", trade_id="t1",
                    side=BookSide.BID, price=4600, count=100, fee=0, is_taker=False),
        OrderActionsSubmitted(ts_ns=T + 4 * S, actions=(CancelOrder(client_order_id="c1", ticker="M"),)),
        OrderCanceled(ts_ns=T + 4 * S + 1, client_order_id="c1", ticker="M"),
        snap(T + 5 * S, ((4500, 1000), (4700, 300))),  # someone else's bid at 0.47: mid 0.4850
        RunStopped(ts_ns=T + 6 * S, reason="done"),
    ]
    await journal_run(path, events)
    # 0.4750 throughout our order's life (written once: unchanged), then 0.4850 from the others.
    assert rows(path, "SELECT ts_ns - " + str(T) + ", mid FROM mids ORDER BY ts_ns") == [(0, 4750), (5 * S, 4850)]
    assert rows(path, "SELECT mid FROM fills") == [(4750,)]


async def test_journal_records_our_incentive_score_with_the_markets_terms(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    terms = IncentiveTerms(target_size=100, discount_bps=5000)
    events = [
        MarketInfoReceived(ts_ns=T, ticker="M", info=MarketInfo("M", incentive=terms)),
        snap(T, ((4500, 1000),)),
        *our_bid(T + S),  # 2 contracts at a new best of 0.46
        snap(T + S + 2, ((4500, 1000), (4600, 200))),
        RunStopped(ts_ns=T + 3 * S, reason="done"),
    ]
    await journal_run(path, events)
    # Before our order: 0. Then the 1-contract target is met at the best level, all of it ours.
    assert rows(path, "SELECT ts_ns - " + str(T) + ", ticker, score FROM incentive ORDER BY ts_ns") == [
        (0, "M", 0), (S + 2, "M", 100),
    ]


async def test_journal_when_the_book_shows_our_order_before_the_venue_answers_samples_again(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    create = CreateOrder(client_order_id="c1", ticker="M", side=BookSide.BID, price=4600, size=200)
    events = [
        snap(T, ((4500, 1000),)),
        OrderActionsSubmitted(ts_ns=T + 1, actions=(create,)),
        snap(T + 2, ((4500, 1000), (4600, 200))),  # the WebSocket first: our order is still pending
        OrderAccepted(ts_ns=T + 3, client_order_id="c1", ticker="M", order_id="o1", remaining=200),
        RunStopped(ts_ns=T + 4, reason="done"),
    ]
    await journal_run(path, events)
    assert rows(path, "SELECT score FROM incentive") == [(200,)]  # the bucket's last sample: after the answer
    assert rows(path, "SELECT mid FROM mids") == [(4750,)]


async def test_report_averages_the_incentive_score_and_marks_fills_out_against_a_fair_value(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    events = [
        RunStarted(ts_ns=T, pipeline="p", markets=("M",)),
        snap(T, ((4500, 1000),)),
        FairValueUpdated(ts_ns=T, ticker="M", price=4800, source="sim:truth"),
        *our_bid(T + 10 * S - 2),
        snap(T + 10 * S, ((4500, 1000), (4600, 200))),  # score 2 contracts from 10 s on
        OrderFilled(ts_ns=T + 20 * S, client_order_id="c1", ticker="M", order_id="o-c1", trade_id="t1",
                    side=BookSide.BID, price=4600, count=100, fee=0, is_taker=False),
        FairValueUpdated(ts_ns=T + 22 * S, ticker="M", price=4400, source="sim:truth"),  # informed: fair fell
        RunStopped(ts_ns=T + 40 * S, reason="done"),
    ]
    await journal_run(path, events)
    with sqlite3.connect(path) as db:
        report = build_report(db, since_ns=T, now_ns=T + 40 * S)
    # 0 for 10 s, 2 contracts for the remaining 30 s (until the run's stop): 1.5 on average.
    assert report["incentive_scores"] == {"M": "1.50"}
    assert report["by_market"][0]["incentive_score"] == "1.50"
    truth = report["fair_value_markouts"]["sim:truth"]
    assert truth["0s"] == {"contracts": "1.00", "markout_per_contract": "0.0200"}  # bought 0.46 under 0.48
    assert truth["5s"] == {"contracts": "1.00", "markout_per_contract": "-0.0200"}  # fair 0.44 by then
    assert truth["300s"]["contracts"] == "0.00"  # past the run's end: not counted
