"""A restart cannot reset the daily-loss limit: the journal carries the day's losses into the next run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmframe.api import BookSide, CreateOrder
from tests.control.harness import auth, build, make_pipeline, running, wait_for
from tests.control.memory_exchange import Exchange

pytestmark = pytest.mark.anyio


async def test_daily_loss_when_restarted_after_losses_still_knows_them_from_the_journal(
    exchange: Exchange, registry: Any, tmp_path: Path
) -> None:
    journal = {"path": str(tmp_path / "journal.sqlite")}
    first = build(make_pipeline(risk=(("daily-loss", {"max_loss": 1}),), sinks=(("journal", journal),)), registry)
    async with running(first) as client:
        bid = next(o for o in first.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)  # long 1 @ 0.45
        await wait_for(lambda: first.core.ledger.position("CTL-A").position == 100)
        exchange.move_book("CTL-A", 3000, 6000)  # bid 0.30 / ask 0.40
        await wait_for(lambda: first.core.markets["CTL-A"].book.best_bid() == 3000)
        flattened = (await client.post("/flatten", headers=auth())).json()
        assert flattened["flat"] is True
        assert first.core.portfolio.net_pnl() == -1500  # sold at 0.30: -$0.15
    assert first.core.state == "paused"

    creates_before = len([a for a in exchange.executed if isinstance(a, CreateOrder)])
    second = build(make_pipeline(risk=(("daily-loss", {"max_loss": 0.1}),), sinks=(("journal", journal),)), registry)
    async with running(second, settle=False) as client:
        assert second.core.portfolio.day_start_pnl == -1500
        await wait_for(lambda: second.core.state == "halted")
        health = await client.get("/health")
        state = (await client.get("/state")).json()

    assert "daily-loss" in second.core.halt_reason and "-0.1500" in second.core.halt_reason
    assert health.status_code == 503
    assert state["pnl"]["day_start"] == "-0.1500" and state["pnl"]["net"] == "-0.1500"
    assert len([a for a in exchange.executed if isinstance(a, CreateOrder)]) == creates_before, (
        "the second run must not place a single order past the daily loss"
    )


async def test_restart_when_a_losing_position_is_carried_counts_its_loss_once(
    exchange: Exchange, registry: Any, tmp_path: Path
) -> None:
    journal = {"path": str(tmp_path / "journal.sqlite")}
    first = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(first):
        bid = next(o for o in first.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)  # long 1 @ 0.45
        exchange.move_book("CTL-A", 3000, 6000)  # mid 0.35: -$0.10 unrealised
        await wait_for(lambda: first.core.portfolio.net_pnl() == -1000)

    second = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(second, settle=False):
        await wait_for(lambda: second.core.markets["CTL-A"].book.valid)
        position = second.core.ledger.position("CTL-A")
        assert (position.position, position.avg_price) == (100, 4500), "carried in at its cost, as the venue has it"
        assert second.core.portfolio.day_start_pnl == 0, "today's PnL before this run, the position at cost"
        assert second.core.portfolio.net_pnl() == -1000, "the loss is counted once, not reset, not doubled"


async def test_restart_when_the_venue_holds_contracts_no_fill_explains_carries_them_in_as_a_named_fill(
    exchange: Exchange, registry: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    from mmframe_sinks.report import build_report

    journal = {"path": str(tmp_path / "journal.sqlite")}
    first = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(first):
        bid = next(o for o in first.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)  # long 1 @ 0.45, journaled
        await wait_for(lambda: first.core.ledger.position("CTL-A").position == 100)
    # While no run is up the account gains 2 contracts the venue reports no fill for (older than
    # the look-back, or traded by hand): the journal's fills cannot explain the venue's position.
    exchange.positions["CTL-A"] = 300

    second = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(second, settle=False):
        await wait_for(lambda: second.core.ledger.position("CTL-A").position == 300)
        position = second.core.ledger.position("CTL-A")
        assert position.avg_price == 4500 and position.fees == 0  # at our cost: no PnL made up

    assert "CTL-A: the venue holds 3.00, the journal's fills and the venue's since give 1.00" in caplog.text
    with sqlite3.connect(journal["path"]) as db:
        carried = db.execute("SELECT side, price, count FROM fills WHERE trade_id LIKE 'carry-%'").fetchall()
        report = build_report(db)
    assert carried == [("bid", 4500, 200)]
    market = next(m for m in report["by_market"] if m["ticker"] == "CTL-A")
    assert (market["bought"], market["sold"], market["carried_in"], market["position"]) == ("3.00", "0.00", "2.00", "3.00")
    assert market["fills"] == 1, "a carried-in position is not a fill of ours"


async def test_restart_when_the_journal_holds_an_order_live_that_no_longer_rests_closes_its_row(
    exchange: Exchange, registry: Any, tmp_path: Path
) -> None:
    import sqlite3

    journal = {"path": str(tmp_path / "journal.sqlite")}
    first = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(first):
        cid = next(iter(first.core.tracker.working("CTL-A"))).client_order_id
    # As if the run had been killed before its cancel was journaled.
    with sqlite3.connect(journal["path"]) as db:
        db.execute("UPDATE orders SET status = 'resting' WHERE client_order_id = ?", (cid,))

    second = build(make_pipeline(sinks=(("journal", journal),)), registry)
    async with running(second, settle=False):
        pass
    with sqlite3.connect(journal["path"]) as db:
        assert db.execute("SELECT status FROM orders WHERE client_order_id = ?", (cid,)).fetchone() == ("canceled",)
        reasons = [r[0] for r in db.execute(
            "SELECT detail FROM order_events WHERE client_order_id = ? AND event = 'canceled'", (cid,))]
    assert "not resting on the venue at start" in reasons
