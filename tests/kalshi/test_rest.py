"""REST client over a real loopback socket: signing, pagination, retries, unknown-outcome creates.

The server is the tiny Kalshi-shaped app in `fake_kalshi` (fault shapes the simulator cannot
produce yet). Sleeps use a `FastClock` (real loop, no real waiting) so backoff costs no time.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.auth import PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import (
    AuthenticationError,
    InvalidOrder,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
)
from mmframe_kalshi.limiter import Bucket
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, RetryPolicy

from mmframe.api import BookSide, LiveClock
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.fake_kalshi import FakeKalshi, Fault

pytestmark = pytest.mark.anyio
KEY_ID = "key-1"


class FastClock(LiveClock):
    """Real time, but sleeps only yield (backoff delays are recorded, not waited)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await LiveClock.sleep(self, 0)


@pytest.fixture
async def venue(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[FakeKalshi, KalshiRestClient, FastClock]]:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id=KEY_ID)
    clock = FastClock()
    async with serve_asgi(fake.app()) as url, _client(url, rsa_key, clock) as client:
        yield fake, client, clock


def _client(
    url: str, key: rsa.RSAPrivateKey, clock: FastClock, retry: RetryPolicy | None = None
) -> KalshiRestClient:
    return KalshiRestClient(
        url + "/trade-api/v2",
        RequestSigner(KalshiCredentials(KEY_ID, key), clock),
        clock,
        retry=retry or RetryPolicy(attempts=3, base_s=0.1, max_s=1.0),
        timeout=httpx.Timeout(0.5, connect=1.0),
        rng=random.Random(7),
    )


def _order(cid: str, ticker: str = "T-1") -> CreateOrderRequest:
    return CreateOrderRequest(ticker=ticker, side=BookSide.BID, price=5600, count=1000, client_order_id=cid)


async def test_rest_when_request_signed_server_verifies_with_public_key(venue: Any) -> None:
    fake, client, _ = venue
    balance = await client.get_balance()
    assert balance.balance == 1_234_500
    method, path, headers = fake.log[-1]
    assert (method, path, headers["kalshi-access-key"]) == ("GET", "/portfolio/balance", KEY_ID)


async def test_rest_when_signature_wrong_raises_authentication_error(venue: Any) -> None:
    fake, client, _ = venue
    fake.key_id = "someone-else"
    with pytest.raises(AuthenticationError, match="authentication_error"):
        await client.get_balance()


async def test_rest_when_markets_span_pages_follows_cursor(venue: Any) -> None:
    fake, client, _ = venue
    fake.markets = [{"ticker": f"M-{i}", "event_ticker": "E", "status": "active"} for i in range(5)]
    markets = await client.list_markets(status="open")
    assert [m.ticker for m in markets] == [f"M-{i}" for i in range(5)]
    assert sum(1 for m, p, _ in fake.log if p == "/markets") == 3


async def test_rest_when_get_hits_5xx_then_ok_retries_with_backoff(venue: Any) -> None:
    fake, client, clock = venue
    fake.faults.append(Fault("GET", "/portfolio/balance", status=503, times=2))
    assert (await client.get_balance()).balance == 1_234_500
    assert len(clock.slept) == 2
    assert 0.05 <= clock.slept[0] <= 0.1 and 0.1 <= clock.slept[1] <= 0.2


async def test_rest_when_get_keeps_failing_raises_after_attempts(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(
        Fault("GET", "/portfolio/balance", status=429, body={"error": "too many requests"}, times=9)
    )
    with pytest.raises(RateLimitedError):
        await client.get_balance()
    assert sum(1 for _, p, _ in fake.log if p == "/portfolio/balance") == 3
    assert client.rate_limited == 3


async def test_rest_when_create_rejected_raises_typed_error_without_retry(venue: Any) -> None:
    fake, client, _ = venue
    body = {"error": {"code": "invalid_order", "message": "invalid order", "details": "post only cross"}}
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=400, body=body))
    with pytest.raises(InvalidOrder, match="post only cross"):
        await client.create_order(_order("c-1"))
    assert sum(1 for m, p, _ in fake.log if m == "POST") == 1


async def test_rest_when_create_placed_but_answered_500_returns_it_without_duplicate(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=500, after=True))

    placed = await client.create_order(_order("c-1"))

    assert placed.recovered and placed.order_id == "ord-1" and placed.remaining == 1000
    assert len(fake.orders) == 1
    posts = [p for m, p, _ in fake.log if m == "POST"]
    assert posts == ["/portfolio/events/orders", "/portfolio/events/orders"]  # re-sent once, same id -> 409


async def test_rest_when_create_times_out_after_placing_finds_it(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=201, after=True, delay_s=1.0))
    placed = await client.create_order(_order("c-9"))
    assert placed.order_id == "ord-1" and placed.recovered
    assert len(fake.orders) == 1


