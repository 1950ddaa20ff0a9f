"""The REST client's write guard: asked about each create or amend right after its tokens were taken
and immediately before it is written, on the synchronous path and through httpx alike. What it
refuses is never written (judged by what the server received) and its tokens come back."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.auth import RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import WriteRefused
from mmframe_kalshi.limiter import Bucket, RateLimiter
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, RetryPolicy

from mmframe.api import BookSide, LiveClock, TestClock
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.fake_kalshi import FakeKalshi

pytestmark = pytest.mark.anyio
KEY_ID = "key-1"
BATCH = "/portfolio/events/orders/batched"


@pytest.fixture
async def venue(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[FakeKalshi, KalshiRestClient]]:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id=KEY_ID)
    clock = LiveClock()
    async with serve_asgi(fake.app()) as url:
        client = KalshiRestClient(
            url + "/trade-api/v2",
            RequestSigner(KalshiCredentials(KEY_ID, rsa_key), clock),
            clock,
            limiter=RateLimiter(TestClock()),  # no refill while the test runs: token counts are exact
            retry=RetryPolicy(attempts=3, base_s=0.01, max_s=0.02),
            timeout=httpx.Timeout(2.0, connect=1.0),
            rng=random.Random(7),
        )
        async with client:
            await client.open_fast_path()
            yield fake, client


def _order(cid: str) -> CreateOrderRequest:
    return CreateOrderRequest(ticker="T-1", side=BookSide.BID, price=5600, count=100, client_order_id=cid)


def _tokens(client: KalshiRestClient) -> int:
    return client.limiter.buckets[Bucket.WRITE].whole_tokens()


def _sent_ids(fake: FakeKalshi) -> list[list[str]]:
    return [[o["client_order_id"] for o in body["orders"]] for m, p, _, body in fake.requests if (m, p) == ("POST", BATCH)]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "httpx"])
async def test_rest_guard_when_it_refuses_one_order_of_a_batch_only_the_others_are_written(
    venue: Any, fast: bool
) -> None:
    fake, client = venue
    before = _tokens(client)
    guard = lambda cid: cid != "b"  # noqa: E731
    if fast:
        started = client.begin_batch_create_orders([_order("a"), _order("b"), _order("c")], guard=guard)
        assert started is not None
        results = await started
    else:
        results = await client.batch_create_orders([_order("a"), _order("b"), _order("c")], guard=guard)

    assert [r.client_order_id for r in results] == ["a", "b", "c"]
    assert results[0].error is None and results[2].error is None
    assert isinstance(results[1].error, WriteRefused)
    assert _sent_ids(fake) == [["a", "c"]]
    assert before - _tokens(client) == 20  # two creates charged; the refused one's 10 came back


async def test_rest_guard_when_it_refuses_every_order_nothing_is_written(venue: Any) -> None:
    fake, client = venue
    before = _tokens(client)
    started = client.begin_batch_create_orders([_order("a"), _order("b")], guard=lambda cid: False)
    assert started is not None
    results = await started

    assert all(isinstance(r.error, WriteRefused) for r in results)
    assert _sent_ids(fake) == []
    assert _tokens(client) == before


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "httpx"])
async def test_rest_guard_when_it_refuses_an_amend_nothing_is_written(venue: Any, fast: bool) -> None:
    fake, client = venue
    placed = await client.create_order(_order("x-1"))
    before, requests = _tokens(client), len(fake.requests)
    asked: list[str] = []

    def guard(cid: str) -> bool:
        asked.append(cid)
        return False

    terms: dict[str, Any] = {"ticker": "T-1", "side": BookSide.BID, "price": 5700, "total_count": 100,
                             "client_order_id": "x-1", "updated_client_order_id": "x-2", "guard": guard}
    with pytest.raises(WriteRefused):
        if fast:
            started = client.begin_amend_order(placed.order_id, **terms)
            assert started is not None
            await started
        else:
            await client.amend_order(placed.order_id, **terms)

    assert asked == ["x-1"]
    assert len(fake.requests) == requests
    assert _tokens(client) == before
