"""Token-bucket rate limits (API.md §8): exact budgets under an injected clock, over real sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_sim.ratelimit import ENDPOINT_COSTS, TIERS, Bucket, RateLimiter, TokenBucket, cost_of

from mmframe.api import TestClock
from tests.sim.kalshi_test_client import assert_shape
from tests.sim.sim_harness import order, running

pytestmark = pytest.mark.anyio

TOO_MANY = {"error": "too many requests"}


def _clocked() -> tuple[TestClock, dict[str, object]]:
    clock = TestClock()
    return clock, {"wall_clock": clock, "now_ms": lambda: clock.now_ns() // 1_000_000}


async def test_rate_limit_when_write_budget_spent_returns_429_too_many_requests() -> None:
    clock, kw = _clocked()
    async with running(tier="advanced", **kw) as s:
        capacity = TIERS["advanced"].write_capacity  # 600 tokens = 60 creates at 10
        for i in range(capacity // 10):
            response = await s.alice.post("/portfolio/events/orders", json=order(price="0.0100", count="1.00"))
            assert response.status_code == 201, (i, response.text)
        response = await s.alice.post("/portfolio/events/orders", json=order(price="0.0100", count="1.00"))
        assert response.status_code == 429
        assert response.json() == TOO_MANY
        assert_shape("error_429.json", response.json())
        assert "retry-after" not in response.headers
        # another key has its own buckets
        assert (await s.bob.post("/portfolio/events/orders", json=order(price="0.0100"))).status_code == 201
        # 0.1 s refills 30 tokens: exactly three creates
        clock.advance(0.1)
        codes = [
            (await s.alice.post("/portfolio/events/orders", json=order(price="0.0100", count="1.00"))).status_code
            for _ in range(4)
        ]
        assert codes == [201, 201, 201, 429]


async def test_rate_limit_when_cancels_cost_two_allows_five_per_create() -> None:
    _, kw = _clocked()
    async with running(tier="advanced", **kw) as s:
        ids = []
        for _ in range(5):
            body = (await s.alice.post("/portfolio/events/orders", json=order(price="0.0100"))).json()
            ids.append(body["order_id"])
        # 600 - 50 = 550 left; a batch of 5 cancels costs 10, a cancel-all 2
        response = await s.alice.delete("/portfolio/events/orders/batched",
                                        json={"orders": [{"order_id": i} for i in ids]})
        assert response.status_code == 200
        assert (await s.alice.delete("/portfolio/events/orders")).status_code == 204
        # a batch of 54 creates costs 540 of the remaining 538 tokens: refused whole
        batch = {"orders": [order(price="0.0100", count="1.00") for _ in range(54)]}
        response = await s.alice.post("/portfolio/events/orders/batched", json=batch)
        assert response.status_code == 429
        batch = {"orders": [order(price="0.0100", count="1.00") for _ in range(53)]}
        assert (await s.alice.post("/portfolio/events/orders/batched", json=batch)).status_code == 201


async def test_rate_limit_when_read_budget_spent_returns_429_and_get_order_costs_two() -> None:
    clock, kw = _clocked()
    async with running(tier="basic", **kw) as s:
        order_id = (await s.alice.post("/portfolio/events/orders", json=order())).json()["order_id"]
        capacity = TIERS["basic"].read_capacity  # 200 tokens
        for _ in range(capacity // 2):  # GetOrder costs 2
            assert (await s.alice.get(f"/portfolio/orders/{order_id}")).status_code == 200
        response = await s.alice.get("/markets")
        assert response.status_code == 429
        assert response.json() == TOO_MANY
        clock.advance(0.05)  # 10 tokens at 200/s: one default read
        assert (await s.alice.get("/markets")).status_code == 200
        assert (await s.alice.get("/markets")).status_code == 429
        # writes draw on their own bucket
        assert (await s.alice.delete(f"/portfolio/events/orders/{order_id}")).status_code == 200


async def test_account_limits_when_queried_report_the_enforced_tier() -> None:
    async with running(tier="premier") as s:
        body = (await s.alice.get("/account/limits")).json()
        assert_shape("account_limits.json", body)
        tier = TIERS["premier"]
        assert body["usage_tier"] == "premier"
        assert body["read"] == {"refill_rate": tier.read_rate, "bucket_capacity": tier.read_capacity}
        assert body["write"] == {"refill_rate": tier.write_rate, "bucket_capacity": tier.write_capacity}
        costs = (await s.alice.get("/account/endpoint_costs")).json()
        assert_shape("endpoint_costs.json", costs)
        assert costs["default_cost"] == 10
        listed = {(c["method"], c["path"]): c["cost"] for c in costs["endpoint_costs"]}
        assert listed == {(c.method, c.path): c.cost for c in ENDPOINT_COSTS}
        assert listed[("DELETE", "/portfolio/events/orders/{order_id}")] == 2
        assert listed[("GET", "/portfolio/orders/{order_id}")] == 2


def test_cost_of_when_route_unlisted_uses_default_and_method_bucket() -> None:
    assert cost_of("GET", "/markets").cost == 10
    assert cost_of("GET", "/markets").bucket is Bucket.READ
    assert cost_of("PUT", "/portfolio/order_groups/{order_group_id}/reset").bucket is Bucket.WRITE
    assert cost_of("DELETE", "/portfolio/events/orders/batched").per_item


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(1, 5_000),
    capacity=st.integers(1, 10_000),
    steps=st.lists(st.tuples(st.integers(0, 2 * 10**9), st.integers(1, 50)), max_size=40),
)
def test_token_bucket_when_requests_arrive_never_grants_more_than_capacity_plus_refill(
    rate: int, capacity: int, steps: list[tuple[int, int]]
) -> None:
    clock = TestClock()
    bucket = TokenBucket(rate, capacity, clock)
    granted = 0
    elapsed_ns = 0
    for gap_ns, tokens in steps:
        clock.advance(ns=gap_ns)
        elapsed_ns += gap_ns
        if bucket.try_take(tokens):
            granted += tokens
        # tokens handed out never exceed the initial fill plus exact refill
        assert granted * 10**9 <= capacity * 10**9 + elapsed_ns * rate
        assert 0 <= bucket.available() <= capacity


def test_rate_limiter_when_drained_refuses_until_refilled() -> None:
    clock = TestClock()
    limiter = RateLimiter(clock)
    cost = cost_of("POST", "/portfolio/events/orders")
    limiter.drain("k", "advanced")
    assert not limiter.try_acquire("k", "advanced", cost)
    refill_ns = -(-10 * 10**9 // TIERS["advanced"].write_rate)  # 10 tokens, rounded up to the ns
    clock.advance(ns=refill_ns - 1)
    assert not limiter.try_acquire("k", "advanced", cost)
    clock.advance(ns=1)
    assert limiter.try_acquire("k", "advanced", cost)
