"""``venue: sim``: the simulator (this plugin) started by the ``kalshi`` venue's open and stopped by its
close, over real loopback sockets; built through the registry as a pipeline builds it."""

from __future__ import annotations

import logging

import httpx
import pytest

from mmframe.api import ComponentContext, Kind, LiveClock
from mmframe.plugins import load_registry

pytestmark = pytest.mark.anyio


async def test_sim_venue_when_opened_serves_the_simulator_and_when_closed_stops_it() -> None:
    ctx = ComponentContext(pipeline="p", markets=("SIM-RAIN-NYC",), clock=LiveClock(), logger=logging.getLogger("t"))
    venue = load_registry().get(Kind.VENUE, "sim").factory({"seed": 7, "balance": 250}, ctx)
    assert "simulator" not in venue.describe()  # nothing runs before open

    await venue.open()
    try:
        described = venue.describe()
        admin = described["simulator"]["admin_url"]
        assert described["venue"] == "sim" and described["rest_url"].startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            truth = (await client.get(admin + "/truth")).json()
        (account,) = truth["accounts"]
        assert truth["balances"][account]["balance"] == 25_000  # $250.00 in cents, Kalshi's balance field
        assert venue.markets() == ("SIM-RAIN-NYC",)
    finally:
        await venue.close()

    assert "simulator" not in venue.describe()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(admin + "/truth")
