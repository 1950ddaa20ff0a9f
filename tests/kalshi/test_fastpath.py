"""The fast order path: `FastPathPool` and the REST client's ``begin_*`` methods over real loopback
sockets, against the simulator and against small raw (and TLS) servers where a misbehaving server
is needed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import itertools
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_kalshi.auth import PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import ServerError, TransportError
from mmframe_kalshi.fastpath import FastPathError, FastPathPool, RawResponse, RequestEncoder
from mmframe_kalshi.limiter import Bucket
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, RetryPolicy, amend_path

from mmframe.api import BookSide, LiveClock, TestClock

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator
pytestmark = pytest.mark.anyio

RAIN = "SIM-RAIN-NYC"
RETRY = RetryPolicy(attempts=3, base_s=0.001, max_s=0.002)


@dataclass
class Venue:
    sim: Any
    client: KalshiRestClient
    credentials: KalshiCredentials

    async def fault(self, action: str, **params: Any) -> None:
        async with httpx.AsyncClient() as admin:
            response = await admin.post(self.sim.admin_url + "/faults", json={"action": action, **params})
            response.raise_for_status()

    async def place(self, *cids: str, price: int = 200) -> list[str]:
        placed = await self.client.batch_create_orders([_bid(cid, price) for cid in cids])
        assert all(p.error is None for p in placed), placed
        return [p.order_id for p in placed]


def _bid(cid: str, price: int = 200, size: int = 500) -> CreateOrderRequest:
    return CreateOrderRequest(ticker=RAIN, side=BookSide.BID, price=price, count=size, client_order_id=cid)


def _amend_args(cid: str, new_cid: str, price: int = 300) -> dict[str, Any]:
    return {
        "ticker": RAIN,
        "side": BookSide.BID,
        "price": price,
        "total_count": 500,
        "client_order_id": cid,
        "updated_client_order_id": new_cid,
    }


def _same(a: Any, b: Any, **ignored: Any) -> bool:
    """Equal apart from ids and timestamps (two orders cannot share those)."""
    blank = {"ts_ms": None, **ignored}
    return bool(dataclasses.replace(a, **blank) == dataclasses.replace(b, **blank))


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    async with start_simulator(seed=7) as sim:
        key_id, pem = sim.create_api_key()
        credentials = KalshiCredentials.from_pem(key_id, pem)
        clock = LiveClock()
        client = KalshiRestClient(sim.rest_url, RequestSigner(credentials, clock), clock, retry=RETRY)
        await client.open_fast_path()
        try:
            yield Venue(sim, client, credentials)
        finally:
            await client.aclose()


# --- results equal the async path's ---------------------------------------------------------------


async def test_begin_amend_when_connection_idle_returns_what_amend_order_returns(venue: Venue) -> None:
    fast_id, slow_id = await venue.place("fast-1", "slow-1")
    sent = venue.client.requests_sent

    pending = venue.client.begin_amend_order(fast_id, **_amend_args("fast-1", "fast-2"))
    assert pending is not None and venue.client.requests_sent == sent + 1
    fast = await pending
    slow = await venue.client.amend_order(slow_id, **_amend_args("slow-1", "slow-2"))

    assert fast.client_order_id == "fast-2" and slow.client_order_id == "slow-2"
    assert _same(fast, slow, order_id="", client_order_id="")
    resting = {o.client_order_id: o.price for o in venue.sim.exchange.resting_orders(None)}
    assert resting["fast-2"] == resting["slow-2"] and "fast-1" not in resting


async def test_begin_batch_create_when_connection_idle_returns_what_batch_create_returns(venue: Venue) -> None:
    pending = venue.client.begin_batch_create_orders([_bid("f-1"), _bid("f-2", 400)])
    assert pending is not None
    fast = await pending
    slow = await venue.client.batch_create_orders([_bid("s-1"), _bid("s-2", 400)])

    assert [p.client_order_id for p in fast] == ["f-1", "f-2"]
    assert all(p.error is None and p.order_id for p in fast)
    for f, s in zip(fast, slow, strict=True):
        assert _same(f, s, order_id="", client_order_id="")


async def test_begin_batch_cancel_when_connection_idle_returns_what_batch_cancel_returns(venue: Venue) -> None:
    a, b, c, d = await venue.place("c-1", "c-2", "c-3", "c-4")

    pending = venue.client.begin_batch_cancel_orders([(a, RAIN), (b, None)])
    assert pending is not None
    fast = await pending
    slow = await venue.client.batch_cancel_orders([(c, RAIN), (d, None)])

    assert [r.order_id for r in fast] == [a, b]
    for f, s in zip(fast, slow, strict=True):
        assert _same(f, s, order_id="", client_order_id="")
    assert not [o for o in venue.sim.exchange.resting_orders(None) if (o.client_order_id or "").startswith("c-")]


async def test_begin_batch_create_when_client_ids_repeat_raises_value_error(venue: Venue) -> None:
    with pytest.raises(ValueError, match="client_order_id"):
        venue.client.begin_batch_create_orders([_bid("dup"), _bid("dup")])


async def test_begin_amend_when_order_id_is_not_a_valid_target_raises_value_error(venue: Venue) -> None:
    with pytest.raises(ValueError, match="not a valid HTTP"):
        venue.client.begin_amend_order("bad id", **_amend_args("a", "b"))
    assert venue.client.fast is not None and venue.client.fast.describe()["idle"] == venue.client.fast.size


async def test_begin_when_nothing_to_send_returns_none(venue: Venue) -> None:
    assert venue.client.begin_batch_create_orders([]) is None
    assert venue.client.begin_batch_cancel_orders([]) is None


# --- the bytes are on the socket before begin_* returns -------------------------------------------


async def test_begin_amend_when_it_returns_the_request_is_written_and_the_connection_busy(venue: Venue) -> None:
    (order_id,) = await venue.place("w-1")
    pool = venue.client.fast
    assert pool is not None

    pending = venue.client.begin_amend_order(order_id, **_amend_args("w-1", "w-2"))

    busy = [c for c in pool._conns if c.state.value == "busy"]
    assert pending is not None and len(busy) == 1
    assert busy[0].transport is not None and busy[0].transport.get_write_buffer_size() == 0
    await pending
    assert pool.describe()["busy"] == 0


async def test_try_send_when_it_returns_the_server_already_has_the_request() -> None:
    with RawServer() as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            future = pool.try_send("POST", "/trade-api/v2/x", [("content-type", "application/json")], b'{"a":1}')
            assert future is not None
            # Block the event loop: only bytes already handed to the kernel can reach the server now.
            assert server.received.wait(10)
            assert server.requests[0].startswith(b"POST /trade-api/v2/x HTTP/1.1\r\n")
            assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')
            response = await future
            assert (response.status, response.body) == (200, b'{"ok":true}')
        finally:
            await pool.aclose()


# --- when the fast path cannot proceed: None, nothing taken -----------------------------------------


async def test_begin_amend_when_no_connection_idle_returns_none_and_takes_nothing(venue: Venue) -> None:
    a, b = await venue.place("n-1", "n-2")
    client = KalshiRestClient(
        venue.sim.rest_url, RequestSigner(venue.credentials, LiveClock()), LiveClock(), retry=RETRY,
        fast_connections=1,
    )
    presigner = PreSigner(RequestSigner(venue.credentials, LiveClock()), LiveClock())
    client.presigner = presigner
    client.presign_order(a)
    presigner.refill()
    bucket = client.limiter.buckets[Bucket.WRITE]
    try:
        # Not opened yet: the first call finds no connection (and starts opening them).
        assert client.begin_amend_order(a, **_amend_args("n-1", "n-1b")) is None
        assert bucket.tokens == bucket.capacity and presigner.hits == 0 and client.requests_sent == 0
        assert client.fast is not None
        await client.fast.open()
        pending = client.begin_amend_order(a, **_amend_args("n-1", "n-1b"))
        assert pending is not None
        # The only connection is busy until the response is read.
        assert client.begin_amend_order(b, **_amend_args("n-2", "n-2b")) is None
        assert presigner.hits == 1 and client.requests_sent == 1
        await pending
    finally:
        await client.aclose()


async def test_begin_amend_when_limiter_empty_returns_none_and_sends_nothing(venue: Venue) -> None:
    (order_id,) = await venue.place("l-1")
    client = venue.client
    assert client.fast is not None
    client.limiter.buckets[Bucket.WRITE].set_limit(dataclasses.replace(client.limiter.limits.write, refill_rate=1))
    while client.limiter.try_acquire("POST", amend_path(order_id)):
        pass
    sent = client.fast.sent

    assert client.begin_amend_order(order_id, **_amend_args("l-1", "l-2")) is None
    assert client.fast.sent == sent and client.fast.describe()["idle"] == client.fast.size


async def test_begin_amend_when_fast_path_disabled_returns_none() -> None:
    clock = TestClock()
    credentials = KalshiCredentials.from_pem("k", _ed25519_pem())
    client = KalshiRestClient("http://127.0.0.1:9/trade-api/v2", RequestSigner(credentials, clock), clock,
                              fast_order_path=False)
    try:
        assert client.fast is None
        assert client.begin_amend_order("o", **_amend_args("a", "b")) is None
    finally:
        await client.aclose()


# --- failures map to the async path's errors ------------------------------------------------------


async def test_begin_amend_when_server_closes_mid_request_raises_transport_error_sent() -> None:
    with RawServer(close_without_answer=True) as server:
        clock = LiveClock()
        credentials = KalshiCredentials.from_pem("k", _ed25519_pem())
        client = KalshiRestClient(server.url + "/trade-api/v2", RequestSigner(credentials, clock), clock,
                                  retry=RETRY)
        try:
            await client.open_fast_path()
            pending = client.begin_amend_order("ord-1", **_amend_args("a", "b"))
            assert pending is not None
            with pytest.raises(TransportError) as caught:
                await pending
            assert caught.value.sent is True
            assert len(server.requests) == 1  # an amend with an unknown outcome is not re-sent
        finally:
            await client.aclose()


async def test_begin_amend_when_venue_answers_429_once_retries_like_amend_order(venue: Venue) -> None:
    (order_id,) = await venue.place("r-1")
    await venue.fault("burst_429", count=1)

    pending = venue.client.begin_amend_order(order_id, **_amend_args("r-1", "r-2"))
    assert pending is not None
    result = await pending

    assert result.client_order_id == "r-2" and venue.client.rate_limited == 1
    assert venue.client.requests_sent == 3  # the create, the refused amend, the retried amend


async def test_begin_amend_when_venue_answers_500_raises_server_error_like_amend_order(venue: Venue) -> None:
    fast_id, slow_id = await venue.place("e-1", "e-2")
    await venue.fault("fail_writes", share=1.0)

    pending = venue.client.begin_amend_order(fast_id, **_amend_args("e-1", "e-1b"))
    assert pending is not None
    with pytest.raises(ServerError) as fast:
        await pending
    with pytest.raises(ServerError) as slow:
        await venue.client.amend_order(slow_id, **_amend_args("e-2", "e-2b"))
    assert fast.value.status == slow.value.status == 500 and fast.value.code == slow.value.code


async def test_begin_batch_cancel_when_venue_answers_500_retries_like_batch_cancel(venue: Venue) -> None:
    a, b = await venue.place("x-1", "x-2")
    await venue.fault("fail_writes", share=1.0)
    sent = venue.client.requests_sent

    pending = venue.client.begin_batch_cancel_orders([(a, RAIN)])
    assert pending is not None
    with pytest.raises(ServerError):
        await pending
    fast_attempts = venue.client.requests_sent - sent
    with pytest.raises(ServerError):
        await venue.client.batch_cancel_orders([(b, RAIN)])

    assert fast_attempts == RETRY.attempts == venue.client.requests_sent - sent - fast_attempts


async def test_begin_batch_create_when_venue_answers_500_settles_like_batch_create(venue: Venue) -> None:
    await venue.fault("fail_writes", share=1.0)

    pending = venue.client.begin_batch_create_orders([_bid("u-1")])
    assert pending is not None
    fast = await pending
    slow = await venue.client.batch_create_orders([_bid("u-2")])

    assert isinstance(fast[0].error, ServerError) and isinstance(slow[0].error, ServerError)
    assert _same(fast[0], slow[0], client_order_id="", error=None)


async def test_begin_amend_when_presigned_timestamp_refused_resigns_and_succeeds(venue: Venue) -> None:
    (order_id,) = await venue.place("p-1")
    behind = TestClock(LiveClock().now_ns() - 60 * 1_000_000_000)  # the venue's window is 30 s
    presigner = PreSigner(RequestSigner(venue.credentials, behind), behind)
    venue.client.presigner = presigner
    venue.client.presign_order(order_id)
    presigner.refill()
    sent = venue.client.requests_sent

    pending = venue.client.begin_amend_order(order_id, **_amend_args("p-1", "p-2"))
    assert pending is not None
    result = await pending

    assert result.client_order_id == "p-2" and presigner.hits == 1
    assert venue.client.requests_sent == sent + 2 and venue.client.fast is not None
    assert venue.client.fast.sent == 2  # the re-signed request went the fast way too


async def test_fast_path_when_response_is_late_times_out_and_closes_the_connection(venue: Venue) -> None:
    (order_id,) = await venue.place("t-1")
    clock = LiveClock()
    client = KalshiRestClient(venue.sim.rest_url, RequestSigner(venue.credentials, clock), clock, retry=RETRY,
                              timeout=httpx.Timeout(0.1))
    try:
        await client.open_fast_path()
        await venue.fault("delay", ms=500)
        pending = client.begin_amend_order(order_id, **_amend_args("t-1", "t-2"))
        assert pending is not None
        with pytest.raises(TransportError, match="no complete response") as caught:
            await pending
        assert caught.value.sent is True
        assert client.fast is not None and client.fast.describe()["busy"] == 0
    finally:
        await venue.fault("delay", ms=0)
        await client.aclose()


# --- connection upkeep ----------------------------------------------------------------------------


async def test_pool_when_idle_connection_older_than_max_idle_replaces_it_before_use(venue: Venue) -> None:
    clock = TestClock()
    signer = RequestSigner(venue.credentials, LiveClock())
    status = "/trade-api/v2/exchange/status"
    pool = FastPathPool(venue.sim.rest_url, size=1, max_idle_s=4.0, clock=clock)
    await pool.open()
    try:
        first = pool._conns[0]
        clock.advance(4.0)
        assert pool.has_idle()  # exactly max_idle_s: still usable
        clock.advance(0.001)

        assert pool.try_send("GET", status, list(signer.headers("GET", status).items())) is None
        assert pool.replaced_stale == 1 and first.state.value == "closed"
        await _until(pool.has_idle)
        assert pool._conns[0] is not first
        response = await _sent(pool.try_send("GET", status, list(signer.headers("GET", status).items())))
        assert response.status == 200 and b"trading_active" in response.body
    finally:
        await pool.aclose()


async def test_pool_when_server_answers_connection_close_discards_the_connection() -> None:
    with RawServer(extra_headers=b"Connection: close\r\n") as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            response = await _sent(pool.try_send("GET", "/x", []))
            assert response.status == 200 and first.state.value == "closed"
            await _until(pool.has_idle)
            assert pool._conns[0] is not first and pool.connects == 2
        finally:
            await pool.aclose()


async def test_pool_when_server_unreachable_open_returns_and_try_send_gives_none() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    pool = FastPathPool(f"http://127.0.0.1:{port}", size=1, connect_timeout_s=1.0)
    try:
        await pool.open()
        assert pool.try_send("GET", "/x", []) is None and pool.connect_failures >= 1
    finally:
        await pool.aclose()


async def test_pool_when_closed_fails_requests_in_flight_as_sent() -> None:
    with RawServer(answer=False) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        future = pool.try_send("GET", "/x", [])
        assert future is not None
        await pool.aclose()
        with pytest.raises(FastPathError) as caught:
            await future
        assert caught.value.sent is True


def test_pool_when_url_is_not_http_raises_value_error() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        FastPathPool("ftp://example.com")
    with pytest.raises(ValueError, match="size"):
        FastPathPool("http://example.com", size=0)


async def test_pool_over_tls_when_handshake_done_writes_and_reads_responses(tmp_path: Path) -> None:
    cert_pem, key_pem = _self_signed_cert()
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())

    with RawServer(ssl_context=server_ctx) as server:
        pool = FastPathPool(server.url.replace("http://", "https://"), size=1, ssl_context=client_ctx)
        await pool.open()
        try:
            assert pool.connects == 1
            for _ in range(2):  # the same connection serves one request after another
                future = pool.try_send("POST", "/trade-api/v2/x", [], b"{}")
                assert future is not None
                assert server.received.wait(10)  # written without the loop turning
                server.received.clear()
                assert (await future).body == b'{"ok":true}'
            assert pool.connects == 1 and len(server.requests) == 2
        finally:
            await pool.aclose()


# --- request formatting: strict checks, nothing written when refused ------------------------------


def test_request_encoder_when_request_is_valid_formats_host_headers_in_order_and_content_length() -> None:
    encoder = RequestEncoder("127.0.0.1:8080")

    post = encoder.encode("POST", "/trade-api/v2/x?a=1", [("accept", "application/json"), ("X-Tab", "a\tb")], b"{}")
    get = encoder.encode("GET", "/x", [], None)

    assert post == (
        b"POST /trade-api/v2/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\naccept: application/json\r\n"
        b"X-Tab: a\tb\r\ncontent-length: 2\r\n\r\n{}"
    )
    assert get == b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 0\r\n\r\n"


REFUSED_REQUESTS = {
    "cr-lf-in-header-value": ("POST", "/x", [("x-a", "b\r\nx-injected: 1")]),
    "lf-in-header-value": ("POST", "/x", [("x-a", "b\nc")]),
    "nul-in-header-value": ("POST", "/x", [("x-a", "b\x00c")]),
    "non-ascii-header-value": ("POST", "/x", [("x-a", "caf\u00e9")]),
    "space-in-target": ("POST", "/a b", []),
    "cr-lf-in-target": ("POST", "/a\r\nb", []),
    "empty-target": ("POST", "", []),
    "unknown-method": ("BREW", "/x", []),
    "head-method": ("HEAD", "/x", []),
    "header-name-not-a-token": ("POST", "/x", [("x a", "b")]),
    "empty-header-name": ("POST", "/x", [("", "b")]),
    "content-length-header": ("POST", "/x", [("Content-Length", "5")]),
    "host-header": ("POST", "/x", [("host", "elsewhere")]),
    "transfer-encoding-header": ("POST", "/x", [("transfer-encoding", "chunked")]),
}


@pytest.mark.parametrize("method,target,headers", REFUSED_REQUESTS.values(), ids=REFUSED_REQUESTS.keys())
async def test_try_send_when_request_is_malformed_raises_value_error_and_writes_nothing(
    method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    with RawServer() as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            conn = pool._conns[0]
            with pytest.raises(ValueError, match=r"not a valid HTTP/1\.1 request"):
                pool.try_send(method, target, headers, b"{}")
            assert conn.state.value == "idle" and pool.sent == 0

            response = await _sent(pool.try_send("POST", "/ok", [("x-a", "b")], b"{}"))
            # The valid request is the first thing the server read: the refused one wrote nothing.
            assert response.status == 200 and len(server.requests) == 1
            assert server.requests[0].startswith(b"POST /ok HTTP/1.1\r\n") and pool._conns == [conn]
        finally:
            await pool.aclose()


# --- response parsing -----------------------------------------------------------------------------

CHUNKED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    b"5\r\n{\"ok\"\r\n6\r\n:true}\r\n0\r\nx-trailer: t\r\n\r\n"
)
# A 1xx, then the final response with a padded header value and a chunked body with a trailer.
INFORMATIONAL_THEN_CHUNKED = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + (
    CHUNKED.replace(b"content-type: application/json", b"x-padded:  v \t")
)
CONTENT_LENGTH = b"HTTP/1.1 201 Created\r\ncontent-length: 11\r\nx-a: b\r\n\r\n{\"ok\":true}"
EXPECTED = {
    INFORMATIONAL_THEN_CHUNKED: RawResponse(
        200, ((b"x-padded", b"v"), (b"transfer-encoding", b"chunked")), b'{"ok":true}'
    ),
    CONTENT_LENGTH: RawResponse(201, ((b"content-length", b"11"), (b"x-a", b"b")), b'{"ok":true}'),
}


async def test_pool_when_response_is_chunked_joins_the_body_and_reuses_the_connection() -> None:
    with RawServer(response=CHUNKED) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            for _ in range(2):
                response = await _sent(pool.try_send("POST", "/x", [], b"{}"))
                assert response == RawResponse(
                    200, ((b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")),
                    b'{"ok":true}',
                )
            assert pool.connects == 1 and len(server.requests) == 2 and pool.describe()["idle"] == 1
        finally:
            await pool.aclose()


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds) if b > a]


async def _fed_in_pieces(pool: FastPathPool, server: RawServer, pieces: list[bytes]) -> RawResponse:
    """Send a request (the server never answers) and hand ``pieces`` to the connection one
    `data_received` call each, as the event loop would."""
    server.received.clear()
    future = pool.try_send("POST", "/x", [], b"{}")
    assert future is not None and server.received.wait(10)
    (conn,) = [c for c in pool._conns if c.state.value == "busy"]
    for piece in pieces:
        assert not future.done()
        conn.data_received(piece)
    assert future.done()
    return future.result()


async def test_pool_when_response_arrives_byte_by_byte_parses_it_and_keeps_the_connection() -> None:
    with RawServer(answer=False) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            for raw, expected in EXPECTED.items():
                pieces = [raw[i : i + 1] for i in range(len(raw))]
                assert await _fed_in_pieces(pool, server, pieces) == expected
            assert pool.connects == 1 and pool.describe()["idle"] == 1
        finally:
            await pool.aclose()


def test_pool_when_response_is_split_anywhere_parses_it_and_keeps_the_connection() -> None:
    loop = asyncio.new_event_loop()
    with RawServer(answer=False) as server:
        pool = FastPathPool(server.url, size=1)
        loop.run_until_complete(pool.open())
        try:

            @settings(max_examples=60, deadline=None)
            @given(raw=st.sampled_from(list(EXPECTED)), cuts=st.lists(st.integers(0, 300), max_size=12))
            def split_anywhere(raw: bytes, cuts: list[int]) -> None:
                pieces = _split(raw, [c for c in cuts if c < len(raw)])
                assert loop.run_until_complete(_fed_in_pieces(pool, server, pieces)) == EXPECTED[raw]
                assert pool.connects == 1 and pool.describe()["idle"] == 1

            split_anywhere()
        finally:
            loop.run_until_complete(pool.aclose())
            loop.close()


async def test_pool_when_response_is_http_1_0_returns_it_and_discards_the_connection() -> None:
    raw = b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
    with RawServer(response=raw) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            response = await _sent(pool.try_send("GET", "/x", []))
            assert (response.status, response.body) == (200, b"ok") and first.state.value == "closed"
            await _until(pool.has_idle)
            assert pool._conns[0] is not first and pool.connects == 2
        finally:
            await pool.aclose()


async def test_pool_when_body_is_ended_by_the_server_closing_returns_it_and_discards_the_connection() -> None:
    with RawServer(response=b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end", close_after=True) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            response = await _sent(pool.try_send("GET", "/x", []))
            assert (response.status, response.body) == (200, b"until the end") and first.state.value == "closed"
        finally:
            await pool.aclose()


async def test_pool_when_server_closes_before_the_body_is_complete_fails_as_sent() -> None:
    with RawServer(response=b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", close_after=True) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            with pytest.raises(FastPathError, match="before the response was complete") as caught:
                await _sent(pool.try_send("GET", "/x", []))
            assert caught.value.sent is True and first.state.value == "closed"
        finally:
            await pool.aclose()


MALFORMED_RESPONSES = {
    "not-http": b"garbage\r\n\r\n",
    "bad-status": b"HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n",
    "conflicting-lengths": b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    "switching-protocols": b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED_RESPONSES.values(), ids=MALFORMED_RESPONSES.keys())
async def test_pool_when_response_is_malformed_fails_as_sent_and_discards_the_connection(raw: bytes) -> None:
    with RawServer(response=raw) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            with pytest.raises(FastPathError, match="HTTP protocol error") as caught:
                await _sent(pool.try_send("GET", "/x", []))
            assert caught.value.sent is True and first.state.value == "closed"
            await _until(pool.has_idle)
            assert pool._conns[0] is not first
        finally:
            await pool.aclose()


async def test_pool_when_a_second_response_follows_the_first_returns_the_first_and_discards() -> None:
    raw = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"
    with RawServer(response=raw) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            first = pool._conns[0]
            response = await _sent(pool.try_send("GET", "/x", []))
            assert response.body == b"a"
            await _until(lambda: first.state.value == "closed")  # the unsolicited second one
        finally:
            await pool.aclose()


async def test_pool_when_request_is_cancelled_discards_the_connection() -> None:
    with RawServer(answer=False) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            conn = pool._conns[0]
            future = pool.try_send("POST", "/x", [], b"{}")
            assert future is not None
            future.cancel()
            await _until(lambda: conn.state.value == "closed")  # a late response must reach nobody
            await _until(pool.has_idle)
            assert pool._conns[0] is not conn
        finally:
            await pool.aclose()


async def test_pool_when_bytes_arrive_on_an_idle_connection_discards_it() -> None:
    with RawServer(answer=False) as server:
        pool = FastPathPool(server.url, size=1)
        await pool.open()
        try:
            conn = pool._conns[0]
            conn.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            assert conn.state.value == "closed" and pool.describe()["idle"] == 0
            await _until(pool.has_idle)
            assert pool.connects == 2
        finally:
            await pool.aclose()


# --- helpers --------------------------------------------------------------------------------------


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def _sent(future: asyncio.Future[Any] | None) -> Any:
    assert future is not None
    return await future


@dataclass
class RawServer:
    """A blocking HTTP/1.1 server in a thread (so it reads while the test blocks the event loop):
    answers each request with ``{"ok":true}`` (or with the raw bytes of ``response``), or closes
    without answering, or never answers."""

    close_without_answer: bool = False
    answer: bool = True
    extra_headers: bytes = b""
    response: bytes = b""  # sent as it is instead of the usual answer
    close_after: bool = False  # close the connection after answering
    ssl_context: ssl.SSLContext | None = None
    requests: list[bytes] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    _sock: socket.socket = field(default_factory=socket.socket)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> RawServer:
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            self._spawn(self._serve, conn)

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(raw, server_side=True)
            conn.settimeout(0.05)
            buffer = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = _content_length(head)
                    if len(rest) < length:
                        break
                    self.requests.append(head + b"\r\n\r\n" + rest[:length])
                    buffer = rest[length:]
                    self.received.set()
                    if self.close_without_answer:
                        return
                    if self.answer:
                        conn.sendall(
                            self.response
                            or b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n"
                            + self.extra_headers + b"\r\n" + b'{"ok":true}'
                        )
                        if self.extra_headers or self.close_after:
                            return
        except OSError:
            return
        finally:
            conn.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _self_signed_cert() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem

