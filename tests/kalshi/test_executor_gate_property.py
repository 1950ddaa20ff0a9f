"""The gate is absolute, as the venue sees it: over random interleavings of pause, halt and resume
with creates, amends and cancels queued in the executor, in flight and acknowledged, no create or
amend reaches the simulator after the gate closed (until it reopens), and after the final pause and
cancel-all nothing of ours rests.

The judge is the venue side: an ASGI wrapper in front of the simulator's REST API records every
request as it arrives (with the client ids in its body), and the simulator's own order records give
each order's creation time. Before the gate closes (or opens) the test waits until every request the
client wrote has arrived, so a request arriving after the close was written after it. A create
written before the close may still be processed after it (a ``delay`` fault holds requests at the
venue): that is the in-flight case, allowed, and such an order must be cancelled once acknowledged.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.rest import RetryPolicy
from mmframe_kalshi.session import KalshiSession

from mmframe.api import AmendOrder, BookSide, CancelOrder, CreateOrder, OrderStatus
from mmframe.runtime.gate import GateState
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.tracked import TrackedCtx

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator

MARKETS = ("SIM-RAIN-NYC", "SIM-FED-DEC")
API = "/trade-api/v2"


class Arrivals:
    """ASGI middleware in front of the simulator: every REST request, in the order it arrives,
    as ``(method, path, client ids named in its body)``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log: list[tuple[str, str, tuple[str, ...]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"][len(API):]
        index = len(self.log)
        self.log.append((method, path, ()))
        chunks: list[bytes] = []

        async def receive_recorded() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.log[index] = (method, path, _client_ids(b"".join(chunks)))
            return message

        await self.app(scope, receive_recorded, send)


def _client_ids(body: bytes) -> tuple[str, ...]:
    if not body.strip():
        return ()
    data = orjson.loads(body)
    items = data.get("orders", [data]) if isinstance(data, dict) else []
    ids = []
    for item in items:
        if isinstance(item, dict):
            ids += [str(item[k]) for k in ("client_order_id", "updated_client_order_id") if item.get(k)]
    return tuple(ids)


def is_write_of_order(method: str, path: str) -> bool:
    """A create (single or batch) or an amend."""
    return method == "POST" and (
        path in ("/portfolio/events/orders", "/portfolio/events/orders/batched") or path.endswith("/amend")
    )


@dataclass
class Closed:
    """One span of a closed gate: arrival indexes and exchange times it began and ended at."""

    start: int
    start_ns: int
    end: int | None = None
    end_ns: int | None = None


@dataclass
class Harness:
    sim: Any
    arrivals: Arrivals
    session: KalshiSession
    executor: KalshiExecutor
    ctx: TrackedCtx
    closed: list[Closed] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    async def synced(self) -> None:
        """Wait until every request the client wrote has arrived at the venue. The last check runs in
        this coroutine's own step, so the caller acts on it before anything else can write (no
        ``wait_for``: its task would hand back control a loop turn after the check)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while len(self.arrivals.log) < self.session.rest.requests_sent:
            if loop.time() > deadline:
                raise TimeoutError("requests written but not arrived at the venue after 5 s")
            await asyncio.sleep(0.001)

    def send(self, actions: list[Any]) -> None:
        if actions:
            self.executor.execute_nowait(self.ctx.submitted(actions))

    def live(self, *, amendable: bool = False) -> list[Any]:
        orders = [o for o in self.ctx.orders.live() if o.status is not OrderStatus.PENDING_CANCEL]
        if amendable:
            orders = [o for o in orders if o.order_id is not None and not o.pending_change]
        return orders

    async def close(self, state: GateState) -> None:
        await self.synced()
        if self.ctx.gate.is_open:
            self.closed.append(Closed(len(self.arrivals.log), self.sim.exchange.now_ns()))
        self.ctx.gate.close(state, "test")
        # What the runtime does on a pause or halt: cancel every live order (those whose create is
        # in flight are cancelled once acknowledged).
        self.send([CancelOrder(client_order_id=o.client_order_id, ticker=o.ticker) for o in self.live()])

    async def resume(self) -> None:
        await self.synced()
        if not self.ctx.gate.is_open:
            self.closed[-1].end = len(self.arrivals.log)
            self.closed[-1].end_ns = self.sim.exchange.now_ns()
        self.ctx.gate.open()

    async def step(self, step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "create":
            ticker = MARKETS[step[1]]
            self.send([
                CreateOrder(client_order_id=f"p-{next(self.ids)}", ticker=ticker, side=BookSide.BID,
                            price=200 + 100 * (n % 6), size=100)
                for n in range(step[2])
            ])
        elif kind == "amend":
            orders = self.live(amendable=True)
            if orders:
                order = orders[step[1] % len(orders)]
                price = order.price + 100 if order.price < 800 else order.price - 100
                self.send([AmendOrder(client_order_id=order.client_order_id, new_client_order_id=f"p-{next(self.ids)}",
                                      ticker=order.ticker, side=order.side, price=price, size=order.remaining)])
        elif kind == "cancel":
            orders = self.live()
            if orders:
                order = orders[step[1] % len(orders)]
                self.send([CancelOrder(client_order_id=order.client_order_id, ticker=order.ticker)])
        elif kind == "pause":
            await self.close(GateState.PAUSED)
        elif kind == "halt":
            await self.close(GateState.HALTED)
        elif kind == "resume":
            await self.resume()
        elif kind == "yield":
            for _ in range(step[1]):
                await asyncio.sleep(0)
        elif kind == "settle":
            await asyncio.wait_for(self.executor.flush(), 10)
        elif kind == "delay":
            await self.fault("delay", ms=step[1])

    async def fault(self, action: str, **params: Any) -> None:
        async with httpx.AsyncClient() as client:
            (await client.post(self.sim.admin_url + "/faults", json={"action": action, **params})).raise_for_status()

    async def truth(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.get(self.sim.admin_url + "/truth")
            response.raise_for_status()
            return dict(response.json())


async def with_harness(run: Callable[[Harness], Awaitable[None]]) -> None:
    async with start_simulator(seed=7) as sim:
        arrivals = Arrivals(sim.server.app)
        async with serve_asgi(arrivals) as front:
            key_id, pem = sim.create_api_key()
            session = KalshiSession(
                front + API, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), TrackedCtx().clock,
                retry=RetryPolicy(attempts=4, base_s=0.005, max_s=0.02), heartbeat_s=5.0,
            )
            await session.open()
            ctx = TrackedCtx(MARKETS)
            executor = KalshiExecutor(session, max_in_flight=2, sweep_backoff=RetryPolicy(base_s=0.01, max_s=0.05))
            try:
                await executor.start(ctx)
                await run(Harness(sim, arrivals, session, executor, ctx))
            finally:
                await executor.stop()
                await session.close()


STEP = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("amend"), st.integers(0, 9)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(st.just("pause")),
    st.tuples(st.just("halt")),
    st.tuples(st.just("resume")),
    st.tuples(st.just("yield"), st.integers(0, 3)),
    st.tuples(st.just("settle")),
    st.tuples(st.just("delay"), st.sampled_from([0, 30])),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=14))
def test_gate_property_when_pause_halt_resume_interleave_no_create_or_amend_reaches_the_venue_while_closed(
    steps: list[tuple[Any, ...]],
) -> None:
    async def run(h: Harness) -> None:
        for step in steps:
            await h.step(step)
        await h.close(GateState.PAUSED)  # the end of every run: everything pulled
        await h.fault("delay", ms=0)
        await asyncio.wait_for(h.executor.flush(), 10)
        await asyncio.wait_for(h.executor.cancel_all(), 20)
        await h.synced()
        log = h.arrivals.log
        account = h.sim.server.accounts[0]
        venue_orders = h.sim.exchange.orders(account)
        for span in h.closed:
            end = len(log) if span.end is None else span.end
            written = [entry for entry in log[span.start:end] if is_write_of_order(entry[0], entry[1])]
            assert written == [], f"created or amended while the gate was closed: {written}"
            # The simulator's own records: an order it created while the gate was closed came from
            # a request that had arrived before the close (in flight then).
            arrived_before = {cid for _, _, cids in log[:span.start] for cid in cids}
            created = [o.client_order_id for o in venue_orders
                       if o.created_ns >= span.start_ns and (span.end_ns is None or o.created_ns < span.end_ns)]
            assert set(created) <= arrived_before, f"created on the venue after the close: {created}"
        truth = await h.truth()
        assert [o for o in truth["resting_orders"] if o["user_id"] == account] == []
        assert [o for o in h.sim.exchange.resting_orders(None) if o.user_id == account] == []

    asyncio.run(with_harness(run))
