"""The client's two transports, differentially: the fast path and httpx put the same bytes on the wire.

A capture server on a real loopback socket records every request byte for byte and answers ``{}``.
The same `WireRequest` (or the same client call, signed with a deterministic Ed25519 key on a
frozen clock) is sent both ways and the captured bytes compared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_kalshi.auth import RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import KalshiError, TransportError
from mmframe_kalshi.fastpath import FastPathPool, host_header
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, RetryPolicy
from mmframe_kalshi.transport import FastPathTransport, HttpxTransport, WireRequest, frame_fields

from mmframe.api import BookSide, TestClock

_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class CaptureServer:
    """Reads whole HTTP/1.1 requests (content-length framed), keeps their bytes, answers ``{}``."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                writer.write(_ANSWER)
                await writer.drain()
        writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CaptureServer]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/trade-api/v2"
        async with server:
            yield self

    async def wait_for(self, n: int) -> None:
        with anyio.fail_after(5):
            while len(self.requests) < n:
                await asyncio.sleep(0.001)


async def _both_ways(request: WireRequest) -> tuple[bytes, bytes]:
    """``request`` sent by the fast path, then by httpx: the bytes the server received each time."""
    capture = CaptureServer()
    async with capture.running():
        pool = FastPathPool(capture.url, size=1)
        await pool.open()
        fast = FastPathTransport(pool)
        async with httpx.AsyncClient() as client:
            slow = HttpxTransport(client, capture.url)
            written = fast.try_send(request)
            assert written is not None
            assert (await written).body == b"{}"
            assert (await slow.send(request)).body == b"{}"
        await pool.aclose()
    assert len(capture.requests) == 2
    return capture.requests[0], capture.requests[1]


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=40)
_RESERVED = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"}
_PATH = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12), min_size=1,
                 max_size=4).map(lambda parts: "/trade-api/v2/" + "/".join(parts))


@st.composite
def wire_requests(draw: st.DrawFn) -> WireRequest:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    target = draw(_PATH)
    params = draw(st.lists(st.tuples(_TOKEN, _VALUE), max_size=3))
    if params:
        target += "?" + str(httpx.QueryParams(params))
    names = draw(st.lists(_TOKEN.filter(lambda n: n.lower() not in _RESERVED), max_size=4,
                          unique_by=str.lower))
    headers = tuple((name, draw(_VALUE)) for name in names)
    body = draw(st.none() | st.binary(max_size=300)) if method != "GET" else None
    return WireRequest(method, target, headers, body)


@settings(max_examples=40, deadline=None)
@given(wire_requests())
def test_a_request_when_sent_by_the_fast_path_and_by_httpx_arrives_as_the_same_bytes(request: WireRequest) -> None:
    fast, slow = anyio.run(_both_ways, request)
    assert fast == slow


def test_the_framing_when_made_by_both_transports_is_host_first_then_fields_then_content_length() -> None:
    request = WireRequest("POST", "/trade-api/v2/x?a=1", (("accept", "application/json"), ("x-k", "v")), b"{}")
    fast, slow = anyio.run(_both_ways, request)
    assert fast == slow
    head = fast.split(b"\r\n\r\n")[0].decode()
    port = head.split("host: 127.0.0.1:")[1].split("\r\n")[0]
    assert head == (f"POST /trade-api/v2/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\naccept: application/json\r\n"
                    "x-k: v\r\ncontent-length: 2")
    assert frame_fields("h", request)[0] == ("host", "h") and frame_fields("h", request)[-1] == ("content-length", "2")


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://127.0.0.1:80/x", "127.0.0.1"), ("https://api.example.com/trade-api/v2", "api.example.com"),
     ("https://api.example.com:8443/v2", "api.example.com:8443"), ("http://[::1]:9000/", "[::1]:9000")],
)
def test_host_header_when_the_port_is_the_default_leaves_it_out(url: str, host: str) -> None:
    assert host_header(url) == host


def test_host_header_when_the_url_has_no_host_refuses() -> None:
    with pytest.raises(ValueError, match="no host"):
        host_header("http:///path")


def test_fast_transport_when_no_connection_is_idle_refuses_to_send_and_says_nothing_was_sent() -> None:
    async def main() -> None:
        pool = FastPathPool("http://127.0.0.1:9/x", size=1)  # never opened: nothing idle
        with pytest.raises(TransportError, match="no idle fast-path connection") as caught:
            await FastPathTransport(pool).send(WireRequest("GET", "/x", ()))
        assert caught.value.sent is False
        await pool.aclose()

    anyio.run(main)


def test_httpx_transport_when_nothing_listens_says_nothing_was_sent() -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(TransportError) as caught:
                await HttpxTransport(client, "http://127.0.0.1:9/x").send(WireRequest("GET", "/x", ()))
        assert caught.value.sent is False

    anyio.run(main)


# --- the client: each fast call and its httpx twin write the same request ----------------------------


def _ed25519_credentials() -> KalshiCredentials:
    """Ed25519 signatures are deterministic: on a frozen clock, one request signs to one text."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KalshiCredentials.from_pem("key-1", pem)


_ORDERS = [
    CreateOrderRequest("SIM-A", BookSide.BID, 4500, 1000, "c-1"),
    CreateOrderRequest("SIM-A", BookSide.ASK, 5500, 250, "c-2", post_only=False),
]


async def _client_twice(call: str) -> tuple[bytes, bytes]:
    capture = CaptureServer()
    async with capture.running():
        clock = TestClock()
        client = KalshiRestClient(capture.url, RequestSigner(_ed25519_credentials(), clock), clock,
                                  retry=RetryPolicy(attempts=1), fast_connections=1)
        await client.open_fast_path()
        fast_call: Any
        slow_call: Any
        if call == "amend":
            args: dict[str, Any] = {"ticker": "SIM-A", "side": BookSide.BID, "price": 4600, "total_count": 1000,
                                    "client_order_id": "c-1", "updated_client_order_id": "c-3"}
            fast_call = client.begin_amend_order("order-1", **args)
            slow_call = client.amend_order("order-1", **args)
        elif call == "create":
            fast_call = client.begin_batch_create_orders(_ORDERS)
            slow_call = client.batch_create_orders(_ORDERS)
        else:
            pairs = [("order-1", "SIM-A"), ("order-2", None)]
            fast_call = client.begin_batch_cancel_orders(pairs)
            slow_call = client.batch_cancel_orders(pairs)
        assert fast_call is not None, "the fast path did not write"
        await capture.wait_for(1)
        first = capture.requests[0]
        with contextlib.suppress(KalshiError):  # "{}" is no answer to these: only the bytes matter
            await fast_call
        count = len(capture.requests)
        with contextlib.suppress(KalshiError):
            await slow_call
        second = capture.requests[count]
        assert client.fast is not None and client.fast.sent >= 1
        await client.aclose()
    return first, second


@pytest.mark.parametrize("call", ["amend", "create", "cancel"])
def test_a_client_order_call_when_made_fast_and_over_httpx_writes_the_same_request(call: str) -> None:
    fast, slow = anyio.run(_client_twice, call)
    assert fast == slow
    assert b"kalshi-access-signature" in fast.lower()
