"""The journal sink: what it records, and the day's PnL it restores."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mmframe_sinks.journal import JournalSink
from mmframe_sinks.journal_db import NANOS_PER_DAY

from mmframe.api import (
    NANOS_PER_SECOND,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    OrderAccepted,
    OrderActionsSubmitted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    PortfolioMarked,
    PositionMark,
    Quote,
    RiskVerdictIssued,
    RunStarted,
    RunStopped,
    TradingHalted,
    Verdict,
)

pytestmark = pytest.mark.anyio
DAY = 20_000 * NANOS_PER_DAY  # a midnight UTC
S = NANOS_PER_SECOND


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def marked(ts: int, realised: int, unrealised: int = 0, fees: int = 0, *positions: PositionMark) -> PortfolioMarked:
    return PortfolioMarked(ts_ns=ts, realised_pnl=realised, unrealised_pnl=unrealised, fees=fees, positions=positions)


async def journal_run(path: Path, events: list[Any]) -> JournalSink:
    sink = JournalSink({"path": str(path)}, "test")
    await sink.start()
    await sink.write(events)
    await sink.close()
    return sink


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


async def test_journal_when_a_run_trades_records_orders_transitions_fills_pnl_and_risk(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    t = DAY + 3600 * S
    create = CreateOrder(client_order_id="c1", ticker="M", side=BookSide.BID, price=4500, size=200)
    events = [
        RunStarted(ts_ns=t, pipeline="p", markets=("M",)),
        BookSnapshotReceived(ts_ns=t, ticker="M", yes_bids=((4500, 1000),), no_bids=((5000, 1000),)),
        OrderActionsSubmitted(ts_ns=t + 1, actions=(create,)),
        OrderAccepted(ts_ns=t + 2, client_order_id="c1", ticker="M", order_id="o1", remaining=200),
        OrderFilled(ts_ns=t + 3, client_order_id="c1", ticker="M", order_id="o1", trade_id="t1", side=BookSide.BID,
                    price=4500, count=100, fee=0, is_taker=False),
        OrderActionsSubmitted(ts_ns=t + 4, actions=(CancelOrder(client_order_id="c1", ticker="M"),)),
        OrderCanceled(ts_ns=t + 5, client_order_id="c1", ticker="M"),
        OrderRejected(ts_ns=t + 6, client_order_id="c2", ticker="M", code="429", message="slow down"),
        RiskVerdictIssued(ts_ns=t + 7, ticker="M", rule="max-position", verdict=Verdict.block("too long")),
        TradingHalted(ts_ns=t + 8, reason="daily-loss"),
        marked(t + 9, 0, -250, 0, PositionMark("M", 100, 4500, 0, 0, 4250, -250)),
        RunStopped(ts_ns=t + 10, reason="SIGINT"),
    ]
    sink = await journal_run(path, events)

    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(path, "SELECT run_id, pipeline, markets, stop_reason FROM runs") == [(sink.run_id, "p", "M", "SIGINT")]
    assert rows(path, "SELECT client_order_id, status, filled, order_id FROM orders") == [("c1", "canceled", 100, "o1")]
    assert [r[0] for r in rows(path, "SELECT event FROM order_events ORDER BY id")] == [
        "create", "accepted", "filled", "cancel", "canceled", "create_rejected",
    ]
    assert rows(path, "SELECT side, price, count, mid FROM fills") == [("bid", 4500, 100, 4750)]
    assert rows(path, "SELECT realised, unrealised, net FROM pnl") == [(0, -250, -250)]
    assert rows(path, "SELECT ticker, position, mark FROM positions") == [("M", 100, 4250)]
    assert rows(path, "SELECT kind, rule, verdict FROM risk_events ORDER BY id") == [
        ("RiskVerdictIssued", "max-position", "block"), ("TradingHalted", None, None),
    ]
    assert rows(path, "SELECT ticker, mid FROM mids") == [("M", 4750)]


async def test_journal_when_mids_change_often_samples_one_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    snaps = [
        BookSnapshotReceived(ts_ns=DAY + i * S // 4, ticker="M", yes_bids=((4000 + 100 * i, 10),), no_bids=((5000, 10),))
        for i in range(8)
    ]
    await journal_run(path, snaps)
    # Two one-second buckets: the last mid of each is kept.
    assert rows(path, "SELECT ts_ns - ?, mid FROM mids ORDER BY ts_ns".replace("?", str(DAY))) == [
        (3 * S // 4, 4650), (7 * S // 4, 4850),
    ]


async def test_restore_when_earlier_runs_today_lost_returns_their_net_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    # A run across midnight: -5.00 by midnight, -8.00 later: it lost 3.00 today.
    await journal_run(path, [marked(DAY - 60 * S, -50_000), marked(DAY + 60 * S, -80_000)])
    # A run today: -2.00 with a long position marked at 0.40.
    await journal_run(path, [marked(DAY + 120 * S, -10_000, -10_000, 0, PositionMark("M", 300, 4400, 0, 0, 4000,
                                                                                        -12_000))])
    sink = JournalSink({"path": str(path)}, "test")
    await sink.start()
    carried = sink.restore(DAY + 3600 * S)
    await sink.close()
    assert carried.day_start_pnl == -30_000 + -20_000
    assert dict(carried.positions) == {"M": (300, 4000)}


async def test_restore_when_the_losses_were_yesterday_starts_the_day_at_zero(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [marked(DAY - 60 * S, -50_000)])
    sink = JournalSink({"path": str(path)}, "test")
    await sink.start()
    assert sink.restore(DAY + 60 * S).day_start_pnl == 0
    await sink.close()


async def test_restore_when_disabled_carries_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [marked(DAY + S, -50_000)])
    sink = JournalSink({"path": str(path), "restore": False}, "test")
    await sink.start()
    assert sink.restore(DAY + 60 * S).day_start_pnl == 0
    await sink.close()


async def test_journal_when_quote_events_arrive_ignores_them_quietly(tmp_path: Path) -> None:
    from mmframe.api import QuoteComputed

    path = tmp_path / "j.sqlite"
    await journal_run(path, [QuoteComputed(ts_ns=DAY, ticker="M", quote=Quote("M"))])
    assert rows(path, "SELECT COUNT(*) FROM order_events") == [(0,)]
