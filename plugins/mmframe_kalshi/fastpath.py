"""`FastPathPool`: warm HTTP/1.1 connections that write an order request to the socket synchronously.

httpx hands a request to the socket only after one or more event-loop turns (its task, httpcore's
and anyio's awaits), behind every other ready callback. For the hot order endpoints this pool
instead serialises the request with h11 (sans-IO HTTP/1.1, the library httpcore itself uses) and
calls ``transport.write`` in the caller's own step: asyncio's socket transport sends at once when
its buffer is empty, and its SSL transport encrypts and sends at once after the handshake.

One request at a time per connection (no pipelining). Connections are opened in the background and
kept warm; one idle longer than ``max_idle_s`` (below the server's keep-alive timeout: uvicorn's
is 5 s) is closed and replaced before it is used, so a write does not race the server closing an
idle connection. A connection the server wants closed (``Connection: close``, HTTP/1.0) or that
broke the protocol is discarded, never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from mmframe.api import NANOS_PER_SECOND, Clock, LiveClock

logger = logging.getLogger(__name__)

DEFAULT_MAX_IDLE_S = 4.0
_RETRY_MIN_S = 0.05
_RETRY_MAX_S = 2.0


class FastPathError(Exception):
    """A fast-path request failed before its full response arrived.

    ``sent`` says whether the request's bytes were handed to the socket (then the venue may have
    processed it); False only if nothing was written.
    """

    def __init__(self, message: str, *, sent: bool) -> None:
        self.sent = sent
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A complete HTTP response: status, headers (lower-case names, as h11 gives them), body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class _State(enum.Enum):
    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"
    CLOSED = "closed"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: an asyncio Protocol driving an h11 client state machine."""

    def __init__(self, pool: FastPathPool) -> None:
        self._pool = pool
        self._h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.state = _State.CONNECTING
        self.idle_since_ns = 0
        self._future: asyncio.Future[RawResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._status = 0
        self._headers: tuple[tuple[bytes, bytes], ...] = ()
        self._body: list[bytes] = []

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state = _State.IDLE
        self.idle_since_ns = self._pool.now_ns()

    def data_received(self, data: bytes) -> None:
        try:
            self._h11.receive_data(data)
            self._process()
        except h11.ProtocolError as exc:
            self._discard(f"HTTP protocol error: {exc}")

    def eof_received(self) -> bool | None:
        try:
            self._h11.receive_data(b"")
            self._process()
        except h11.ProtocolError as exc:
            self._discard(f"HTTP protocol error at end of stream: {exc}")
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._discard(f"connection lost: {exc}" if exc else "connection closed by the server")

    # --- requests -------------------------------------------------------------------------------

    def send(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None, timeout_s: float
    ) -> asyncio.Future[RawResponse]:
        """Serialise and write the request now; the future gets the response (or a `FastPathError`)."""
        assert self.state is _State.IDLE and self.transport is not None
        content = body or b""
        try:
            request = h11.Request(
                method=method,
                target=target,
                headers=[("host", self._pool.host_header), *headers, ("content-length", str(len(content)))],
            )
            data = self._h11.send(request) or b""
            if content:
                data += self._h11.send(h11.Data(data=content)) or b""
            data += self._h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            if self._h11.our_state is h11.ERROR:  # nothing was written, but this h11 is spent
                self._discard("request could not be serialised")
            raise ValueError(f"{method} {target}: not a valid HTTP/1.1 request: {exc}") from exc
        loop = self._pool.loop
        future: asyncio.Future[RawResponse] = loop.create_future()
        self._future = future
        self._status, self._headers, self._body = 0, (), []
        self.state = _State.BUSY
        self._timer = loop.call_later(timeout_s, self._timed_out, timeout_s)
        future.add_done_callback(self._abandoned)
        self.transport.write(data)
        return future

    def close(self, reason: str) -> None:
        """Close now (the pool is closing, or the connection went stale)."""
        self._discard(reason)

    def _process(self) -> None:
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                self._status = event.status_code
                self._headers = tuple((bytes(k), bytes(v)) for k, v in event.headers)
            elif isinstance(event, h11.Data):
                self._body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._complete()
                return
            elif isinstance(event, h11.ConnectionClosed):
                self._discard("connection closed by the server")
                return
            # InformationalResponse (1xx): nothing to do, the final response follows.

    def _complete(self) -> None:
        future, self._future = self._future, None
        self._cancel_timer()
        if future is None:  # a response nobody asked for
            self._discard("unsolicited response")
            return
        response = RawResponse(self._status, self._headers, b"".join(self._body))
        self._body = []
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self.state = _State.IDLE
            self.idle_since_ns = self._pool.now_ns()
        else:  # Connection: close, HTTP/1.0, ...: never reuse
            self._discard("the server ends this connection")
        if not future.done():
            future.set_result(response)

    def _timed_out(self, timeout_s: float) -> None:
        self._timer = None
        self._discard(f"no complete response within {timeout_s:g} s")

    def _abandoned(self, future: asyncio.Future[RawResponse]) -> None:
        if future.cancelled() and self._future is future:  # the response would arrive to nobody
            self._discard("request cancelled")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _discard(self, reason: str) -> None:
        """Fail the request in flight (its bytes were written), close and leave the pool. Idempotent."""
        if self.state is _State.CLOSED:
            return
        self.state = _State.CLOSED
        self._cancel_timer()
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_exception(FastPathError(reason, sent=True))
        if self.transport is not None:
            if future is not None:  # mid-request: drop it, a late response must not be read
                self.transport.abort()
            else:
                self.transport.close()
        self._pool.discarded(self)


class FastPathPool:
    """Up to ``size`` warm connections to ``url``'s host; `try_send` writes a request synchronously."""

    def __init__(
        self,
        url: str,
        *,
        size: int = 2,
        max_idle_s: float = DEFAULT_MAX_IDLE_S,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"fast path needs an http:// or https:// URL with a host, got {url!r}")
        if size < 1:
            raise ValueError(f"fast path pool size must be >= 1, got {size}")
        if max_idle_s <= 0 or timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("fast path max_idle_s, timeout_s and connect_timeout_s must be positive")
        self.host = parts.hostname
        tls = parts.scheme == "https"
        self.port = parts.port or (443 if tls else 80)
        default_port = self.port == (443 if tls else 80)
        self.host_header = parts.netloc.rsplit("@", 1)[-1] if not default_port else self.host
        self._ssl = (ssl_context or ssl.create_default_context()) if tls else None
        self.size = size
        self.max_idle_ns = int(max_idle_s * NANOS_PER_SECOND)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._clock = clock or LiveClock()
        self._conns: list[_Connection] = []  # open or opening; idle ones are picked newest-idle first
        self._keeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._first_round = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.sent = 0
        self.replaced_stale = 0
        self.connects = 0
        self.connect_failures = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "FastPathPool used before start()"
        return self._loop

    @property
    def started(self) -> bool:
        return self._keeper is not None

    def now_ns(self) -> int:
        return self._clock.monotonic_ns()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start opening connections in the background (needs a running loop; idempotent)."""
        if self._keeper is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._keeper = self._loop.create_task(self._keep(), name="kalshi-fastpath")

    async def open(self, n: int | None = None) -> None:
        """Keep ``n`` (default ``size``) connections warm; returns once the first round of
        connection attempts finished (failures are retried in the background, never raised)."""
        if n is not None:
            if n < 1:
                raise ValueError(f"fast path pool size must be >= 1, got {n}")
            self.size = n
            self._wake.set()
        self.start()
        await self._first_round.wait()

    async def aclose(self) -> None:
        """Close every connection; requests in flight fail with `FastPathError` (sent=True)."""
        self._closed = True
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        for conn in list(self._conns):
            conn.close("fast path pool closed")
        self._conns.clear()

    # --- sending --------------------------------------------------------------------------------

    def has_idle(self) -> bool:
        """Whether `try_send` would write now (closes and replaces stale idle connections first)."""
        return self._pick() is not None

    def try_send(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None = None,
    ) -> asyncio.Future[RawResponse] | None:
        """Write ``method target`` on an idle connection now and return the response's future;
        None (nothing written) if no connection is idle. Never awaits, never blocks.

        ``target`` is the path with query; ``headers`` exclude host and content-length (added here).
        Raises ValueError (nothing written) if h11 refuses the request. The future fails with `FastPathError` (``sent=True``) if the connection breaks, the
        response is malformed or does not complete within ``timeout_s``.
        """
        conn = self._pick()
        if conn is None:
            return None
        future = conn.send(method, target, headers, body, self.timeout_s)
        self.sent += 1
        return future

    def describe(self) -> dict[str, int]:
        """Counters for ``/state``."""
        by_state = {s: 0 for s in _State}
        for conn in self._conns:
            by_state[conn.state] += 1
        return {
            "idle": by_state[_State.IDLE],
            "busy": by_state[_State.BUSY],
            "connecting": by_state[_State.CONNECTING],
            "sent": self.sent,
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "replaced_stale": self.replaced_stale,
        }

    def _pick(self) -> _Connection | None:
        if self._keeper is None:
            if self._closed:
                return None
            try:
                self.start()
            except RuntimeError:  # no running loop
                return None
        now = self.now_ns()
        best: _Connection | None = None
        for conn in list(self._conns):
            if conn.state is not _State.IDLE:
                continue
            if now - conn.idle_since_ns > self.max_idle_ns:
                self.replaced_stale += 1
                conn.close("idle too long")
            elif best is None or conn.idle_since_ns > best.idle_since_ns:
                best = conn
        return best

    # --- keeping connections warm ---------------------------------------------------------------

    def discarded(self, conn: _Connection) -> None:
        """A connection closed: forget it and have the keeper open a replacement."""
        if conn in self._conns:
            self._conns.remove(conn)
        self._wake.set()

    async def _keep(self) -> None:
        delay = _RETRY_MIN_S
        sweep_s = self.max_idle_ns / NANOS_PER_SECOND / 4
        while not self._closed:
            self._pick()  # closes stale idle connections while nothing is sent
            while len(self._conns) < self.size and not self._closed:
                if await self._connect():
                    delay = _RETRY_MIN_S
                    continue
                self._first_round.set()
                await asyncio.sleep(delay)
                delay = min(_RETRY_MAX_S, delay * 2)
            self._first_round.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sweep_s)

    async def _connect(self) -> bool:
        conn = _Connection(self)
        self._conns.append(conn)
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: conn, self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                ),
                self.connect_timeout_s,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.connect_failures += 1
            logger.debug("fast path connect to %s:%d failed: %s", self.host, self.port, exc)
            conn.close("connect failed")
            return False
        except BaseException:
            conn.close("connect cancelled")
            raise
        self.connects += 1
        return True
