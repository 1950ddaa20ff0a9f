"""KalshiExecutor against the tiny Kalshi-shaped app, for fault shapes the simulator cannot produce:
a create that was placed but whose answer and every read of orders failed for a while."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.rest import RetryPolicy
from mmframe_kalshi.session import KalshiSession

from mmframe.api import BookSide, CreateOrder, LiveClock, OrderAccepted, OrderRejected
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.fake_kalshi import FakeKalshi, Fault
from tests.kalshi.tracked import TrackedCtx

pytestmark = pytest.mark.anyio


Ctx = TrackedCtx


@pytest.fixture
async def executor(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[FakeKalshi, KalshiExecutor, Ctx]]:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id="k")
    async with serve_asgi(fake.app()) as url:
        session = KalshiSession(
            url + "/trade-api/v2",
            url.replace("http", "ws") + "/trade-api/ws/v2",  # no WebSocket here: it just keeps retrying
            KalshiCredentials("k", rsa_key),
            LiveClock(),
            retry=RetryPolicy(attempts=2, base_s=0.01, max_s=0.02),
            load_limits=False,
        )
        await session.open()
        ctx = Ctx()
        ex = KalshiExecutor(session)
        await ex.start(ctx)
        try:
            yield fake, ex, ctx
        finally:
            await ex.stop()
            await session.close()


async def test_executor_when_create_placed_but_unknown_settles_later_as_accepted(executor: Any) -> None:
    fake, ex, ctx = executor
    fake.faults.append(Fault("POST", "/portfolio/events/orders/batched", status=500, after=True, times=2))
    fake.faults.append(Fault("GET", "/portfolio/orders", status=503, times=2))
    action = CreateOrder(client_order_id="u-1", ticker="T-1", side=BookSide.BID, price=4000, size=100)

    await ex.execute(ctx.submitted([action]))
    await ex.flush()

    assert ex.describe()["unknown_outcomes"] == 1
    assert not [e for e in ctx.events if isinstance(e, OrderAccepted | OrderRejected)]
    await asyncio.wait_for(_until(ctx, lambda: any(isinstance(e, OrderAccepted) for e in ctx.events)), 5)
    (accepted,) = [e for e in ctx.events if isinstance(e, OrderAccepted)]
    assert (accepted.client_order_id, accepted.order_id) == ("u-1", "ord-1")
    assert len(fake.orders) == 1
    assert ex.describe()["unknown_outcomes"] == 0


async def test_executor_when_batch_item_rejected_reports_each_item(executor: Any) -> None:
    fake, ex, ctx = executor
    body = {
        "orders": [
            {"order_id": "o-a", "client_order_id": "a", "fill_count": "0.00", "remaining_count": "1.00"},
            {
                "client_order_id": "b",
                "error": {"code": "insufficient_balance", "message": "insufficient balance"},
            },
        ]
    }
    fake.faults.append(Fault("POST", "/portfolio/events/orders/batched", status=201, body=body))
    actions = [
        CreateOrder(client_order_id=cid, ticker="T-1", side=BookSide.BID, price=4000, size=100)
        for cid in "ab"
    ]
    await ex.execute(ctx.submitted(actions))
    await ex.flush()
    accepted = [e for e in ctx.events if isinstance(e, OrderAccepted)]
    rejected = [e for e in ctx.events if isinstance(e, OrderRejected)]
    assert [(e.client_order_id, e.order_id) for e in accepted] == [("a", "o-a")]
    assert [(e.client_order_id, e.code) for e in rejected] == [("b", "insufficient_balance")]


async def _until(ctx: Ctx, predicate: Any) -> None:
    while not predicate():
        ctx.changed.clear()
        await ctx.changed.wait()


async def test_executor_when_batch_answer_unreadable_accepts_the_placed_order_never_rejects(executor: Any) -> None:
    fake, ex, ctx = executor
    # Kalshi placed the order, but its answer carries a value we cannot read (7 decimals).
    answer = {"orders": [{"order_id": "ord-1", "client_order_id": "m-1", "fill_count": "0.00",
                          "remaining_count": "1.00", "average_fee_paid": "0.0174861"}]}
    fake.faults.append(Fault("POST", "/portfolio/events/orders/batched", status=201, body=answer, after=True))
    action = CreateOrder(client_order_id="m-1", ticker="T-1", side=BookSide.BID, price=4000, size=100)

    await ex.execute(ctx.submitted([action]))
    await ex.flush()

    assert not [e for e in ctx.events if isinstance(e, OrderRejected)]
    (accepted,) = [e for e in ctx.events if isinstance(e, OrderAccepted)]
    assert (accepted.client_order_id, accepted.order_id, accepted.remaining) == ("m-1", "ord-1", 100)
    assert len(fake.orders) == 1
