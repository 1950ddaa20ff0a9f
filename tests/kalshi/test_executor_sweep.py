"""`cancel_all` never gives up early: through a burst of 429s, through writes that all fail for a
while, it keeps going until the simulator's ground truth shows nothing of ours resting; with the
venue gone for good it keeps going until its caller cancels it, and nothing else escapes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from mmframe_kalshi.rest import RetryPolicy

from mmframe.api import OrderAccepted, OrderCanceled, OrderRejected
from tests.kalshi.sim_pipeline import FED, RAIN, Pipeline, bid, open_pipeline

pytestmark = pytest.mark.anyio

ORDERS = 8


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    options = {"sweep_backoff": RetryPolicy(base_s=0.02, max_s=0.2)}
    async with open_pipeline(executor_options=options) as opened:
        yield opened


async def _rest_orders(p: Pipeline) -> None:
    await p.execute([bid(f"s-{n}", 300 + 100 * (n % 4), ticker=(RAIN, FED)[n % 2]) for n in range(ORDERS)])
    await p.ctx.wait_for(lambda: len(p.ctx.of(OrderAccepted)) == ORDERS)
    assert len(await p.truth_resting()) == ORDERS


async def test_cancel_all_when_a_burst_of_400_429s_hits_still_leaves_nothing_resting(pipeline: Pipeline) -> None:
    p = pipeline
    await _rest_orders(p)
    await p.fault("burst_429", count=400)

    await asyncio.wait_for(p.executor.cancel_all(), 60)

    assert await p.truth_resting() == []
    assert p.session.rest.rate_limited >= 100  # it went through the burst, not around it
    await p.ctx.wait_for(lambda: not p.ctx.orders.live())  # the tracker agrees with the venue


async def test_cancel_all_when_every_write_fails_until_the_venue_recovers_after_3s_leaves_nothing_resting(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    await _rest_orders(p)
    await p.fault("fail_writes", share=1.0)
    await p.fault_plan([{"at_seconds": 3, "action": "clear"}])

    await asyncio.wait_for(p.executor.cancel_all(), 30)

    assert await p.truth_resting() == []
    assert not p.ctx.orders.live()


async def test_cancel_all_when_the_venue_never_recovers_keeps_going_until_cancelled(pipeline: Pipeline) -> None:
    p = pipeline
    await _rest_orders(p)
    await p.fault("fail_writes", share=1.0)

    with pytest.raises(TimeoutError):  # only its caller's deadline stops it; no venue error escapes
        await asyncio.wait_for(p.executor.cancel_all(), 1.5)

    assert p.executor.sweep.rounds >= 3
    assert len(await p.truth_resting()) == ORDERS  # nothing could be cancelled: still there
    await p.fault("clear")
    await asyncio.wait_for(p.executor.cancel_all(), 30)  # and once it is back, it finishes
    assert await p.truth_resting() == []


async def test_cancel_all_drops_queued_creates_as_shutdown_and_cancels_creates_in_flight() -> None:
    async with open_pipeline(executor_options={"max_in_flight": 1}) as p:
        await p.fault("delay", ms=200)
        p.execute_nowait([bid("inflight-1", 500)])
        await asyncio.sleep(0.05)  # written, held at the venue; the only request slot is taken
        p.execute_nowait([bid("queued-1", 600)])

        await asyncio.wait_for(p.executor.cancel_all(), 30)

        assert [e.client_order_id for e in p.ctx.of(OrderAccepted)] == ["inflight-1"]
        assert "inflight-1" in [e.client_order_id for e in p.ctx.of(OrderCanceled)]
        assert [(e.client_order_id, e.code) for e in p.ctx.of(OrderRejected)] == [("queued-1", "shutdown")]
        assert await p.truth_resting() == []
        assert "queued-1" not in {o.client_order_id for a in p.sim.server.accounts for o in p.sim.exchange.orders(a)}
