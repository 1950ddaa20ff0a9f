"""Cancels of orders that are already gone (cancelled or filled behind the executor's back): a gone
order counts as cancelled, never as a rejected cancel, and a batch the venue refuses as a whole
(the simulator's ``strict_batch_cancel`` fault, HTTP 400 ``invalid_order``) falls back to one cancel
per order. Judged by the simulator's ground truth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mmframe_kalshi.executor.cancels import Cancelled, cancel_batch
from mmframe_kalshi.rest import RetryPolicy

from mmframe.api import CancelOrder, OrderAccepted, OrderCanceled, OrderRejected
from tests.kalshi.sim_pipeline import FED, RAIN, Pipeline, bid, open_pipeline

pytestmark = pytest.mark.anyio

ORDERS = 6


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    async with open_pipeline(executor_options={"sweep_backoff": RetryPolicy(base_s=0.02, max_s=0.2)}) as opened:
        yield opened


def _cids() -> list[str]:
    return [f"g-{n}" for n in range(ORDERS)]


def _ticker(n: int) -> str:
    return (RAIN, FED)[n % 2]


async def _rest(p: Pipeline) -> None:
    await p.execute([bid(cid, 300 + 100 * (n % 4), ticker=_ticker(n)) for n, cid in enumerate(_cids())])
    await p.ctx.wait_for(lambda: len(p.ctx.of(OrderAccepted)) == ORDERS)
    assert len(await p.truth_resting()) == ORDERS


def _cancel_behind_its_back(p: Pipeline, *cids: str) -> None:
    """Cancel on the venue directly, synchronously: the executor's account stream has not yet told
    the tracker, which still holds these orders live."""
    user_id = p.sim.server.accounts[0]
    for cid in cids:
        order = p.ctx.orders.get(cid)
        assert order is not None and order.order_id is not None
        p.sim.exchange.cancel_order(user_id, order.order_id)


def _cancel_rejects(p: Pipeline) -> list[tuple[str, str]]:
    return [(e.client_order_id, e.code) for e in p.ctx.of(OrderRejected) if e.action == "cancel"]


@pytest.mark.parametrize("strict", [False, True], ids=["per-item-errors", "batch-refused-whole"])
async def test_cancelling_orders_some_already_gone_cancels_the_rest_and_rejects_none(
    pipeline: Pipeline, strict: bool
) -> None:
    p = pipeline
    await _rest(p)
    if strict:
        await p.fault("strict_batch_cancel")
    _cancel_behind_its_back(p, "g-1", "g-4")
    p.execute_nowait([CancelOrder(client_order_id=cid, ticker=_ticker(n)) for n, cid in enumerate(_cids())])
    await p.executor.flush()

    assert await p.truth_resting() == []  # the batch's other orders were cancelled, not left behind
    assert _cancel_rejects(p) == []
    await p.ctx.wait_for(lambda: not p.ctx.orders.live())
    assert set(_cids()) <= {e.client_order_id for e in p.ctx.of(OrderCanceled)}


async def test_cancel_batch_reports_gone_orders_as_gone_and_cancels_the_rest_when_refused_whole(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    await _rest(p)
    await p.fault("strict_batch_cancel")
    _cancel_behind_its_back(p, "g-0")
    orders = [p.ctx.orders.get(cid) for cid in _cids()]
    pairs = [(o.order_id or "", o.ticker) for o in orders if o is not None]

    outcomes = await cancel_batch(p.session.rest, pairs)

    assert [o.outcome for o in outcomes] == [Cancelled.GONE] + [Cancelled.CANCELED] * (ORDERS - 1)
    assert outcomes[0].reason == "not resting (canceled)"
    assert await p.truth_resting() == []

