"""The daemon under the simulator's fault injection: WebSocket drops and sequence gaps, 429 bursts,
5xx on creates that were in fact placed, and the order-group breaker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MARKETS, Admin, Daemon, daemon, new_account, until, until_async

pytestmark = pytest.mark.anyio


async def _quiet_books(sim: Any, admin: Admin, d: Daemon, user_id: str) -> None:
    """Freeze the simulator (no synthetic traders), pull our quotes, and wait until nothing moves."""
    async with _client() as client:
        (await client.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
    d.engine.pause("compare books")
    await until_async(lambda: _no_resting(admin, user_id), what="our orders pulled")


async def _no_resting(admin: Admin, user_id: str) -> bool:
    return not await admin.resting(user_id)


def _client() -> Any:
    import httpx

    return httpx.AsyncClient()


async def test_daemon_when_websocket_dropped_mid_stream_rebuilds_books_and_keeps_quoting(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
        session = d.kalshi().session
        connects = session.ws.stats.connects
        await admin.fault("drop_ws")
        await until(lambda: session.ws.stats.connects > connects and session.ws.connected, what="a reconnect")
        assert d.event_count("BookInvalidated") >= len(MARKETS)
        # Quoting resumes on the rebuilt books...
        actions = sum(d.engine.stats.actions.values())
        await until(lambda: sum(d.engine.stats.actions.values()) > actions, what="quoting after the reconnect")
        # ...and each book equals the venue's once the market is quiet.
        await _quiet_books(sim, admin, d, account.user_id)
        await until_async(lambda: _books_match_empty(sim, d), what="books equal to the simulator's")
        assert d.engine.error is None
    assert d.task.result() == 0


async def _books_match_empty(sim: Any, d: Daemon) -> bool:
    return not d.books_differing(sim)


async def test_daemon_when_sequence_gap_takes_fresh_snapshot_and_book_matches_venue(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
        ws = d.kalshi().session.ws
        gaps, snapshots = ws.stats.gaps, d.event_count("BookSnapshotReceived")
        await admin.fault("skip_seq", count=1)
        await until(lambda: ws.stats.gaps > gaps, what="the client to see the gap")
        await until(lambda: d.event_count("BookSnapshotReceived") > snapshots, what="a fresh snapshot")
        assert d.event_count("BookInvalidated") >= 1
        assert ws.stats.connects == 1  # recovered on the same connection
        await _quiet_books(sim, admin, d, account.user_id)
        await until_async(lambda: _books_match_empty(sim, d), what="books equal to the simulator's")
        assert d.engine.error is None
    assert d.task.result() == 0


async def test_daemon_when_429_burst_survives_and_keeps_quoting(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
        rest = d.kalshi().session.rest
        await admin.fault("burst_429", count=25)
        await until(lambda: rest.rate_limited >= 25, timeout=15, what="the 429 burst to be used up")
        # After the burst the daemon still quotes every market and is not in error.
        d.engine.core.mark_all_dirty()
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes after the burst")
        assert d.engine.error is None
        assert d.engine.core.state == "active"
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []


async def test_daemon_when_create_answers_500_after_placing_never_duplicates_orders(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
        rest = d.kalshi().session.rest
        sent = rest.requests_sent
        await admin.fault("fail_writes", share=1.0, placed=True)
        d.engine.core.mark_all_dirty()
        await until(lambda: rest.requests_sent > sent + 10, what="writes under the fault")
        await admin.fault("clear")
        # Every order the venue placed has its own client_order_id and is known to the daemon.
        orders = await rest.all_orders()
        cids = [o.client_order_id for o in orders]
        assert len(cids) == len(set(cids)), "an order was placed twice"
        await until_async(lambda: _venue_orders_tracked(admin, d, account.user_id), what="every resting order tracked")
        assert d.engine.error is None
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []


async def _venue_orders_tracked(admin: Admin, d: Daemon, user_id: str) -> bool:
    resting = {o["client_order_id"] for o in await admin.resting(user_id)}
    tracked = {o.client_order_id for o in d.working()}
    return resting <= tracked


async def test_daemon_when_order_group_triggers_halts_quoting_and_pulls_orders(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    # A breaker of one contract: the first fill of a 10-contract quote trips it.
    overrides = ["venue.kalshi.order_group_contracts_limit=1"]
    async with daemon(sim, account, overrides=overrides) as d:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
        await until(lambda: d.engine.core.state == "halted", timeout=15, what="the order group to trigger")
        assert "order group" in d.engine.core.halt_reason
        assert d.event_count("OrderGroupTriggered") == 1
        await until_async(lambda: _no_resting(admin, account.user_id), what="every order pulled")
        creates = d.engine.stats.actions["create"]
        d.engine.core.mark_all_dirty()
        await _settle(0.5)
        assert d.engine.stats.actions["create"] == creates, "quoted while halted"
        assert await admin.resting(account.user_id) == []
    assert d.task.result() == 0


async def _settle(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
