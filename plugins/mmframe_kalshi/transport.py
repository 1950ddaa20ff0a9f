"""The Kalshi client's one transport interface: a signed `WireRequest` in, a `RawResponse` out.

Two implementations sit behind it, and they put the same bytes on the wire:

* `FastPathTransport`: a warm connection of `fastpath.FastPathPool`, written synchronously in the
  caller's step (`Transport.try_send`; None when no connection is idle);
* `HttpxTransport`: httpx, for everything else (reads, retries, the fast path's overflow).

Both frame a request the same way: ``host`` first, the request's own fields in order, then
``content-length`` (always, also for no body); httpx is stripped of its default fields (user
agent, accept-encoding, connection) so nothing else is added. Both raise `TransportError` with
``sent`` saying whether the venue may have seen the request. Signing, re-signing, rate limits and
the mapping of responses to typed errors live once, in `rest.KalshiRestClient`, above this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from mmframe_kalshi.errors import TransportError
from mmframe_kalshi.fastpath import FastPathError, FastPathPool, RawResponse, host_header

__all__ = ["FastPathTransport", "HttpxTransport", "RawResponse", "Transport", "WireRequest", "frame_fields"]

# httpx adds these to every request unless told otherwise; the fast path sends none of them.
_HTTPX_DEFAULTS = ("accept", "accept-encoding", "connection", "user-agent")


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request as it goes on the wire: ``target`` is the signed path plus its query string;
    ``headers`` the request's own fields in order (``host`` and ``content-length`` are the
    transport's); ``body`` the bytes, or None."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None


class Transport(Protocol):
    """Sends `WireRequest`s to one venue host."""

    def try_send(self, request: WireRequest) -> Awaitable[RawResponse] | None:
        """Write ``request`` before returning and give an awaitable for its response; None (nothing
        written) if that cannot happen right now. Never awaits."""
        ...

    async def send(self, request: WireRequest) -> RawResponse:
        """Send ``request`` and wait for its response (`TransportError` if none came)."""
        ...


def frame_fields(host: str, request: WireRequest) -> list[tuple[str, str]]:
    """Every header field of ``request`` in wire order: host, its own fields, content-length."""
    return [("host", host), *request.headers, ("content-length", str(len(request.body or b"")))]


class FastPathTransport:
    """`Transport` over a `FastPathPool`'s warm connections (``try_send`` only writes synchronously)."""

    def __init__(self, pool: FastPathPool) -> None:
        self.pool = pool

    def try_send(self, request: WireRequest) -> Awaitable[RawResponse] | None:
        future = self.pool.try_send(request.method, request.target, request.headers, request.body)
        return None if future is None else _answer(request, future)

    async def send(self, request: WireRequest) -> RawResponse:
        sent = self.try_send(request)
        if sent is None:
            raise TransportError(f"{request.method} {request.target}: no idle fast-path connection", sent=False)
        return await sent


async def _answer(request: WireRequest, future: asyncio.Future[RawResponse]) -> RawResponse:
    try:
        return await future
    except FastPathError as exc:
        raise TransportError(f"{request.method} {request.target}: {exc}", sent=exc.sent) from exc


class HttpxTransport:
    """`Transport` over an ``httpx.AsyncClient`` to ``url``'s origin (its default fields removed)."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        parsed = httpx.URL(url)
        self.client = client
        self.origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        self.host = host_header(url)
        for name in _HTTPX_DEFAULTS:
            if name in client.headers:
                del client.headers[name]

    def try_send(self, request: WireRequest) -> Awaitable[RawResponse] | None:
        return None  # httpx writes only after a few turns of the event loop

    async def send(self, request: WireRequest) -> RawResponse:
        try:
            response = await self.client.request(
                request.method, self.origin + request.target, content=request.body,
                headers=frame_fields(self.host, request),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransportError(f"{request.method} {request.target}: {type(exc).__name__}: {exc}", sent=False) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"{request.method} {request.target}: {type(exc).__name__}: {exc}", sent=True) from exc
        headers: Sequence[tuple[bytes, bytes]] = response.headers.raw
        return RawResponse(response.status_code, tuple((k.lower(), v) for k, v in headers), response.content)
