"""Startup reconciliation: resting orders the pipeline did not place are cancelled, adopted or refused
as configured, and only in the pipeline's markets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.rest import CreateOrderRequest
from mmframe_kalshi.session import KalshiSession

from mmframe.api import BookSide, LiveClock
from tests.e2e.harness import Account, Admin, daemon, new_account, until_async

pytestmark = pytest.mark.anyio

RAIN, FED = "SIM-RAIN-NYC", "SIM-FED-DEC"


async def _place_by_hand(sim: Any, account: Account, orders: list[tuple[str, str]]) -> None:
    """Resting bids far from the market placed with the account's key by someone else (``cid``s)."""
    credentials = KalshiCredentials.from_file(account.key_id, account.key_path)
    session = KalshiSession(sim.rest_url, sim.ws_url, credentials, LiveClock())
    try:
        for ticker, cid in orders:
            placed = await session.rest.create_order(
                CreateOrderRequest(ticker=ticker, side=BookSide.BID, price=500, count=100, client_order_id=cid)
            )
            assert placed.error is None, placed.error
    finally:
        await session.close()


async def _resting_cids(admin: Admin, user_id: str) -> set[str]:
    return {o["client_order_id"] for o in await admin.resting(user_id)}


async def test_daemon_when_foreign_orders_rest_cancels_only_those_in_its_markets(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    await _place_by_hand(sim, account, [(RAIN, "manual-rain"), (FED, "manual-fed")])
    async with daemon(sim, account, overrides=[f"markets=[{RAIN}]"]) as d:

        async def foreign_gone() -> bool:
            cids = await _resting_cids(admin, account.user_id)
            return "manual-rain" not in cids and "manual-fed" in cids

        await until_async(foreign_gone, what="the foreign order in the pipeline's market cancelled")
    assert d.task.result() == 0
    assert await _resting_cids(admin, account.user_id) == {"manual-fed"}  # outside its markets: untouched


async def test_daemon_when_foreign_orders_adopted_cancels_them_at_stop(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    await _place_by_hand(sim, account, [(RAIN, "manual-rain")])
    overrides = [f"markets=[{RAIN}]", "venue.kalshi.foreign_orders=adopt"]
    async with daemon(sim, account, overrides=overrides) as d:
        assert d.engine.core.tracker.get("manual-rain") is not None
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []


async def test_daemon_when_foreign_orders_refused_does_not_start(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    await _place_by_hand(sim, account, [(RAIN, "manual-rain")])
    overrides = [f"markets=[{RAIN}]", "venue.kalshi.foreign_orders=refuse"]
    with pytest.raises(AssertionError, match="not placed by this pipeline"):
        async with daemon(sim, account, overrides=overrides):
            pass
    assert await _resting_cids(admin, account.user_id) == {"manual-rain"}  # left for its owner
