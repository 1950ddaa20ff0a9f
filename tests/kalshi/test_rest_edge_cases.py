"""REST protocol edge cases over a real loopback socket (the Kalshi-shaped app in `fake_kalshi`):
create answers that cannot be read, 6-decimal amounts, one bad item in an account list, subaccounts."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.auth import RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import (
    MalformedMessageError,
    NotFoundError,
    OutcomeUnknownError,
    TransportError,
    UnreadableResponseError,
)
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, RetryPolicy

from mmframe.api import BookSide, LiveClock
from tests.kalshi.conftest import serve_asgi
from tests.kalshi.fake_kalshi import FakeKalshi, Fault

pytestmark = pytest.mark.anyio
KEY_ID = "key-1"
BATCH = "/portfolio/events/orders/batched"


class FastClock(LiveClock):
    async def sleep(self, seconds: float) -> None:
        await LiveClock.sleep(self, 0)


async def _client(fake: FakeKalshi, rsa_key: rsa.RSAPrivateKey, url: str, **kw: Any) -> KalshiRestClient:
    clock = FastClock()
    return KalshiRestClient(
        url + "/trade-api/v2",
        RequestSigner(KalshiCredentials(KEY_ID, rsa_key), clock),
        clock,
        retry=RetryPolicy(attempts=3, base_s=0.01, max_s=0.02),
        timeout=httpx.Timeout(1.0, connect=1.0),
        rng=random.Random(7),
        **kw,
    )


@pytest.fixture
async def venue(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[FakeKalshi, KalshiRestClient]]:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id=KEY_ID)
    async with serve_asgi(fake.app()) as url, await _client(fake, rsa_key, url) as client:
        yield fake, client


def _order(cid: str, ticker: str = "T-1") -> CreateOrderRequest:
    return CreateOrderRequest(ticker=ticker, side=BookSide.BID, price=5600, count=1000, client_order_id=cid)


def _writes(fake: FakeKalshi) -> list[str]:
    return [p for m, p, _ in fake.log if m == "POST"]


# --- create answers ------------------------------------------------------------------------------


async def test_rest_when_batch_create_answer_has_six_decimal_averages_parses_them_exactly(venue: Any) -> None:
    fake, client = venue
    answer = {
        "orders": [
            {"order_id": "ord-1", "client_order_id": "b-1", "fill_count": "3.00", "remaining_count": "7.00",
             "average_fill_price": "0.523333", "average_fee_paid": "0.017486", "ts_ms": 1},
        ]
    }
    fake.faults.append(Fault("POST", BATCH, status=201, body=answer, after=True))

    (placed,) = await client.batch_create_orders([_order("b-1")])

    assert placed.error is None and not placed.recovered
    assert (placed.average_fill_price_micros, placed.average_fee_paid_micros) == (523_333, 17_486)
    assert (placed.average_fill_price, placed.average_fee_paid) == (5233, 175)  # nearest, up
    assert [m for m, p, _ in fake.log if p == "/portfolio/orders"] == []  # nothing to settle


async def test_rest_when_batch_create_item_unreadable_settles_it_by_reading_not_as_a_reject(venue: Any) -> None:
    fake, client = venue
    answer = {
        "orders": [
            {"order_id": "ord-1", "client_order_id": "b-1", "fill_count": "0.00", "remaining_count": "10.00"},
            {"order_id": "ord-2", "client_order_id": "b-2", "fill_count": "0.00", "remaining_count": "10.00",
             "average_fee_paid": "0.0174861"},  # 7 decimals: unreadable
        ]
    }
    fake.faults.append(Fault("POST", BATCH, status=201, body=answer, after=True))

    first, second = await client.batch_create_orders([_order("b-1"), _order("b-2")])

    assert (first.order_id, first.error, first.recovered) == ("ord-1", None, False)
    assert (second.order_id, second.error, second.recovered) == ("ord-2", None, True)  # found by reading
    assert _writes(fake) == [BATCH]  # never re-sent
    assert len(fake.orders) == 2


async def test_rest_when_batch_create_answer_body_unreadable_finds_every_order(venue: Any) -> None:
    fake, client = venue
    fake.faults.append(Fault("POST", BATCH, status=201, body="<html>gateway</html>", after=True))

    results = await client.batch_create_orders([_order("b-1"), _order("b-2", "T-2")])

    assert [(r.order_id, r.error, r.recovered) for r in results] == [("ord-1", None, True), ("ord-2", None, True)]
    assert _writes(fake) == [BATCH]


async def test_rest_when_batch_create_answer_lacks_an_item_settles_the_missing_one(venue: Any) -> None:
    fake, client = venue
    answer = {"orders": [{"order_id": "ord-1", "client_order_id": "b-1", "fill_count": "0.00",
                          "remaining_count": "10.00"}]}
    fake.faults.append(Fault("POST", BATCH, status=201, body=answer, after=True))

    first, second = await client.batch_create_orders([_order("b-1"), _order("b-2")])

    assert (first.order_id, second.order_id, second.recovered) == ("ord-1", "ord-2", True)


async def test_rest_when_create_answer_unreadable_and_order_absent_is_outcome_unknown_not_rejected(
    venue: Any,
) -> None:
    fake, client = venue
    # answered before any work: nothing was placed, yet all we know is "201 and unreadable"
    fake.faults.append(Fault("POST", BATCH, status=201, body={"orders": "??"}))

    (result,) = await client.batch_create_orders([_order("b-1")])

    assert isinstance(result.error, OutcomeUnknownError)
    assert "answered but" in result.error.message and result.error.client_order_id == "b-1"
    assert _writes(fake) == [BATCH]


async def test_rest_when_single_create_answer_unreadable_finds_the_order(venue: Any) -> None:
    fake, client = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders", status=201, body={"ts_ms": 1}, after=True))

    placed = await client.create_order(_order("c-1"))

    assert (placed.order_id, placed.recovered) == ("ord-1", True)


async def test_rest_when_amend_answer_unreadable_raises_unreadable_response_as_sent(venue: Any) -> None:
    fake, client = venue
    fake.faults.append(Fault("POST", "/portfolio/events/orders/o-1/amend", status=200, body={"remaining": 1}))

    with pytest.raises(UnreadableResponseError) as info:
        await client.amend_order("o-1", ticker="T-1", side=BookSide.BID, price=5700, total_count=1000)

    # a TransportError that reached the venue: the executor settles it by reading the order
    assert isinstance(info.value, TransportError) and info.value.sent
    assert _writes(fake) == ["/portfolio/events/orders/o-1/amend"]


# --- account lists -------------------------------------------------------------------------------


def _position(ticker: str, **fields: Any) -> dict[str, Any]:
    return {"ticker": ticker, "position_fp": "3.00", "market_exposure_dollars": "1.570001",
            "realized_pnl_dollars": "-0.040590", "fees_paid_dollars": "0.017486",
            "total_traded_dollars": "1.570001", **fields}


async def test_rest_when_positions_have_six_decimal_amounts_reads_them_exactly(venue: Any) -> None:
    fake, client = venue
    body = {"market_positions": [_position("A")], "cursor": ""}
    fake.faults.append(Fault("GET", "/portfolio/positions", status=200, body=body))

    (position,) = await client.all_positions()

    assert (position.exposure_micros, position.realized_pnl_micros, position.fees_paid_micros) == (
        1_570_001,
        -40_590,
        17_486,
    )
    assert (position.exposure, position.realized_pnl, position.fees_paid) == (15_701, -406, 175)


async def test_rest_when_malformed_position_is_of_a_market_we_do_not_trade_leaves_it_out(venue: Any) -> None:
    fake, client = venue
    client.own_markets = frozenset({"A"})
    body = {"market_positions": [_position("OTHER", position_fp="three"), _position("A")], "cursor": ""}
    fake.faults.append(Fault("GET", "/portfolio/positions", status=200, body=body))

    positions = await client.all_positions()

    assert [p.ticker for p in positions] == ["A"]
    assert client.malformed_items == 1


@pytest.mark.parametrize("own", [frozenset({"A"}), None], ids=["own-market", "markets-unknown"])
async def test_rest_when_malformed_position_is_of_our_market_fails_the_read_naming_it(
    venue: Any, own: frozenset[str] | None
) -> None:
    fake, client = venue
    client.own_markets = own
    body = {"market_positions": [_position("A", fees_paid_dollars="0.0174861")], "cursor": ""}
    fake.faults.append(Fault("GET", "/portfolio/positions", status=200, body=body))

    with pytest.raises(MalformedMessageError, match=r"item 0 \(A\).*fees_paid_dollars"):
        await client.all_positions()


async def test_rest_when_fill_item_has_no_ticker_fails_the_read(venue: Any) -> None:
    fake, client = venue
    client.own_markets = frozenset({"A"})
    fake.faults.append(Fault("GET", "/portfolio/fills", status=200, body={"fills": [{"fee_cost": "x"}]}))

    with pytest.raises(MalformedMessageError, match="market unreadable"):
        await client.all_fills()


# --- subaccounts ---------------------------------------------------------------------------------


async def test_rest_when_subaccount_set_sends_it_on_writes_and_every_account_read(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    fake = FakeKalshi(public_key=rsa_key.public_key(), key_id=KEY_ID)
    async with serve_asgi(fake.app()) as url, await _client(fake, rsa_key, url, subaccount=3) as client:
        (placed,) = await client.batch_create_orders([_order("s-1")])
        await client.batch_cancel_orders([(placed.order_id, "T-1")])
        with pytest.raises(NotFoundError):
            await client.cancel_order("ord-x", ticker="T-1")
        await client.all_positions()
        await client.all_orders(status="resting")
        await client.all_fills()
        await client.cancel_all_orders()
        await client.create_order_group(1000)

    requests = {(m, p): (q, b) for m, p, q, b in fake.requests}
    assert requests[("POST", BATCH)][1]["orders"][0]["subaccount"] == 3
    assert requests[("DELETE", BATCH)][1]["orders"][0] == {"order_id": "ord-1", "market_ticker": "T-1",
                                                          "subaccount": 3}
    assert requests[("DELETE", "/portfolio/events/orders/ord-x")][0] == {"market_ticker": "T-1", "subaccount": "3"}
    for path in ("/portfolio/positions", "/portfolio/orders", "/portfolio/fills"):
        assert requests[("GET", path)][0]["subaccount"] == "3", path
    assert requests[("DELETE", "/portfolio/events/orders")][0] == {"subaccount": "3"}
    assert requests[("POST", "/portfolio/order_groups/create")][1]["subaccount"] == 3


async def test_rest_when_primary_account_reads_say_subaccount_0_and_writes_leave_it_out(venue: Any) -> None:
    fake, client = venue
    (placed,) = await client.batch_create_orders([_order("p-1")])
    await client.batch_cancel_orders([(placed.order_id, "T-1")])
    await client.all_orders()
    await client.all_fills()

    requests = {(m, p): (q, b) for m, p, q, b in fake.requests}
    assert "subaccount" not in requests[("POST", BATCH)][1]["orders"][0]
    assert "subaccount" not in requests[("DELETE", BATCH)][1]["orders"][0]
    # Kalshi's default for orders and fills is every subaccount: ours is said explicitly
    assert requests[("GET", "/portfolio/orders")][0]["subaccount"] == "0"
    assert requests[("GET", "/portfolio/fills")][0]["subaccount"] == "0"


def test_rest_when_subaccount_out_of_range_refuses_it() -> None:
    clock = LiveClock()
    with pytest.raises(ValueError, match="subaccount must be 0"):
        KalshiRestClient("http://127.0.0.1:1/trade-api/v2", None, clock, subaccount=64)  # type: ignore[arg-type]
