"""Token buckets: exact with a TestClock; cancels served before creates while waiting."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_kalshi.limiter import (
    AccountLimits,
    Bucket,
    BucketLimit,
    EndpointCosts,
    Priority,
    RateLimiter,
    TokenBucket,
    bucket_for,
    limits_from_json,
)

from mmframe.api import TestClock

pytestmark = pytest.mark.anyio


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_costs_when_defaults_match_api_md() -> None:
    costs = EndpointCosts()
    assert costs.cost("POST", "/portfolio/events/orders") == 10
    assert costs.cost("DELETE", "/portfolio/events/orders/abc-123") == 2
    assert costs.cost("POST", "/portfolio/events/orders/batched", items=7) == 70
    assert costs.cost("DELETE", "/portfolio/events/orders/batched", items=7) == 14
    assert costs.cost("GET", "/portfolio/orders/abc") == 2
    assert costs.cost("GET", "/markets?limit=5") == 10


def test_costs_when_loaded_from_endpoint_costs_override() -> None:
    costs = EndpointCosts.from_json(
        {
            "default_cost": 5,
            "endpoint_costs": [
                {"method": "POST", "path": "/trade-api/v2/portfolio/events/orders", "cost": 8}
            ],
        }
    )
    assert costs.cost("POST", "/portfolio/events/orders") == 8
    assert costs.cost("GET", "/markets") == 5
    assert costs.cost("DELETE", "/portfolio/events/orders/x") == 2


def test_costs_when_templated_path_asked_again_gives_same_cost_from_a_bounded_memo() -> None:
    import mmframe_kalshi.limiter as limiter

    costs = EndpointCosts.from_json(
        {"endpoint_costs": [{"method": "POST", "path": "/portfolio/events/orders/{order_id}/amend", "cost": 3}]}
    )
    paths = [f"/portfolio/events/orders/o{n}/amend" for n in range(limiter._MATCHED_KEPT + 5)]
    assert [costs.cost("POST", path) for path in paths] == [3] * len(paths)
    assert costs.cost("POST", paths[-1]) == 3  # remembered
    assert costs.cost("DELETE", paths[-1]) == 10  # the method is part of the key: the default
    assert len(costs._matched) <= limiter._MATCHED_KEPT


def test_bucket_for_when_order_writes_is_write() -> None:
    assert bucket_for("POST", "/portfolio/events/orders") is Bucket.WRITE
    assert bucket_for("PUT", "/portfolio/order_groups/g/reset") is Bucket.WRITE
    assert bucket_for("GET", "/portfolio/orders") is Bucket.READ
    assert bucket_for("GET", "/markets") is Bucket.READ


def test_limits_when_new_and_old_shapes_parse() -> None:
    new = limits_from_json(
        {
            "usage_tier": "advanced",
            "read": {"refill_rate": 300, "bucket_capacity": 300},
            "write": {"refill_rate": 300, "bucket_capacity": 600},
        }
    )
    assert new.write == BucketLimit(300, 600)
    old = limits_from_json({"usage_tier": "basic", "read_limit": 200, "write_limit": 100})
    assert old.read == BucketLimit(200, 200) and old.write == BucketLimit(100, 100)


async def test_bucket_when_burst_exhausted_waits_exactly_the_refill_time() -> None:
    clock = TestClock()
    bucket = TokenBucket(BucketLimit(refill_rate=100, capacity=100), clock)
    for _ in range(10):
        assert bucket.try_acquire(10)
    done = asyncio.Event()

    async def create() -> None:
        await bucket.acquire(10, Priority.CREATE)
        done.set()

    task = asyncio.create_task(create())
    await _settle()
    clock.advance(0.099)
    await _settle()
    assert not done.is_set()
    clock.advance(0.001)
    await _settle()
    assert done.is_set()
    await task


async def test_bucket_when_cancel_arrives_while_create_waits_cancel_goes_first() -> None:
    clock = TestClock()
    bucket = TokenBucket(BucketLimit(refill_rate=100, capacity=100), clock)
    assert bucket.try_acquire(100)
    order: list[str] = []

    async def take(name: str, cost: int, priority: Priority) -> None:
        await bucket.acquire(cost, priority)
        order.append(name)

    create = asyncio.create_task(take("create", 10, Priority.CREATE))
    await _settle()
    cancel = asyncio.create_task(take("cancel", 2, Priority.CANCEL))
    await _settle()
    clock.advance(0.02)  # 2 tokens: enough for the cancel only
    await _settle()
    assert order == ["cancel"]
    clock.advance(0.1)
    await _settle()
    assert order == ["cancel", "create"]
    await asyncio.gather(create, cancel)


async def test_bucket_when_waiting_for_tokens_new_request_cannot_jump_the_queue() -> None:
    clock = TestClock()
    bucket = TokenBucket(BucketLimit(refill_rate=10, capacity=10), clock)
    assert bucket.try_acquire(10)
    task = asyncio.create_task(bucket.acquire(5, Priority.CREATE))
    await _settle()
    clock.advance(0.2)  # 2 tokens
    await _settle()
    assert not bucket.try_acquire(1)
    clock.advance(0.3)
    await _settle()
    await task
    assert bucket.tokens == 0


async def test_limiter_when_utilisation_margin_applies_scales_rate_and_capacity() -> None:
    clock = TestClock()
    limiter = RateLimiter(clock, AccountLimits(read=BucketLimit(200, 200), write=BucketLimit(100, 200)))
    write = limiter.buckets[Bucket.WRITE]
    assert write.capacity == 180
    assert limiter.max_batch_items("POST", "/portfolio/events/orders/batched") == 18
    assert limiter.max_batch_items("DELETE", "/portfolio/events/orders/batched") == 90
    charged = await limiter.acquire("POST", "/portfolio/events/orders/batched", items=18)
    assert charged == 180
    assert write.tokens == 0
    clock.advance(1)
    assert write.tokens == 90


async def test_bucket_when_cost_exceeds_capacity_raises() -> None:
    bucket = TokenBucket(BucketLimit(10, 10), TestClock())
    with pytest.raises(ValueError, match="exceeds the bucket capacity"):
        await bucket.acquire(11)


@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=30)),
        min_size=1,
        max_size=60,
    ),
    rate=st.integers(min_value=1, max_value=500),
    capacity=st.integers(min_value=30, max_value=1000),
)
@settings(max_examples=150, deadline=None)
def test_bucket_when_any_request_sequence_never_grants_more_than_budget(
    steps: list[tuple[int, int]], rate: int, capacity: int
) -> None:
    clock = TestClock()
    bucket = TokenBucket(BucketLimit(refill_rate=rate, capacity=capacity), clock)
    granted = elapsed_ms = 0
    for advance_ms, cost in steps:
        clock.advance(ns=advance_ms * 1_000_000)
        elapsed_ms += advance_ms
        if bucket.try_acquire(cost):
            granted += cost
        # Never more than the initial burst plus what refilled: capacity + rate x elapsed.
        assert granted * 1000 <= capacity * 1000 + rate * elapsed_ms
