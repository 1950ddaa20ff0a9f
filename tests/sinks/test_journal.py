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
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
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


def filled(ts: int, trade: str, side: BookSide, price: int, count: int, *, fee: int = 0, order: str = "",
           cid: str = "") -> OrderFilled:
    return OrderFilled(ts_ns=ts, client_order_id=cid or f"c-{trade}", ticker="M", order_id=order or f"o-{trade}",
                       trade_id=trade, side=side, price=price, count=count, fee=fee, is_taker=False)


def snapshot(ts: int, yes_bid: int, no_bid: int) -> BookSnapshotReceived:
    return BookSnapshotReceived(ts_ns=ts, ticker="M", yes_bids=((yes_bid, 1000),), no_bids=((no_bid, 1000),))


async def restored(path: Path, now_ns: int, **config: Any) -> Any:
    sink = JournalSink({"path": str(path), **config}, "test")
    await sink.start()
    carried = sink.restore(now_ns)
    await sink.close()
    return carried


async def test_restore_when_a_position_spans_midnight_carries_it_at_cost_and_today_s_pnl_from_the_midnight_mark(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [
        snapshot(DAY - 120 * S, 4000, 6000),  # mid 0.40
        filled(DAY - 120 * S, "t1", BookSide.BID, 4000, 1000),  # long 10 at 0.40
        snapshot(DAY - 60 * S, 4500, 5500),  # mid 0.45 at midnight
    ])
    await journal_run(path, [filled(DAY + 60 * S, "t2", BookSide.ASK, 5000, 400)])  # sold 4 at 0.50 today

    carried = await restored(path, DAY + 3600 * S)

    item = carried.positions["M"]
    assert (item.position, item.cost_basis_micro) == (600, 2_400_000)  # 6 left at their cost, $2.40
    # Today: the 4 sold made 4 x (0.50 - 0.45); the 6 left count at cost, 6 x (0.40 - 0.45).
    assert carried.day_start_pnl({"M"}) == 4 * 500 - 6 * 500
    # A market the new run does not carry stays at its last mark (0.45): 4 x 0.05 today.
    assert carried.day_start_pnl(set()) == 4 * 500
    assert carried.trade_ids == ("t1", "t2") and carried.fills == 2


async def test_restore_when_the_losses_were_yesterday_starts_the_day_at_zero(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [filled(DAY - 90 * S, "t1", BookSide.BID, 4000, 1000, fee=170),
                             filled(DAY - 60 * S, "t2", BookSide.ASK, 3000, 1000, fee=150)])
    carried = await restored(path, DAY + 60 * S)
    assert carried.day_start_pnl({"M"}) == 0
    assert carried.positions["M"].position == 0


async def test_restore_when_an_order_filled_in_parts_carries_its_unrefunded_fee_rounding(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    # 3 + 7 contracts of one order at 0.50, taker: trade fees $0.0525 and $0.1225 (rounded up to $0.0001).
    await journal_run(path, [filled(DAY + S, "t1", BookSide.BID, 5000, 300, fee=525, order="o1"),
                             filled(DAY + 2 * S, "t2", BookSide.BID, 5000, 700, fee=1225, order="o1")])
    carried = await restored(path, DAY + 60 * S)
    # First fill charged $0.06 ($0.0075 over); the second $0.0075 over again, a cent back: $0.12.
    assert carried.day_start_pnl({"M"}) == -1800  # the balance paid $0.18, as for one fill of 10
    assert dict(carried.fee_rounding) == {"o1": 5000}  # $0.175 of trade fees cost $0.18: $0.005 pending
    await journal_run(path, [filled(DAY + 3 * S, "t3", BookSide.BID, 5000, 100, fee=175, order="o2")])
    carried = await restored(path, DAY + 60 * S)
    assert dict(carried.fee_rounding) == {"o1": 5000, "o2": 2500}  # $0.0175 charged $0.02


async def test_restore_when_disabled_carries_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [filled(DAY + S, "t1", BookSide.BID, 4000, 1000)])
    assert await restored(path, DAY + 60 * S, restore=False) is None


