"""The shipped ``avellaneda.yaml`` against the simulator over loopback: it quotes every market with
no post-only rejects (the simulator's own reject counts), its estimated incentive score in the
engine equals the score recomputed from the simulator's book and resting orders, and the journal
records the score and the others' mids."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mmframe.api import (
    BookSide,
    OrderBook,
    OrderStatus,
    WorkingOrder,
    incentive_score,
    parse_count,
    parse_price,
)
from tests.e2e.harness import MARKETS, PIPELINES, Admin, daemon, new_account, until_async

pytestmark = pytest.mark.anyio


def _truth_scores(sim: Any, truth: dict[str, Any], user_id: str) -> dict[str, int]:
    """Each market's score from the simulator's book and our resting orders as it holds them."""
    scores = {}
    for ticker in MARKETS:
        venue = sim.exchange.orderbook(ticker)
        book = OrderBook(ticker)
        book.apply_snapshot(list(venue.yes), list(venue.no), ts_ns=1)
        orders = [
            WorkingOrder(o["order_id"], ticker, BookSide(o["book_side"]), parse_price(o["yes_price_dollars"]),
                         parse_count(o["remaining_count_fp"]), status=OrderStatus.RESTING)
            for o in truth["resting_orders"] if o["user_id"] == user_id and o["ticker"] == ticker
        ]
        scores[ticker] = incentive_score(book, orders)
    return scores


async def test_avellaneda_on_the_simulator_scores_incentives_and_never_crosses(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.sqlite"
    monkeypatch.setenv("MMFRAME_JOURNAL", str(journal))
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account, PIPELINES / "avellaneda.yaml") as running:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")

        async def agree() -> bool:
            if running.books_differing(sim):
                return False
            truth = await admin.truth()
            expected = _truth_scores(sim, truth, account.user_id)
            return running.engine.core.incentive_scores() == expected and any(expected.values())

        await until_async(agree, timeout=20, what="the engine's incentive scores to match the simulator's")

        async def journaled() -> bool:  # a sample is written once its one-second bucket is over
            with sqlite3.connect(journal) as db:
                return bool(db.execute("SELECT COUNT(*) FROM incentive WHERE score > 0").fetchone()[0])

        await until_async(journaled, timeout=20, what="a positive incentive score in the journal")
        truth = await admin.truth()
    rejects = [r for r in truth["rejects"] if r["user_id"] == account.user_id]
    assert not [r for r in rejects if "post only" in str(r["details"])], rejects
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT COUNT(*) FROM mids").fetchone()[0] > 0
