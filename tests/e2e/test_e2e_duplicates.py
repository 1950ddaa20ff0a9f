"""The simulator's ``duplicate`` fault against the running daemon: a WebSocket message whose seq was
already applied is dropped and counted, never taken for a sequence gap.

Before the fix (677aac7) this test saw 6,771 gaps, 27,084 book invalidations and 2,363 creates +
2,355 cancels + 10 amends of churn from the resnapshots. Here the market is held
still so that any order action during the fault can only be the fault's doing: the simulator's time
is frozen (its synthetic traders act on exchange time, so they stop), and the traffic that carries
the duplicated messages comes from a test participant who rests and cancels one-contract bids at
$0.01, far below every best bid, which moves neither the daemon's quotes nor its risk checks.
Judged by the venue: it holds no order of ours it did not hold before, our resting orders are the
same before and after, and the daemon's books equal the simulator's.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from mmframe_sim.model import OrderRequest, Side

from tests.e2e.harness import MARKETS, Admin, Daemon, daemon, new_account, until, until_async

pytestmark = pytest.mark.anyio

DUPLICATES = 8_000
TRAFFIC_USER = "dup-traffic"
DEEP_BID = 100  # $0.01: the lowest price on the grid
SETTLE_S = 1.0


def _actions(d: Daemon) -> int:
    return sum(d.engine.stats.actions.values())


async def _freeze(admin: Admin) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{admin.url}/time", json={"freeze": True})
        response.raise_for_status()
        assert response.json()["frozen"] is True


async def _quiescent(d: Daemon, admin: Admin, user_id: str) -> list[dict[str, Any]]:
    """Wait until neither the daemon's action count nor our resting orders changed for `SETTLE_S`
    (the last requotes after the freeze have landed); return those resting orders."""
    deadline = time.monotonic() + 20
    while True:
        before, resting = _actions(d), await admin.resting(user_id)
        await asyncio.sleep(SETTLE_S)
        if _actions(d) == before and await admin.resting(user_id) == resting and resting:
            return resting
        if time.monotonic() > deadline:
            raise AssertionError("the daemon never stopped acting on a frozen market")


async def _traffic(sim: Any, admin: Admin) -> int:
    """Rest and cancel $0.01 bids in every market until the duplicate fault is used up; returns how
    many book messages that made the simulator send (two per bid: rested, cancelled)."""
    exchange = sim.exchange
    exchange.open_account(TRAFFIC_USER)
    hub = sim.server.hub
    sent = 0
    for _ in range(10_000):
        if sim.server.faults.duplicate_remaining == 0:
            return sent
        placed = exchange.create_orders(
            TRAFFIC_USER, [OrderRequest(ticker=t, side=Side.BID, price=DEEP_BID, count=100) for t in MARKETS]
        )
        ids = [result.order.order_id for result in placed]  # type: ignore[union-attr]
        exchange.cancel_orders(TRAFFIC_USER, ids)
        sent += 2 * len(ids)
        # Let the simulator's sender and the daemon's reader keep up (both run in this event loop).
        while any(len(session.queue) > 200 for session in hub.sessions):
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)
    raise AssertionError("the duplicate fault was never used up")


async def test_daemon_when_8000_messages_duplicated_drops_them_without_invalidating_books_or_acting(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(
            lambda: admin.quoting_everywhere(account.user_id), timeout=15, what="quotes in every market"
        )
        await _freeze(admin)
        resting = await _quiescent(d, admin, account.user_id)
        for ticker in MARKETS:  # the traffic rests strictly below every best bid
            assert d.engine.core.markets[ticker].book.best_bid() > DEEP_BID
        session = d.kalshi().session
        ws = session.ws
        invalidated, snapshots = d.event_count("BookInvalidated"), d.event_count("BookSnapshotReceived")
        gaps, actions = ws.stats.gaps, _actions(d)
        snapshot_requests = ws.stats.snapshot_requests
        duplicates, frames = ws.stats.duplicates, ws.stats.frames
        orders_ever = len(sim.exchange.orders(account.user_id))  # every order the venue ever had of ours

        await admin.fault("duplicate", count=DUPLICATES)
        sent = await _traffic(sim, admin)
        # Every duplicated message has reached the daemon once the reader has seen all of them.
        await until(lambda: ws.stats.duplicates - duplicates >= DUPLICATES, timeout=30, what="every duplicate read")
        await asyncio.sleep(SETTLE_S)  # anything the duplicates would have set off has happened by now

        assert ws.stats.duplicates - duplicates == DUPLICATES
        assert ws.stats.frames - frames >= sent + DUPLICATES
        assert ws.stats.gaps == gaps
        assert ws.stats.snapshot_requests == snapshot_requests
        assert d.event_count("BookInvalidated") == invalidated
        assert d.event_count("BookSnapshotReceived") == snapshots
        assert _actions(d) == actions, dict(d.engine.stats.actions)
        # Judged by the venue: no order of ours was created, and the same ones rest unchanged (none
        # cancelled, amended or decreased); our books are the venue's.
        assert len(sim.exchange.orders(account.user_id)) == orders_ever
        assert await admin.resting(account.user_id) == resting
        assert d.books_differing(sim) == []
        state = d.kalshi().session.describe()["ws"]
        assert state["duplicates"] == ws.stats.duplicates and state["gaps"] == gaps
        assert d.engine.error is None
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []
