"""The Kalshi session, feed and executor against a simulator over loopback, with the runtime's real
order tracker and gate (`TrackedCtx`): shared by the simulator-backed executor tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.rest import RetryPolicy
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.ws import Backoff

from mmframe.api import BookSide, BookSnapshotReceived, CreateOrder, LiveClock
from tests.kalshi.tracked import TrackedCtx

RAIN, FED = "SIM-RAIN-NYC", "SIM-FED-DEC"


@dataclass
class Pipeline:
    sim: Any
    session: KalshiSession
    feed: KalshiFeed
    executor: KalshiExecutor
    ctx: TrackedCtx

    async def fault(self, action: str, **params: Any) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(self.sim.admin_url + "/faults", json={"action": action, **params})
            response.raise_for_status()

    async def fault_plan(self, steps: list[dict[str, Any]]) -> None:
        """Faults the simulator fires itself, ``at_seconds`` from now."""
        async with httpx.AsyncClient() as client:
            response = await client.post(self.sim.admin_url + "/faults/plan", json={"faults": steps})
            response.raise_for_status()

    async def truth_resting(self) -> list[dict[str, Any]]:
        """Our orders resting on the venue, by the simulator's ground truth (``GET /_sim/truth``)."""
        async with httpx.AsyncClient() as client:
            response = await client.get(self.sim.admin_url + "/truth")
            response.raise_for_status()
            truth = response.json()
        return [o for o in truth["resting_orders"] if o["user_id"] in truth["accounts"]]

    async def execute(self, actions: list[Any]) -> None:
        """Hand ``actions`` to the executor as the runtime does (recorded in the tracker first)."""
        await self.executor.execute(self.ctx.submitted(actions))

    def execute_nowait(self, actions: list[Any]) -> None:
        self.executor.execute_nowait(self.ctx.submitted(actions))

    def resting_on_venue(self) -> list[Any]:
        return [o for o in self.sim.exchange.resting_orders(None) if o.user_id in self.sim.server.accounts]


@asynccontextmanager
async def open_pipeline(
    *, fast_order_path: bool = True, executor_options: dict[str, Any] | None = None
) -> AsyncIterator[Pipeline]:
    async with start_simulator(seed=7) as sim:
        key_id, pem = sim.create_api_key()
        session = KalshiSession(
            sim.rest_url,
            sim.ws_url,
            KalshiCredentials.from_pem(key_id, pem),
            LiveClock(),
            retry=RetryPolicy(attempts=4, base_s=0.01, max_s=0.05),
            reconnect_backoff=Backoff(base_s=0.01, max_s=0.1),
            heartbeat_s=5.0,
            fast_order_path=fast_order_path,
        )
        await session.open()
        ctx = TrackedCtx((RAIN, FED))
        feed = KalshiFeed(session)
        executor = KalshiExecutor(session, **{"contracts_limit": 100_000, **(executor_options or {})})
        feed_task = asyncio.create_task(feed.run(ctx))
        await executor.start(ctx)
        await ctx.wait_for(lambda: {e.ticker for e in ctx.of(BookSnapshotReceived)} == {RAIN, FED})
        if fast_order_path and session.rest.fast is not None:
            await session.rest.open_fast_path()
        try:
            yield Pipeline(sim, session, feed, executor, ctx)
        finally:
            feed_task.cancel()
            await executor.stop()
            await session.close()


def start_simulator(**kwargs: Any) -> Any:
    from mmframe_sim.serve import start_simulator as start

    return start(**kwargs)


def bid(cid: str, price: int, size: int = 500, ticker: str = RAIN, **kw: Any) -> CreateOrder:
    return CreateOrder(client_order_id=cid, ticker=ticker, side=BookSide.BID, price=price, size=size, **kw)
