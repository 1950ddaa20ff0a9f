"""Market selection against the simulator's market list: series, events, glob patterns and filters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.selection import pattern_series, resolve_markets
from mmframe_kalshi.session import KalshiSession

from mmframe.api import LiveClock, MarketSelection
from mmframe.pipeline.model import MarketFilters
from tests.e2e.harness import MARKETS, Admin, daemon, new_account, until, until_async

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rest(sim: Any) -> AsyncIterator[Any]:
    key_id, pem = sim.create_api_key(tier="prime")
    session = KalshiSession(sim.rest_url, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), LiveClock())
    try:
        yield session.rest
    finally:
        await session.close()


async def _resolve(rest: Any, **selection: Any) -> list[str]:
    return await resolve_markets(rest, MarketSelection(**selection), LiveClock().now_ns())


async def test_selection_when_series_given_resolves_their_open_markets_sorted(rest: Any) -> None:
    assert await _resolve(rest, series=("SIM-RAIN", "SIM-FED")) == ["SIM-FED-DEC", "SIM-RAIN-NYC"]


async def test_selection_when_tickers_and_events_given_keeps_tickers_first(rest: Any) -> None:
    got = await _resolve(rest, tickers=("SIM-ELECT-A",), events=("SIM-BTC-26DEC", "SIM-ELECT-26"))
    assert got == ["SIM-ELECT-A", "SIM-BTC-100K"]


async def test_selection_when_glob_patterns_given_matches_tickers(rest: Any) -> None:
    assert await _resolve(rest, patterns=("SIM-RAIN-*",)) == ["SIM-RAIN-NYC"]
    assert await _resolve(rest, patterns=("SIM-*-A", "*-100K")) == ["SIM-BTC-100K", "SIM-ELECT-A"]


async def test_selection_when_filters_exclude_everything_resolves_nothing(rest: Any) -> None:
    every = {"series": ("SIM-RAIN", "SIM-FED", "SIM-BTC", "SIM-ELECT")}
    assert sorted(await _resolve(rest, **every)) == sorted(MARKETS)
    for filters in (
        MarketFilters(max_spread=100),  # $0.01: the simulated books are wider
        MarketFilters(min_close_minutes=100_000),
        MarketFilters(max_close_hours=1),  # the standard markets close in 8 hours
        MarketFilters(min_volume=10**9),
        MarketFilters(status=("closed",)),
    ):
        assert await _resolve(rest, filters=filters, **every) == [], filters


async def test_selection_when_market_closes_status_filter_follows_it(sim: Any, rest: Any) -> None:
    await Admin(sim).fault("close_market", ticker="SIM-RAIN-NYC")
    series = ("SIM-RAIN", "SIM-FED")
    assert await _resolve(rest, series=series) == ["SIM-FED-DEC"]
    assert await _resolve(rest, series=series, filters=MarketFilters(status=("closed",))) == ["SIM-RAIN-NYC"]


def test_pattern_series_when_pattern_names_series_returns_it() -> None:
    assert pattern_series("KXHIGHNY-*") == "KXHIGHNY"
    assert pattern_series("KX*-T60") is None
    assert pattern_series("*") is None


async def test_daemon_when_markets_given_by_series_quotes_exactly_those(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    overrides = ["markets={series: [SIM-RAIN, SIM-FED]}"]
    async with daemon(sim, account, overrides=overrides) as d:
        assert d.engine.markets == ("SIM-FED-DEC", "SIM-RAIN-NYC")

        async def quoted() -> bool:
            return {o["ticker"] for o in await admin.resting(account.user_id)} == {"SIM-FED-DEC", "SIM-RAIN-NYC"}

        await until_async(quoted, what="quotes in the selected markets")
    assert d.task.result() == 0


async def test_daemon_when_selection_refreshes_quotes_joiners_and_drains_leavers(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    await admin.fault("deactivate_market", ticker="SIM-BTC-100K")  # not open: outside the selection
    overrides = ["markets={series: [SIM-RAIN, SIM-BTC], filters: {status: open, refresh_seconds: 0.5}}"]

    async def quoted() -> set[str]:
        return {o["ticker"] for o in await admin.resting(account.user_id)}

    async with daemon(sim, account, overrides=overrides) as d:
        assert d.engine.markets == ("SIM-RAIN-NYC",)
        await until_async(lambda: _equals(quoted, {"SIM-RAIN-NYC"}), what="quotes in SIM-RAIN-NYC")
        await admin.fault("activate_market", ticker="SIM-BTC-100K")
        await until_async(lambda: _equals(quoted, {"SIM-RAIN-NYC", "SIM-BTC-100K"}), what="the joiner quoted")
        assert set(d.engine.markets) == {"SIM-RAIN-NYC", "SIM-BTC-100K"}
        await admin.fault("close_market", ticker="SIM-RAIN-NYC")
        await until_async(lambda: _equals(quoted, {"SIM-BTC-100K"}), what="the leaver drained")
        await until(lambda: d.engine.markets == ("SIM-BTC-100K",), what="the leaver dropped")
        # A drained market is never quoted again, even when something marks it dirty.
        d.engine.core.mark_dirty("SIM-RAIN-NYC")
        d.engine.resume("wake the quote loop")
        await asyncio.sleep(0.3)
        assert await quoted() == {"SIM-BTC-100K"}
        assert not [o for o in d.working() if o.ticker == "SIM-RAIN-NYC"]
    assert d.task.result() == 0


async def _equals(get: Any, want: set[str]) -> bool:
    return bool(await get() == want)
