"""`KalshiWriteBudget`: the write token bucket as the runtime's `WriteBudget`, net of what the executor
was handed and has not yet charged; the executor exposes it (`BudgetedExecutor`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from mmframe_kalshi.executor import KalshiWriteBudget
from mmframe_kalshi.limiter import AccountLimits, Bucket, BucketLimit, EndpointCosts, Priority, RateLimiter

from mmframe.api import (
    AmendOrder,
    BookSide,
    BudgetedExecutor,
    CancelOrder,
    ComponentContext,
    CreateOrder,
    DecreaseOrder,
    Kind,
    LiveClock,
    TestClock,
)
from mmframe.plugins import load_registry
from tests.kalshi.sim_pipeline import Pipeline, bid, open_pipeline

pytestmark = pytest.mark.anyio

CREATE = CreateOrder(client_order_id="c", ticker="T", side=BookSide.BID, price=100, size=100)
AMEND = AmendOrder(client_order_id="c", new_client_order_id="d", ticker="T", side=BookSide.BID, price=200, size=100)
DECREASE = DecreaseOrder(client_order_id="c", ticker="T", size=50)
CANCEL = CancelOrder(client_order_id="c", ticker="T")


def _budget(costs: EndpointCosts | None = None) -> tuple[KalshiWriteBudget, RateLimiter, TestClock]:
    clock = TestClock()
    limits = AccountLimits(read=BucketLimit(200, 200), write=BucketLimit(100, 100))
    limiter = RateLimiter(clock, limits, costs, utilisation_pct=100)
    return KalshiWriteBudget(limiter), limiter, clock


def test_budget_when_asked_the_cost_of_each_action_reads_the_documented_table() -> None:
    budget, _, _ = _budget()
    assert [budget.cost(a) for a in (CREATE, AMEND, DECREASE, CANCEL)] == [10, 10, 10, 2]


def test_budget_when_the_account_has_its_own_costs_uses_them() -> None:
    costs = EndpointCosts.from_json({"default_cost": 10, "endpoint_costs": [
        {"method": "POST", "path": "/trade-api/v2/portfolio/events/orders/batched", "cost": 7},
        {"method": "POST", "path": "/portfolio/events/orders/{order_id}/amend", "cost": 5},
        {"method": "DELETE", "path": "/portfolio/events/orders/batched", "cost": 1},
    ]})
    budget, limiter, _ = _budget()
    assert budget.cost(CREATE) == 10  # the documented cost, until the account's table loads
    limiter.set_costs(costs)
    assert [budget.cost(a) for a in (CREATE, AMEND, DECREASE, CANCEL)] == [7, 5, 10, 1]


def test_budget_when_not_an_action_raises() -> None:
    budget, _, _ = _budget()
    with pytest.raises(TypeError, match="not an order action"):
        budget.cost("create")  # type: ignore[arg-type]


def test_budget_when_tokens_are_held_and_charged_counts_each_once() -> None:
    budget, limiter, clock = _budget()
    assert (budget.tokens(), budget.refill_per_second) == (100, 100)
    budget.hold(30)  # three creates handed over
    assert budget.tokens() == 70
    assert limiter.try_acquire("POST", "/portfolio/events/orders/batched", items=2)  # two of them charged
    budget.release(20)
    assert budget.tokens() == 70
    budget.release(10)  # the third dropped unsent
    assert budget.tokens() == 80
    assert budget.seconds_until(80) == 0.0
    assert budget.seconds_until(100) == pytest.approx(0.2)  # 20 tokens at 100/s
    clock.advance(0.1)
    assert budget.tokens() == 90


async def test_budget_when_a_request_waits_in_the_bucket_its_tokens_are_spoken_for() -> None:
    budget, limiter, _ = _budget()
    bucket = limiter.buckets[Bucket.WRITE]
    assert bucket.try_acquire(60)
    waiter = asyncio.create_task(bucket.acquire(50, Priority.CREATE))  # a retry after a 429, say
    await asyncio.sleep(0)
    try:
        assert (bucket.waiting_tokens, budget.tokens()) == (50, 0)
        assert budget.seconds_until(10) == pytest.approx(0.2)  # 40 now; 50 + 10 needed
    finally:
        waiter.cancel()


@pytest.fixture
async def slow() -> AsyncIterator[Pipeline]:
    async with open_pipeline(fast_order_path=False) as opened:
        yield opened


async def test_budget_when_actions_are_handed_over_their_tokens_are_taken_before_their_requests_run(
    slow: Pipeline,
) -> None:
    p = slow
    budget = p.executor.write_budget
    assert isinstance(p.executor, BudgetedExecutor)
    bucket = p.session.rest.limiter.buckets[Bucket.WRITE]
    while bucket.whole_tokens() < bucket.capacity:  # a full bucket stays full: exact counts below
        await asyncio.sleep(0.05)
    full = budget.tokens()

    p.execute_nowait([bid("b-1", 500), bid("b-2", 600), bid("b-3", 700)])  # their task has not run yet

    assert budget.held == 30 and budget.tokens() == full - 30
    await p.executor.flush()
    assert budget.held == 0


async def test_budget_when_taken_from_the_venue_before_it_opens_reads_the_executor_once_open() -> None:
    ctx = ComponentContext(pipeline="p", markets=("SIM-RAIN-NYC",), clock=LiveClock(), logger=logging.getLogger("t"))
    venue = load_registry().get(Kind.VENUE, "sim").factory({"seed": 7, "tier": "basic"}, ctx)
    executor = venue.executor()
    assert isinstance(executor, BudgetedExecutor)  # the runtime asks when it is built, before open()
    budget = executor.write_budget
    assert budget.tokens() == 0  # nothing to spend before the venue opens
    await venue.open()
    try:
        assert budget.cost(CREATE) == 10 and budget.refill_per_second == 90  # Basic, less the 10% margin
        assert budget.tokens() > 0
    finally:
        await venue.close()
