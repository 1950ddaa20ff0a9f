"""The executor asks the runtime's gate right before a create or amend is written to the socket (after
its tokens were taken), on the synchronous path and through httpx alike, and again before a retry.
A refused request is never written: judged by the simulator's own orders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from mmframe_kalshi.rest import RetryPolicy

from mmframe.api import (
    AmendOrder,
    BookSide,
    CancelOrder,
    CreateOrder,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
)
from mmframe.runtime.gate import GateState
from tests.kalshi.sim_pipeline import RAIN, Pipeline, bid, open_pipeline

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fast() -> AsyncIterator[Pipeline]:
    async with open_pipeline() as opened:
        yield opened


@pytest.fixture
async def slow() -> AsyncIterator[Pipeline]:
    """Requests go through httpx from their own task (no synchronous order path)."""
    async with open_pipeline(fast_order_path=False) as opened:
        yield opened


def _venue_ids(p: Pipeline) -> set[str | None]:
    """Client ids of every order of ours the simulator ever took (resting or not)."""
    return {o.client_order_id for account in p.sim.server.accounts for o in p.sim.exchange.orders(account)}


def _rejected(p: Pipeline, code: str = "gate_closed") -> list[tuple[str, str]]:
    return [(e.client_order_id, e.action) for e in p.ctx.of(OrderRejected) if e.code == code]


async def test_gate_when_closed_create_on_the_fast_path_is_never_written(fast: Pipeline) -> None:
    p = fast
    p.ctx.gate.close(GateState.PAUSED, "test")
    tokens = p.executor.write_budget.tokens()

    p.execute_nowait([bid("g-1", 500)])
    await p.executor.flush()

    assert _rejected(p) == [("g-1", "create")]
    assert "g-1" not in _venue_ids(p)
    assert p.executor.write_budget.tokens() >= tokens  # the tokens it took were given back
    assert p.ctx.orders.get("g-1") is not None and not p.ctx.orders.get("g-1").status.is_live


async def test_gate_when_it_closes_after_the_hand_over_the_httpx_create_is_not_written(slow: Pipeline) -> None:
    p = slow
    p.execute_nowait([bid("h-1", 500), bid("h-2", 600)])  # its request task has not run yet
    p.ctx.gate.close(GateState.HALTED, "test")  # closes before the request takes its tokens
    await p.executor.flush()

    assert sorted(_rejected(p)) == [("h-1", "create"), ("h-2", "create")]
    assert {"h-1", "h-2"}.isdisjoint(_venue_ids(p))
    assert p.resting_on_venue() == []


async def test_gate_when_flattening_only_the_refused_items_of_a_batch_are_left_out(fast: Pipeline) -> None:
    p = fast
    await p.execute([bid("own-1", 9900, size=200, post_only=False, immediate_or_cancel=True)])
    await p.ctx.wait_for(lambda: sum(f.count for f in p.ctx.of(OrderFilled)) == 200)
    p.ctx.gate.close(GateState.FLATTENING, "test")
    close = CreateOrder(client_order_id="close-1", ticker=RAIN, side=BookSide.ASK, price=100, size=200,
                        post_only=False, immediate_or_cancel=True, reduce_only=True)

    await p.execute([close, bid("new-1", 500)])  # one batch: the close passes, the new bid does not
    await p.executor.flush()

    assert _rejected(p) == [("new-1", "create")]
    assert "close-1" in _venue_ids(p) and "new-1" not in _venue_ids(p)
    await p.ctx.wait_for(lambda: sum(f.count for f in p.ctx.of(OrderFilled) if f.client_order_id == "close-1") == 200)


async def test_gate_when_closed_amend_is_not_written_and_the_order_keeps_its_price(fast: Pipeline) -> None:
    p = fast
    await p.execute([bid("a-1", 500)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    p.ctx.gate.close(GateState.PAUSED, "test")

    await p.execute([AmendOrder(client_order_id="a-1", new_client_order_id="a-2", ticker=RAIN,
                                side=BookSide.BID, price=600, size=500)])
    await p.executor.flush()

    assert _rejected(p) == [("a-1", "amend")]
    assert not p.ctx.of(OrderAmended)
    (order,) = p.resting_on_venue()
    assert (order.client_order_id, order.price) == ("a-1", 500)
    assert p.ctx.orders.get("a-1").pending_change is False  # the tracker took the refusal back


async def test_gate_when_it_closes_between_a_429_and_the_retry_the_retry_is_not_written(slow: Pipeline) -> None:
    p = slow
    p.session.rest.retry = RetryPolicy(attempts=4, base_s=0.5, max_s=1.0)  # the retry waits >= 0.25 s
    await p.fault("burst_429", count=1)
    p.execute_nowait([bid("r-1", 500)])
    while p.session.rest.rate_limited < 1:
        await asyncio.sleep(0.001)
    p.ctx.gate.close(GateState.PAUSED, "test")  # the retry waits its backoff: it must not go
    await p.executor.flush()

    assert _rejected(p) == [("r-1", "create")]
    assert "r-1" not in _venue_ids(p)


async def test_gate_when_an_action_waited_longer_than_its_max_age_it_is_not_written(slow: Pipeline) -> None:
    p = slow
    p.ctx.gate.max_age_ns = 0  # anything decided before the write is too old
    p.execute_nowait([bid("old-1", 500)])
    await asyncio.sleep(0.01)
    await p.executor.flush()

    assert _rejected(p) == [("old-1", "create")]
    assert "old-1" not in _venue_ids(p)


async def test_gate_when_a_create_is_in_flight_at_the_close_its_cancel_follows_the_acknowledgement(
    fast: Pipeline,
) -> None:
    p = fast
    await p.fault("delay", ms=150)
    p.execute_nowait([bid("f-1", 500)])
    await asyncio.sleep(0.03)  # written, held at the venue
    p.ctx.gate.close(GateState.PAUSED, "test")
    p.execute_nowait([CancelOrder(client_order_id="f-1", ticker=RAIN)])  # the runtime pulls it
    await p.ctx.wait_for(lambda: p.ctx.of(OrderCanceled))
    await p.fault("clear")

    assert [e.client_order_id for e in p.ctx.of(OrderAccepted)] == ["f-1"]
    assert p.resting_on_venue() == []
    assert await p.truth_resting() == []
