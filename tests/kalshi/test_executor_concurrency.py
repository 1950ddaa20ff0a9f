"""KalshiExecutor sends each request as its own task: no request waits for another's round trip,
and what the executor already knows is not reported as a failure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.session import KalshiSession

from mmframe.api import (
    AmendOrder,
    BookSide,
    CancelOrder,
    CreateOrder,
    LiveClock,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderRejected,
)
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.fake_kalshi import FakeKalshi, Fault
from tests.kalshi.test_executor import Ctx, _until, executor  # noqa: F401  (the fixture)
from tests.kalshi.test_sim_integration import RAIN, _bid, pipeline  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

BATCH = "/portfolio/events/orders/batched"


def _create(cid: str) -> CreateOrder:
    return CreateOrder(client_order_id=cid, ticker="T-1", side=BookSide.BID, price=4000, size=100)


async def test_executor_when_a_create_is_slow_a_later_cancel_is_not_held_behind_it(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    await ex.execute(ctx.submitted([_create("a")]))
    await ex.flush()
    slow = {"orders": [{"order_id": "o-b", "client_order_id": "b", "fill_count": "0.00", "remaining_count": "1.00"}]}
    fake.faults.append(Fault("POST", BATCH, status=201, body=slow, delay_s=2.0))

    await ex.execute(ctx.submitted([_create("b")]))
    await asyncio.sleep(0.05)  # the create of b is on the wire
    await ex.execute(ctx.submitted([CancelOrder(client_order_id="a", ticker="T-1")]))
    await asyncio.wait_for(_until(ctx, lambda: any(isinstance(e, OrderCanceled) for e in ctx.events)), 5)

    assert not [e for e in ctx.events if isinstance(e, OrderAccepted) and e.client_order_id == "b"]
    await ex.flush()
    accepted = [e.client_order_id for e in ctx.events if isinstance(e, OrderAccepted)]
    assert accepted == ["a", "b"]


async def test_executor_when_cancel_for_closed_order_reports_canceled_not_rejected(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    await ex.execute(ctx.submitted([_create("a")]))
    await ex.flush()
    await ex.execute(ctx.submitted([CancelOrder(client_order_id="a", ticker="T-1")]))
    await ex.flush()
    requests = len(fake.log)

    await ex.execute(ctx.submitted([CancelOrder(client_order_id="a", ticker="T-1")]))
    await ex.flush()

    assert not [e for e in ctx.events if isinstance(e, OrderRejected)]
    assert [e.client_order_id for e in ctx.events if isinstance(e, OrderCanceled)] == ["a", "a"]
    assert len(fake.log) == requests  # nothing sent for it


async def test_executor_when_cancel_all_runs_waits_for_requests_in_flight(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    slow = {"orders": [{"order_id": "ord-9", "client_order_id": "s", "fill_count": "0.00", "remaining_count": "1.00"}]}
    fake.faults.append(Fault("POST", BATCH, status=201, body=slow, delay_s=0.3))
    await ex.execute(ctx.submitted([_create("s")]))
    await asyncio.sleep(0.05)  # the create is on the wire

    await ex.cancel_all()

    assert [e.client_order_id for e in ctx.events if isinstance(e, OrderAccepted)] == ["s"]
    assert ex.describe()["in_flight"] == 0


async def test_executor_when_every_slot_is_busy_queued_creates_go_out_in_one_batch(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id="k")
    async with serve_asgi(fake.app()) as url:
        session = KalshiSession(
            url + "/trade-api/v2",
            url.replace("http", "ws") + "/trade-api/ws/v2",
            KalshiCredentials("k", rsa_key),
            LiveClock(),
            load_limits=False,
        )
        await session.open()
        ctx = Ctx()
        ex = KalshiExecutor(session, max_in_flight=1)
        await ex.start(ctx)
        try:
            slow = {"orders": [{"order_id": "o-a", "client_order_id": "a", "fill_count": "0.00", "remaining_count": "1.00"}]}
            fake.faults.append(Fault("POST", BATCH, status=201, body=slow, delay_s=0.3))
            await ex.execute(ctx.submitted([_create("a")]))
            await asyncio.sleep(0.05)  # a's request holds the only slot
            await ex.execute(ctx.submitted([_create("b")]))
            await ex.execute(ctx.submitted([_create("c")]))
            await ex.flush()
        finally:
            await ex.stop()
            await session.close()
    creates = [entry for entry in fake.log if entry[:2] == ("POST", BATCH)]
    assert len(creates) == 2
    assert sorted(e.client_order_id for e in ctx.events if isinstance(e, OrderAccepted)) == ["a", "b", "c"]


async def test_executor_when_cancel_names_the_id_before_an_amend_cancels_the_amended_order(
    pipeline: Any,  # noqa: F811
) -> None:
    p = pipeline
    await p.execute([_bid("a-1", 500, size=1000)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    amend = AmendOrder(
        client_order_id="a-1", new_client_order_id="a-2", ticker=RAIN, side=BookSide.BID, price=600, size=800
    )
    await p.execute([amend])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAmended))

    await p.execute([CancelOrder(client_order_id="a-1", ticker=RAIN)])  # queued before the answer
    await p.executor.flush()

    assert not p.ctx.of(OrderRejected)
    assert [e.client_order_id for e in p.ctx.of(OrderCanceled)] == ["a-2"]
    assert p.resting_on_venue() == []