async def test_rest_when_create_500_and_not_placed_retries_then_places_once(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=500, after=False))
    placed = await client.create_order(_order("c-2"))
    assert not placed.recovered and placed.order_id == "ord-1"
    assert len(fake.orders) == 1


async def test_rest_when_create_always_500_and_absent_raises_server_error(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=500, times=9))
    with pytest.raises(ServerError):
        await client.create_order(_order("c-3"))
    assert fake.orders == {}
    assert [m for m, p, _ in fake.log if p == "/portfolio/orders"] == ["GET"]  # reconciled by reading


async def test_rest_when_create_unknown_and_orders_unreadable_raises_outcome_unknown(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=500, times=9))
    fake.faults.append(Fault("GET", "/portfolio/orders", status=500, times=9))
    with pytest.raises(OutcomeUnknownError) as info:
        await client.create_order(_order("c-4"))
    assert info.value.client_order_id == "c-4" and info.value.ticker == "T-1"


async def test_rest_when_batch_create_placed_but_500_recovers_each_item(venue: Any) -> None:
    fake, client, _ = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders/batched", status=500, after=True))
    results = await client.batch_create_orders([_order("b-1"), _order("b-2", "T-2")])
    assert [r.order_id for r in results] == ["ord-1", "ord-2"]
    assert all(r.error is None for r in results)
    assert len(fake.orders) == 2


async def test_rest_when_batch_cancel_hits_429_retries_and_cancels(venue: Any) -> None:
    fake, client, _ = venue
    results = await client.batch_create_orders([_order("b-1"), _order("b-2")])
    fake.faults.append(
        Fault("DELETE", "/portfolio/events/orders/batched", status=429, body={"error": "too many requests"})
    )
    cancelled = await client.batch_cancel_orders([(r.order_id, "T-1") for r in results] + [("nope", "T-1")])
    assert [c.reduced_by for c in cancelled[:2]] == [1000, 1000]
    assert cancelled[2].error is not None and cancelled[2].error.code == "not_found"
    assert all(o["status"] == "canceled" for o in fake.orders.values())


async def test_rest_when_limits_loaded_limiter_adopts_them(venue: Any) -> None:
    _, client, _ = venue
    await client.load_rate_limits()
    assert client.limiter.limits.usage_tier == "advanced"
    assert client.limiter.buckets[Bucket.WRITE].capacity == 540


async def test_rest_when_presigned_timestamp_refused_resigns_once(
    venue: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    fake, client, clock = venue
    presigner = PreSigner(RequestSigner(KalshiCredentials(KEY_ID, rsa_key), clock), clock)
    presigner.register("POST", client.full_path("/portfolio/events/orders/batched"))
    presigner.refill()
    client.presigner = presigner
    expired = {"error": {"code": "header_timestamp_expired", "message": "header timestamp expired"}}
    fake.faults.append(Fault("POST", "/portfolio/events/orders/batched", status=401, body=expired))

    results = await client.batch_create_orders([_order("p-1")])

    assert results[0].order_id == "ord-1" and presigner.hits == 1
    posts = [h["kalshi-access-timestamp"] for m, _, h in fake.log if m == "POST"]
    assert len(posts) == 2


class VirtualClock(FastClock):
    """`FastClock` whose monotonic time moves only by what is slept: backoff is exact, not waited."""

    def __init__(self) -> None:
        super().__init__()
        self.mono_ns = 0

    def monotonic_ns(self) -> int:
        return self.mono_ns

    async def sleep(self, seconds: float) -> None:
        self.mono_ns += int(seconds * 1e9)
        await super().sleep(seconds)


async def test_rest_when_an_outage_retries_many_times_logs_a_line_per_interval_with_counts(
    rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id=KEY_ID)
    fake.faults.append(Fault("GET", "/portfolio/balance", status=503, times=40))
    clock = VirtualClock()
    retry = RetryPolicy(attempts=41, base_s=0.5, max_s=1.0)
    async with serve_asgi(fake.app()) as url, _client(url, rsa_key, clock, retry) as client:
        with caplog.at_level(logging.INFO, logger="mmframe_kalshi.rest"):
            assert (await client.get_balance()).balance == 1_234_500
    # Each retry logs, then sleeps: the k-th logs at the virtual time slept before it.
    retried_at = [sum(int(s * 1e9) for s in clock.slept[:k]) for k in range(len(clock.slept))]
    assert len(retried_at) == 40
    expected, last = [], None
    for k, at in enumerate(retried_at):  # first at once, then the first retry 10 s after the last line
        if last is None or at - last >= 10 * 10**9:
            expected.append(k)
            last = at
    lines = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(lines) == len(expected) < 10
    assert [f"retry {k + 1} in" in line for k, line in zip(expected, lines, strict=True)] == [True] * len(lines)
    counts = [int(m.group(1)) if (m := re.search(r"\((\d+) more since", line)) else 0 for line in lines]
    assert counts == [0] + [b - a - 1 for a, b in itertools.pairwise(expected)]
