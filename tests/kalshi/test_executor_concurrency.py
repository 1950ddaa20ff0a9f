"""KalshiExecutor sends each request as its own task: no request waits for another's round trip,
and what the executor already knows is not reported as a failure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mmframe.api import (
    BookSide,
    CancelOrder,
    CreateOrder,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
)
from tests.kalshi.fake_kalshi import Fault
from tests.kalshi.test_executor import _until, executor  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

BATCH = "/portfolio/events/orders/batched"


def _create(cid: str) -> CreateOrder:
    return CreateOrder(client_order_id=cid, ticker="T-1", side=BookSide.BID, price=4000, size=100)


async def test_executor_when_a_create_is_slow_a_later_cancel_is_not_held_behind_it(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    await ex.execute([_create("a")])
    await ex.flush()
    slow = {"orders": [{"order_id": "o-b", "client_order_id": "b", "fill_count": "0.00", "remaining_count": "1.00"}]}
    fake.faults.append(Fault("POST", BATCH, status=201, body=slow, delay_s=2.0))

    await ex.execute([_create("b")])
    await asyncio.sleep(0.05)  # the create of b is on the wire
    await ex.execute([CancelOrder(client_order_id="a", ticker="T-1")])
    await asyncio.wait_for(_until(ctx, lambda: any(isinstance(e, OrderCanceled) for e in ctx.events)), 5)

    assert not [e for e in ctx.events if isinstance(e, OrderAccepted) and e.client_order_id == "b"]
    await ex.flush()
    accepted = [e.client_order_id for e in ctx.events if isinstance(e, OrderAccepted)]
    assert accepted == ["a", "b"]


async def test_executor_when_cancel_for_closed_order_reports_canceled_not_rejected(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    await ex.execute([_create("a")])
    await ex.flush()
    await ex.execute([CancelOrder(client_order_id="a", ticker="T-1")])
    await ex.flush()
    requests = len(fake.log)

    await ex.execute([CancelOrder(client_order_id="a", ticker="T-1")])
    await ex.flush()

    assert not [e for e in ctx.events if isinstance(e, OrderRejected)]
    assert [e.client_order_id for e in ctx.events if isinstance(e, OrderCanceled)] == ["a", "a"]
    assert len(fake.log) == requests  # nothing sent for it


async def test_executor_when_cancel_all_runs_waits_for_requests_in_flight(executor: Any) -> None:  # noqa: F811
    fake, ex, ctx = executor
    slow = {"orders": [{"order_id": "ord-9", "client_order_id": "s", "fill_count": "0.00", "remaining_count": "1.00"}]}
    fake.faults.append(Fault("POST", BATCH, status=201, body=slow, delay_s=0.3))
    await ex.execute([_create("s")])
    await asyncio.sleep(0.05)  # the create is on the wire

    await ex.cancel_all()

    assert [e.client_order_id for e in ctx.events if isinstance(e, OrderAccepted)] == ["s"]
    assert ex.describe()["in_flight"] == 0
