"""The daemon quotes the simulator's markets, gets filled, and its ledger matches the venue's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmframe.api import PRICE_SCALE
from tests.e2e.harness import MARKETS, Admin, daemon, new_account, until, until_async

pytestmark = pytest.mark.anyio


async def test_daemon_when_quoting_simulator_fills_and_positions_match_ground_truth(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(lambda: _quoted_markets(admin, account.user_id, len(MARKETS)), what="quotes in every market")
        await until(lambda: d.engine.stats.fills >= 3, timeout=15, what="three fills")
        # Settle: no fill in flight while comparing (pause quoting, let WS frames land).
        d.engine.pause("compare")
        await until_async(lambda: _none_resting(admin, account.user_id), what="orders pulled")
        truth = await admin.positions(account.user_id)
        await until(lambda: d.positions() == truth, what=f"ledger {d.positions()} == venue {truth}")
        venue = {p["ticker"]: p for p in (await admin.truth())["positions"] if p["user_id"] == account.user_id}
        for ticker, position in d.engine.core.ledger.positions.items():
            if not (position.position or position.realised_pnl or position.fees):
                continue
            truth_row = venue[ticker]
            # Same average-cost accounting: realised PnL agrees to the venue's sub-unit rounding.
            assert abs(position.realised_pnl - _price_units(truth_row["realized_pnl_dollars"])) <= 1, ticker
            # Fees as the venue's cash paid them (per-order rounding included, API.md §9), to the unit.
            assert position.fees == _price_units(truth_row["fees_charged_dollars"]), ticker
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []


async def _quoted_markets(admin: Admin, user_id: str, count: int) -> bool:
    tickers = {o["ticker"] for o in await admin.resting(user_id)}
    return len(tickers) == count


async def _none_resting(admin: Admin, user_id: str) -> bool:
    return not await admin.resting(user_id)


def _price_units(dollars: str) -> Decimal:
    return Decimal(dollars) * PRICE_SCALE