async def test_restore_when_the_journal_has_backtest_runs_leaves_them_out(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    sink = JournalSink({"path": str(path)}, "test", mode="backtest")
    await sink.start()
    await sink.write([filled(DAY + S, "t1", BookSide.BID, 4000, 1000)])
    await sink.close()
    assert sink.restore(DAY + 60 * S) is None  # a backtest never restores
    carried = await restored(path, DAY + 60 * S)
    assert carried.positions == {} and carried.fills == 0
    assert rows(path, "SELECT mode, trade_id FROM runs JOIN fills USING (run_id)") == [
        ("backtest", f"{sink.run_id}/t1")
    ]


async def _mode_run(path: Path, mode: str, events: list[Any]) -> JournalSink:
    sink = JournalSink({"path": str(path)}, "test", mode=mode)
    await sink.start()
    await sink.write(events)
    await sink.close()
    return sink


async def test_restore_when_live_and_paper_runs_share_a_journal_each_carries_only_its_own(tmp_path: Path) -> None:
    """A paper fill is not the account's: a live run never carries it in, and a paper run carries in
    only paper fills (its positions are the paper account's)."""
    path = tmp_path / "j.sqlite"
    await journal_run(path, [filled(DAY + S, "live-1", BookSide.BID, 4000, 1000)])  # live: long 10
    paper = await _mode_run(path, "paper", [filled(DAY + 2 * S, "paper-1", BookSide.ASK, 4500, 300)])  # paper: short 3

    live_books = await restored(path, DAY + 60 * S)
    assert live_books.positions["M"].position == 1000 and live_books.fills == 1

    sink = JournalSink({"path": str(path)}, "test", mode="paper")
    await sink.start()
    paper_books = sink.restore(DAY + 60 * S)
    await sink.close()
    assert paper_books is not None and paper_books.positions["M"].position == -300 and paper_books.fills == 1
    assert paper_books.trade_ids == (f"{paper.run_id}/paper-1",)
    assert rows(path, "SELECT mode, COUNT(*) FROM runs GROUP BY mode ORDER BY mode") == [("live", 2), ("paper", 2)]


async def test_journal_when_a_paper_run_was_killed_the_next_paper_run_closes_it_not_a_live_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    killed = JournalSink({"path": str(path)}, "test", mode="paper")
    await killed.start()
    await killed.close()  # no RunStopped: as after kill -9
    await journal_run(path, [])  # a live run of the same pipeline leaves the paper run alone
    assert rows(path, f"SELECT stopped_ns FROM runs WHERE run_id = '{killed.run_id}'") == [(None,)]
    await _mode_run(path, "paper", [])
    assert rows(path, f"SELECT error FROM runs WHERE run_id = '{killed.run_id}'") == [(1,)]


async def test_journal_when_the_same_fill_is_reported_twice_journals_it_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await journal_run(path, [filled(DAY + S, "t1", BookSide.BID, 4000, 1000)])
    await journal_run(path, [filled(DAY + 2 * S, "t1", BookSide.BID, 4000, 1000)])
    assert rows(path, "SELECT COUNT(*) FROM fills") == [(1,)]


async def test_journal_when_orders_fill_amend_decrease_or_cancel_the_status_follows(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    t = DAY + 3600 * S
    created = [CreateOrder(client_order_id=f"c{i}", ticker="M", side=BookSide.BID, price=4500, size=1000)
               for i in range(1, 6)]
    await journal_run(path, [
        OrderActionsSubmitted(ts_ns=t, actions=tuple(created)),
        *(OrderAccepted(ts_ns=t + 1, client_order_id=f"c{i}", ticker="M", order_id=f"o{i}", remaining=1000)
          for i in range(1, 6)),
        filled(t + 2, "a", BookSide.BID, 4500, 400, order="o1", cid="c1"),
        filled(t + 3, "b", BookSide.BID, 4500, 600, order="o1", cid="c1"),  # c1: filled in full
        filled(t + 4, "c", BookSide.BID, 4500, 300, order="o2", cid="c2"),  # c2: in part
        OrderAmended(ts_ns=t + 5, client_order_id="c3", ticker="M", new_client_order_id="c3b", price=4400,
                     remaining=1000),
        filled(t + 6, "d", BookSide.BID, 4400, 1000, order="o3", cid="c3b"),  # the amended order fills
        OrderDecreased(ts_ns=t + 7, client_order_id="c4", ticker="M", remaining=0),
        OrderCanceled(ts_ns=t + 8, client_order_id="c5", ticker="M"),
        RunStopped(ts_ns=t + 9, reason="test"),
    ])
    assert dict(rows(path, "SELECT client_order_id, status FROM orders")) == {
        "c1": "executed", "c2": "partially_filled", "c3": "amended", "c3b": "executed", "c4": "canceled",
        "c5": "canceled",
    }


async def test_journal_when_an_order_of_a_killed_run_fills_in_the_next_its_row_follows(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    t = DAY + 3600 * S
    first = JournalSink({"path": str(path)}, "test")
    await first.start()
    await first.write([
        RunStarted(ts_ns=t, pipeline="test", markets=("M",)),
        OrderActionsSubmitted(ts_ns=t, actions=(CreateOrder(client_order_id="c1", ticker="M", side=BookSide.BID,
                                                            price=4500, size=1000),)),
        OrderAccepted(ts_ns=t + 1, client_order_id="c1", ticker="M", order_id="o1", remaining=1000),
    ])
    # kill -9: no RunStopped, no close.
    second = JournalSink({"path": str(path)}, "test")
    await second.start()
    await second.write([filled(t + 60 * S, "a", BookSide.BID, 4500, 1000, order="o1", cid="c1")])
    await second.close()
    await first.close()
    assert rows(path, "SELECT run_id, status, filled FROM orders") == [(first.run_id, "executed", 1000)]
    stopped = rows(path, f"SELECT stopped_ns, stop_reason, error FROM runs WHERE run_id = '{first.run_id}'")
    assert stopped == [(t + 1, "ended without a stop record (the process was killed or crashed)", 1)]


async def test_journal_when_a_run_stops_with_an_error_records_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    sink = await journal_run(path, [RunStopped(ts_ns=DAY, reason="fatal: boom", error=True)])
    assert rows(path, f"SELECT stopped_ns, stop_reason, error FROM runs WHERE run_id = '{sink.run_id}'") == [
        (DAY, "fatal: boom", 1)
    ]


def test_journal_when_opening_a_version_1_file_migrates_it(tmp_path: Path) -> None:
    from mmframe_sinks import journal_db

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        v1 = journal_db.DDL
        db.executescript(v1)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute("INSERT INTO runs (run_id, pipeline, started_ns) VALUES ('r', 'p', 1)")
        db.execute("INSERT INTO orders VALUES ('r', 'c', 'M', 'bid', 4500, 100, 1, 0, 1, 'o', 'resting', 100, 2)")
        for _ in range(2):  # an old journal could hold a fill twice
            db.execute("INSERT INTO fills (run_id, ts_ns, ticker, client_order_id, order_id, trade_id, side, price,"
                       " count, fee, is_taker) VALUES ('r', 2, 'M', 'c', 'o', 't', 'bid', 4500, 100, 0, 0)")
    journal_db.connect(path).close()
    assert rows(path, "SELECT value FROM meta") == [("3",)]
    assert rows(path, "SELECT COUNT(*) FROM incentive") == [(0,)]  # version 3's tables
    assert rows(path, "SELECT COUNT(*) FROM fair_values") == [(0,)]
    assert rows(path, "SELECT mode FROM runs") == [("live",)]
    assert rows(path, "SELECT status FROM orders") == [("executed",)]
    assert rows(path, "SELECT COUNT(*) FROM fills") == [(1,)]


async def test_journal_when_quote_events_arrive_ignores_them_quietly(tmp_path: Path) -> None:
    from mmframe.api import QuoteComputed

    path = tmp_path / "j.sqlite"
    await journal_run(path, [QuoteComputed(ts_ns=DAY, ticker="M", quote=Quote("M"))])
    assert rows(path, "SELECT COUNT(*) FROM order_events") == [(0,)]
