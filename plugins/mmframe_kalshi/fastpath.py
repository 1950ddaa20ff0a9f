"""`FastPathPool`: warm HTTP/1.1 connections that write an order request to the socket synchronously.

httpx hands a request to the socket only after one or more event-loop turns (its task, httpcore's
and anyio's awaits), behind every other ready callback. For the hot order endpoints this pool
instead formats the request's bytes directly (`RequestEncoder`: a few string joins after cheap,
strict checks; a generic HTTP library costs ~10x more here) and calls ``transport.write`` once in
the caller's own step: asyncio's socket transport sends at once when its buffer is empty, and its
SSL transport encrypts and sends at once after the handshake. Responses are parsed by httptools
(llhttp, the C parser uvicorn and Node.js use).

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
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from mmframe.api import NANOS_PER_SECOND, Clock, LiveClock

logger = logging.getLogger(__name__)

DEFAULT_MAX_IDLE_S = 4.0
_RETRY_MIN_S = 0.05
_RETRY_MAX_S = 2.0

# HEAD is left out on purpose: the response parser cannot be told a response has no body.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NOT_TOKEN = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")  # RFC 9110 token characters
_NOT_FIELD_VALUE = re.compile(r"[^\t\x20-\x7e]")  # printable ASCII, space and tab
# Framing and connection management belong to this module, never to the caller.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"})
_MAX_NAMES_SEEN = 256
# A response with neither of these reads its body until the server closes (RFC 9112 section 6.3).
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_NO_BODY_STATUSES = frozenset({204, 304})


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
    """A complete HTTP response: status, headers (lower-case names, values without surrounding
    whitespace, in the order received; trailers of a chunked body are left out), body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class RequestEncoder:
    """Formats HTTP/1.1 requests to one host as bytes, refusing anything that could break framing.

    Checks, all loud (ValueError): the method is one of GET, POST, PUT, PATCH, DELETE, OPTIONS;
    the target is non-empty printable ASCII without spaces; header names are tokens and not one
    this encoder writes itself (host, content-length, transfer-encoding, connection, upgrade, te);
    header values are printable ASCII, spaces and tabs (no CR, LF, NUL or other controls).
    ``host`` and ``content-length`` are added (``content-length`` always, also for no body).
    Names already accepted are remembered, so a request's work is a few membership tests and joins.
    """

    def __init__(self, host_header: str) -> None:
        if not host_header or _NOT_FIELD_VALUE.search(host_header):
            raise ValueError(f"not a valid Host header value: {host_header!r}")
        self._after_target = f" HTTP/1.1\r\nhost: {host_header}\r\n"
        self._names_seen: set[str] = set()

    def encode(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None) -> bytes:
        """The request's bytes: request line, host, ``headers`` in order, content-length, body."""
        if method not in _METHODS:
            raise ValueError(f"{method} {target}: not a valid HTTP/1.1 request: unsupported method {method!r}")
        if not target or " " in target or not (target.isascii() and target.isprintable()):
            raise ValueError(f"{method} {target!r}: not a valid HTTP/1.1 request: bad request target")
        parts = [method, " ", target, self._after_target]
        seen = self._names_seen
        for name, value in headers:
            if name not in seen:
                self._check_name(method, target, name)
            # isprintable() is a fast C scan; the regex only runs for the rare tab (allowed) or a refusal.
            if not (value.isascii() and value.isprintable()) and _NOT_FIELD_VALUE.search(value):
                raise ValueError(
                    f"{method} {target}: not a valid HTTP/1.1 request: header {name!r} has a forbidden "
                    f"character (CR, LF, NUL, another control or non-ASCII) in {value!r}"
                )
            parts += (name, ": ", value, "\r\n")
        content = body or b""
        parts += ("content-length: ", str(len(content)), "\r\n\r\n")
        head = "".join(parts).encode("ascii")  # everything in it was checked to be ASCII
        return head + content if content else head

    def _check_name(self, method: str, target: str, name: str) -> None:
        if not name or _NOT_TOKEN.search(name):
            raise ValueError(f"{method} {target}: not a valid HTTP/1.1 request: header name {name!r} is not a token")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{method} {target}: not a valid HTTP/1.1 request: header {name!r} is set by the fast path")
        if len(self._names_seen) < _MAX_NAMES_SEEN:
            self._names_seen.add(name)


def host_header(url: str) -> str:
    """The Host field for requests to ``url``: its host, with the port unless it is the scheme's default."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    tls = parts.scheme == "https"
    if (parts.port or (443 if tls else 80)) == (443 if tls else 80):
        return parts.hostname
    return parts.netloc.rsplit("@", 1)[-1]


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a response nobody asked for."""


class _State(enum.Enum):
    CONNECTING = "connecting"
    IDLE = "idle"
    BUSY = "busy"
    CLOSED = "closed"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: an asyncio Protocol writing requests it formatted itself and
    reading responses with an httptools parser (whose callbacks are the ``on_*`` methods)."""

    def __init__(self, pool: FastPathPool) -> None:
        self._pool = pool
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.state = _State.CONNECTING
        self.idle_since_ns = 0
        self._future: asyncio.Future[RawResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._headers_done = False
        self._framed = False  # the response has content-length or transfer-encoding
        self._body: list[bytes] = []

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.state = _State.IDLE
        self.idle_since_ns = self._pool.now_ns()

    def data_received(self, data: bytes) -> None:
        if self._future is None:  # no request in flight: whatever this is, nobody asked for it
            self._discard("unsolicited response")
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._discard("HTTP protocol error: the server switched protocols")
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._discard(str(cause))
            else:
                self._discard(f"HTTP protocol error: {exc}" + (f" ({cause!r})" if cause is not None else ""))

    def eof_received(self) -> bool | None:
        if self._future is not None and self._body_ends_at_eof():
            self._complete(keep_alive=False)
        elif self._future is not None:
            self._discard("connection closed by the server before the response was complete")
        else:
            self._discard("connection closed by the server")
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._discard(f"connection lost: {exc}" if exc else "connection closed by the server")

    # --- httptools callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._future is None:  # a second response after the one we asked for
            raise _Refused("unsolicited response")
        self._status, self._headers, self._headers_done, self._framed, self._body = 0, [], False, False, []

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._headers_done:  # a chunked body's trailer: ignored
            return
        name = name.lower()
        if name in _FRAMING_HEADERS:
            self._framed = True
        self._headers.append((name, value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        self._headers_done = True
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # 1xx informational: the final response follows
            self._headers_done = False
            return
        parser = self._parser
        self._complete(keep_alive=parser.should_keep_alive() and parser.get_http_version() == "1.1")

    # --- requests -------------------------------------------------------------------------------

    def send(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None, timeout_s: float
    ) -> asyncio.Future[RawResponse]:
        """Format and write the request now; the future gets the response (or a `FastPathError`).
        Raises ValueError (nothing written, the connection stays idle) if the request is refused."""
        assert self.state is _State.IDLE and self.transport is not None
        data = self._pool.encoder.encode(method, target, headers, body)
        loop = self._pool.loop
        future: asyncio.Future[RawResponse] = loop.create_future()
        self._future = future
        self.state = _State.BUSY
        try:
            self.transport.write(data)
        finally:  # after the write: the bookkeeping below does not delay the bytes
            self._timer = loop.call_later(timeout_s, self._timed_out, timeout_s)
            future.add_done_callback(self._abandoned)
        return future

    def close(self, reason: str) -> None:
        """Close now (the pool is closing, or the connection went stale)."""
        self._discard(reason)

    def _body_ends_at_eof(self) -> bool:
        """Whether the response in progress is one whose body the server ends by closing."""
        return self._headers_done and not self._framed and self._status >= 200 and (
            self._status not in _NO_BODY_STATUSES
        )

    def _complete(self, *, keep_alive: bool) -> None:
        future, self._future = self._future, None
        self._cancel_timer()
        assert future is not None  # data_received and on_message_begin refuse unsolicited responses
        response = RawResponse(self._status, tuple(self._headers), b"".join(self._body))
        self._headers, self._body = [], []
        if keep_alive:
            self.state = _State.IDLE
            self.idle_since_ns = self._pool.now_ns()
        else:  # Connection: close, HTTP/1.0, a body ended by closing: never reuse
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
        unix_socket: str | None = None,
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
        self.host_header = host_header(url)
        self.encoder = RequestEncoder(self.host_header)
        self._ssl = (ssl_context or ssl.create_default_context()) if tls else None
        self.size = size
        self.max_idle_ns = int(max_idle_s * NANOS_PER_SECOND)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._clock = clock or LiveClock()
        self.unix_socket = unix_socket
        """Connect to this Unix socket instead of ``host:port`` (the URL still gives the Host header)."""
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
        Raises ValueError (nothing written, the connection stays idle) if `RequestEncoder` refuses
        the request. The future fails with `FastPathError` (``sent=True``) if the connection breaks,
        the response is malformed or does not complete within ``timeout_s``.
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
        stale: list[_Connection] = []
        for conn in self._conns:
            if conn.state is not _State.IDLE:
                continue
            if now - conn.idle_since_ns > self.max_idle_ns:
                stale.append(conn)
            elif best is None or conn.idle_since_ns > best.idle_since_ns:
                best = conn
        for conn in stale:  # closing removes it from self._conns: not while iterating
            self.replaced_stale += 1
            conn.close("idle too long")
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
            if self.unix_socket is not None:
                opening = self.loop.create_unix_connection(lambda: conn, self.unix_socket)
            else:
                opening = self.loop.create_connection(
                    lambda: conn, self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
            await asyncio.wait_for(opening, self.connect_timeout_s)
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
