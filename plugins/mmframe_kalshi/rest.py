"""`KalshiRestClient`: typed, signed, rate-limited access to Kalshi's Trade API v2 over httpx.

Every method returns dataclasses from `models` with integer prices and counts. Requests are signed
(`auth`), wait for tokens (`limiter`) and map error bodies to typed exceptions (`errors`).

Retry policy:

* Idempotent calls (GETs, cancels, decreases to an absolute size, cancel-all, order-group
  reads/reset/trigger/limit) retry with exponential backoff and jitter on 5xx, 429 and network
  errors.
* A create is never blindly re-sent. A 429 or a connection that never opened means it was not
  processed, so it is sent again. When the outcome is unknown (5xx, timeout, connection dropped
  after sending) it is re-sent with the *same* ``client_order_id``: either it lands now, or the
  venue answers 409 ``order_already_exists`` — it was placed — and the order is looked up by
  reading orders for its ticker. When the attempts run out, orders are read once more to settle
  it; if even that fails, `OutcomeUnknownError` says the order must be treated as possibly live.
* Amends are not retried on an unknown outcome (a second amend would refer to a client id the
  first already replaced); the caller reconciles by reading the order.

Fast order path: `begin_amend_order`, `begin_batch_create_orders` and `begin_batch_cancel_orders`
write their request to the socket synchronously (`fastpath.FastPathPool`) and return an awaitable
for the result, or None when that cannot happen right now (then use the async method). Every
request is signed by `_sign`, handed to one of the two `transport.Transport`s (the fast path's or
httpx's, which put the same bytes on the wire) by `_transmit`, and answered through `_exchange`
(the one re-sign of an expired pre-signature, the one mapping to typed errors); any retry after
the first attempt goes through the async method's own loop.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from mmframe.api import BookSide, Clock, Count, Price, RateLimitedLog, format_count, format_price
from mmframe_kalshi.auth import HEADER_TIMESTAMP, PreSigner, RequestSigner
from mmframe_kalshi.errors import (
    AuthenticationError,
    KalshiError,
    MalformedMessageError,
    OrderAlreadyExists,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnreadableResponseError,
    VenueError,
    WriteRefused,
    error_from_response,
)
from mmframe_kalshi.fastpath import DEFAULT_MAX_IDLE_S, FastPathPool, RawResponse
from mmframe_kalshi.keywatch import KeyWatch
from mmframe_kalshi.limiter import AccountLimits, EndpointCosts, Priority, RateLimiter, limits_from_json
from mmframe_kalshi.models import (
    Balance,
    Event,
    ExchangeStatus,
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderAmendedResult,
    Orderbook,
    OrderCanceledResult,
    OrderDecreasedResult,
    OrderGroup,
    OrderPlaced,
    Page,
    Series,
    Trade,
    items_of,
    read_items,
    req,
)
from mmframe_kalshi.readonly import ReadOnlyTransport
from mmframe_kalshi.transport import FastPathTransport, HttpxTransport, WireRequest

logger = logging.getLogger(__name__)
T = TypeVar("T")

Guard = Callable[[str], bool]
"""Asked about each order of a create or amend request right after its tokens were taken and
immediately before the request is written (on the fast path and on httpx alike, and again before
every retry): ``guard(client_order_id)``; False leaves that order out, unsent (`WriteRefused`), and
gives its tokens back."""

ORDERS_V2 = "/portfolio/events/orders"
ORDERS_V2_BATCH = "/portfolio/events/orders/batched"


def amend_path(order_id: str) -> str:
    """``order_id``'s amend endpoint below the API root (`KalshiRestClient.full_path` gives the signed path)."""
    return f"{ORDERS_V2}/{order_id}/amend"


def decrease_path(order_id: str) -> str:
    """``order_id``'s decrease endpoint below the API root."""
    return f"{ORDERS_V2}/{order_id}/decrease"

MAX_SUBACCOUNT = 63
"""Highest subaccount number (API.md §3: 0 = primary, 1-63)."""
_ORDERBOOKS_MAX = 100
# Plain JSON: no accept-encoding (on either transport), so no compressed body to undo.
_ACCEPT_JSON = ("accept", "application/json")
_LOOKUP_PAGES = 5


@dataclass(frozen=True)
class CreateOrderRequest:
    """One V2 create: ``side`` bid buys YES, ask sells YES; ``price`` is the YES price."""

    ticker: str
    side: BookSide
    price: Price
    count: Count
    client_order_id: str
    time_in_force: str = "good_till_canceled"
    post_only: bool = True
    reduce_only: bool = False
    self_trade_prevention_type: str = "taker_at_cross"
    order_group_id: str | None = None
    expiration_time: int | None = None
    cancel_order_on_pause: bool | None = None
    subaccount: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "client_order_id": self.client_order_id,
            "side": self.side.value,
            "count": format_count(self.count),
            "price": format_price(self.price),
            "time_in_force": self.time_in_force,
            "self_trade_prevention_type": self.self_trade_prevention_type,
        }
        if self.post_only:
            body["post_only"] = True
        if self.reduce_only:
            body["reduce_only"] = True
        if self.order_group_id:
            body["order_group_id"] = self.order_group_id
        if self.expiration_time is not None:
            body["expiration_time"] = self.expiration_time
        if self.cancel_order_on_pause is not None:
            body["cancel_order_on_pause"] = self.cancel_order_on_pause
        if self.subaccount is not None:
            body["subaccount"] = self.subaccount
        return body


@dataclass(frozen=True, slots=True)
class _Signed:
    """A request signed and ready to write: ``path`` below the API root (errors, rate limits),
    ``full`` the signed path, ``target`` that plus the query."""

    method: str
    path: str
    full: str
    target: str
    headers: dict[str, str]
    content: bytes | None
    presigned: bool

    def wire(self) -> WireRequest:
        return WireRequest(self.method, self.target, (_ACCEPT_JSON, *self.headers.items()), self.content)

    def resigned(self, signature: Mapping[str, str]) -> _Signed:
        """The same request with a fresh ``signature`` (its headers replace the old ones in place)."""
        return _Signed(self.method, self.path, self.full, self.target, {**self.headers, **signature},
                       self.content, presigned=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and backoff: delay n = min(max_s, base_s * 2**n), jittered to [delay/2, delay]."""

    attempts: int = 4
    base_s: float = 0.1
    max_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.base_s * (2**attempt))
        return float(ceiling / 2 + rng.random() * ceiling / 2)


class KalshiRestClient:
    """Async client for ``rest_url`` (e.g. ``https://external-api.demo.kalshi.co/trade-api/v2``)."""

    def __init__(
        self,
        rest_url: str,
        signer: RequestSigner,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        presigner: PreSigner | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        rng: random.Random | None = None,
        max_connections: int = 10,
        fast_order_path: bool = True,
        fast_connections: int = 8,
        fast_max_idle_s: float = DEFAULT_MAX_IDLE_S,
        subaccount: int = 0,
        unix_socket: str | None = None,
        read_only: bool = False,
    ) -> None:
        if not 0 <= subaccount <= MAX_SUBACCOUNT:
            raise ValueError(f"subaccount must be 0 (primary) to {MAX_SUBACCOUNT}, got {subaccount}")
        self.subaccount = subaccount
        """The subaccount this client trades and reads (0 = primary): sent with every create and
        cancel that is not for the primary account, and with every account read (Kalshi's default for
        orders and fills is *all* subaccounts)."""
        self.own_markets: frozenset[str] | None = None
        """The markets this account trades (`KalshiSession.subscribe` fills it from the account
        channels). An account list item (position, order, fill) that does not parse fails the read
        when it is about one of these markets (or its market is unreadable, or this is None); an
        item about any other market is left out with a warning (`malformed_items`)."""
        self.malformed_items = 0
        self.key_watch: KeyWatch | None = None
        """Told of every 401 refusing our key and every accepted request (`KalshiSession` sets it)."""
        self.rest_url = rest_url.rstrip("/")
        self._base_path = urlsplit(self.rest_url).path.rstrip("/")
        self._signer = signer
        self._clock = clock
        # A venue outage retries every request: one line per kind of failure every 10 s, counted.
        self._repeats = RateLimitedLog(logger, clock.monotonic_ns)
        self.limiter = limiter or RateLimiter(clock)
        self.presigner = presigner
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        timeout = timeout or httpx.Timeout(10.0, connect=3.0, pool=5.0)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # A Unix socket: the simulator inside this process under simulated time.
        inner = httpx.AsyncHTTPTransport(uds=unix_socket, limits=limits) if unix_socket else None
        self.read_only: ReadOnlyTransport | None = None
        """With ``read_only``: the transport refusing every write (paper trading), else None."""
        if read_only:
            if presigner is not None:
                raise ValueError("a read-only client signs nothing ahead (no pre-signer)")
            fast_order_path = False
            self.read_only = ReadOnlyTransport(inner or httpx.AsyncHTTPTransport(limits=limits))
        self._http = httpx.AsyncClient(
            timeout=timeout,
            limits=limits,
            transport=self.read_only or inner,
        )
        self.http_transport = HttpxTransport(self._http, self.rest_url)
        """Every request the fast path does not write (`transport`: the two put the same bytes on the wire)."""
        self.requests_sent = 0
        self.rate_limited = 0
        # Warm connections for the begin_* methods; opened by `open_fast_path` or the first begin_*.
        self.fast: FastPathPool | None = (
            FastPathPool(
                self.rest_url,
                size=fast_connections,
                max_idle_s=fast_max_idle_s,
                timeout_s=timeout.read or 10.0,
                connect_timeout_s=timeout.connect or 3.0,
                clock=clock,
                unix_socket=unix_socket,
            )
            if fast_order_path
            else None
        )
        self.fast_transport = FastPathTransport(self.fast) if self.fast is not None else None

    def full_path(self, path: str) -> str:
        """The path Kalshi signs: ``/trade-api/v2`` + ``path``."""
        return self._base_path + path

    def presign_order(self, order_id: str) -> None:
        """Keep a signature ready for ``order_id``'s next amend (no-op without a pre-signer). Call
        when the order is accepted, and for the new id when an amend renamed it.

        Only the amend: a quote that moves is an amend, while a size-only decrease is rare (the
        reconciler's strategies quote fixed sizes unless a risk rule clips them) and signs inline;
        pre-signing both would double the signing thread's work (about 1,000 signatures/s at
        4,000 resting orders instead of 500)."""
        if self.presigner is not None:
            self.presigner.register("POST", self.full_path(amend_path(order_id)), per_order=True)

    def forget_order(self, order_id: str) -> None:
        """Stop pre-signing for ``order_id`` (it closed, or an amend gave it a new id)."""
        if self.presigner is not None:
            self.presigner.forget("POST", self.full_path(amend_path(order_id)))

    async def open_fast_path(self) -> None:
        """Open the fast path's connections now (else the first ``begin_*`` call starts them)."""
        if self.fast is not None:
            await self.fast.open()

    async def aclose(self) -> None:
        if self.fast is not None:
            await self.fast.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> KalshiRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- sending: one path for every request --------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        items: int = 1,
        priority: Priority | None = None,
        guard: Callable[[], bool] | None = None,
    ) -> Any:
        """One attempt: wait for tokens, ask ``guard`` (False: the tokens go back and `WriteRefused`
        is raised, nothing written), sign, send over httpx; the JSON body, or a typed error."""
        await self.limiter.acquire(method, path, items=items, priority=priority)
        if guard is not None and not guard():
            self.limiter.refund(method, path, items=items)
            raise WriteRefused(f"{method} {path}: refused before sending")
        return await self._send_signed(self._sign(method, path, body, params), recheck=guard)

    async def _send_signed(self, signed: _Signed, *, recheck: Callable[[], bool] | None = None) -> Any:
        """Send an already signed request over httpx (its tokens taken) and read the answer."""
        return await self._exchange(signed, self._transmit(signed, fast=False), recheck=recheck)

    def _sign(self, method: str, path: str, body: Any, params: Any = None) -> _Signed:
        """The request as it will be written: signed path and query, headers (a pre-made signature
        if one is ready, else signed now) and JSON body."""
        full = self.full_path(path)
        headers = self.presigner.take(method, full) if self.presigner else None
        presigned = headers is not None
        if headers is None:
            headers = self._signer.headers(method, full)
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers = {**headers, "content-type": "application/json"}
        target = full + "?" + str(httpx.QueryParams(params)) if params else full
        return _Signed(method, path, full, target, headers, content, presigned)

    def _transmit(self, signed: _Signed, *, fast: bool) -> Awaitable[RawResponse]:
        """Hand ``signed`` to a transport: written now on a warm fast-path connection when ``fast``
        and one is idle, else httpx."""
        wire = signed.wire()
        if fast and self.fast_transport is not None:
            written = self.fast_transport.try_send(wire)
            if written is not None:
                self.requests_sent += 1
                return written
        self.requests_sent += 1
        return self.http_transport.send(wire)

    async def _exchange(
        self,
        signed: _Signed,
        sent: Awaitable[RawResponse],
        *,
        recheck: Callable[[], bool] | None = None,
        fast: bool = False,
    ) -> Any:
        """The answer to ``signed``, already ``sent`` by either transport: its JSON body or typed
        error. A pre-signed request the venue refused as expired was not processed: it is signed
        afresh and sent once more (the same way, after asking ``recheck``, like its first write
        asked its guard)."""
        response = await sent
        if signed.presigned and self._refused_as_expired(signed, response):
            _recheck(recheck, signed.method, signed.path)
            signed = signed.resigned(self._signer.headers(signed.method, signed.full))
            response = await self._transmit(signed, fast=fast)
        return self._handle_response(signed.method, signed.path, response.status, response.body)

    def _refused_as_expired(self, signed: _Signed, response: RawResponse) -> bool:
        """Whether the venue refused a pre-signed request's timestamp as stale: then it was not
        processed, and the caller signs afresh and sends once more (pre-signing younger from now on)."""
        if response.status != 401 or self.presigner is None:
            return False
        if error_from_response(401, response.body).code != "header_timestamp_expired":
            return False
        self.presigner.note_expired(signed.method, signed.full, int(signed.headers[HEADER_TIMESTAMP]))
        return True

    def _handle_response(self, method: str, path: str, status: int, content: bytes) -> Any:
        """The JSON body of a response, or its typed error (counting 429s, and telling `key_watch`
        whether the venue accepted our key)."""
        if status >= 400:
            error = error_from_response(status, content)
            if isinstance(error, RateLimitedError):
                self.rate_limited += 1
            elif status == 401 and error.code != "header_timestamp_expired" and self.key_watch is not None:
                self.key_watch.refused(f"{method} {path}", error.details or error.message)
            raise error
        if self.key_watch is not None:
            self.key_watch.accepted()
        if status == 204 or not content:
            return {}
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            if method != "GET":  # a write that succeeded: it happened, we cannot read how
                raise UnreadableResponseError(f"{method} {path}: response is not JSON", status=status) from None
            raise MalformedMessageError(
                f"{method} {path}: response is not JSON", code="malformed", status=status
            ) from None

    # --- fast path ------------------------------------------------------------------------------

    def _begin(
        self, method: str, path: str, body: Any, *, items: int = 1, guard: Callable[[], bool] | None = None
    ) -> Coroutine[Any, Any, Any] | None:
        """Write ``method path`` now on a warm connection: a coroutine for what `_send` would return
        (JSON body or typed error), or None with nothing taken (no fast path, no idle connection, no
        tokens right now). ``guard`` is asked once the tokens are taken: False gives them back and
        the coroutine raises `WriteRefused` (nothing written)."""
        if not self._fast_ready(method, path, items):
            return None
        if guard is not None and not guard():
            self.limiter.refund(method, path, items=items)
            return _refused(f"{method} {path}: refused before sending")
        return self._write_now(method, path, body, recheck=guard)

    def _fast_ready(self, method: str, path: str, items: int) -> bool:
        """Whether a request can be written now: an idle warm connection, and its tokens (taken)."""
        fast = self.fast
        if fast is None or not fast.has_idle():
            return False
        return self.limiter.try_acquire(method, path, items=items)

    def _write_now(
        self, method: str, path: str, body: Any, *, recheck: Callable[[], bool] | None = None
    ) -> Coroutine[Any, Any, Any]:
        """Sign and write on the idle connection `_fast_ready` found (tokens already taken);
        ``recheck`` is asked before a re-sent write (a pre-signed signature refused as expired)."""
        assert self.fast_transport is not None
        signed = self._sign(method, path, body)
        written = self.fast_transport.try_send(signed.wire())
        assert written is not None, "has_idle() and try_send() disagree"
        self.requests_sent += 1
        return self._exchange(signed, written, recheck=recheck, fast=True)

    async def _idempotent(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        items: int = 1,
        first: Awaitable[Any] | None = None,
    ) -> Any:
        """Send with retries on 5xx, 429 and network errors (safe: repeating changes nothing).
        ``first``: the first attempt, already sent by the fast path."""
        for attempt in range(self.retry.attempts):
            try:
                if first is not None and attempt == 0:
                    return await first
                return await self._send(method, path, params=params, body=body, items=items)
            except (ServerError, RateLimitedError, TransportError) as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise
                delay = self.retry.delay(attempt, self._rng)
                self._repeats.log(
                    ("retry", method, type(exc)),
                    "%s %s failed (%s); retry %d in %.3fs", method, path, exc, attempt + 1, delay,
                    level=logging.INFO,
                )
                await self._clock.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pages(
        self,
        path: str,
        key: str,
        convert: Callable[[Mapping[str, Any]], T],
        params: dict[str, Any],
        *,
        lenient: bool = False,
    ) -> Page[T]:
        """One page of ``path``; ``lenient``: an item that does not parse is left out when it is
        about a market we do not trade (see `own_markets`), else it fails the read."""
        body = await self._idempotent("GET", path, params=_clean(params))
        what = f"GET {path}"
        if not lenient:
            return Page(items_of(body, key, convert, what), body.get("cursor") or "")
        items, malformed = read_items(body, key, convert, what)
        own = self.own_markets
        for bad in malformed:
            if own is None or not bad.ticker or bad.ticker in own:
                raise MalformedMessageError(
                    f"{what} item {bad.index} ({bad.ticker or 'market unreadable'}): {bad.error}",
                    code="malformed",
                ) from None
            self.malformed_items += 1
            self._repeats.log(
                ("left out", bad.ticker),
                "%s: left out item %d of market %s we do not trade: %s", what, bad.index, bad.ticker, bad.error,
            )
        return Page(items, body.get("cursor") or "", tuple(malformed))

    async def _all(self, fetch: Callable[[str | None], Awaitable[Page[T]]], max_pages: int) -> list[T]:
        """Every item of every page `_walk` reads."""
        return [item async for page in _walk(fetch, max_pages) for item in page.items]

    # --- markets --------------------------------------------------------------------------------

    async def get_markets(
        self,
        *,
        tickers: Sequence[str] | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Market]:
        """One page of ``GET /markets`` (filters as Kalshi names them; times Unix seconds)."""
        params = {
            "tickers": ",".join(tickers) if tickers else None,
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "status": status,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._pages("/markets", "markets", Market.from_json, params)

    async def iter_markets(self, *, max_pages: int = 1000, **filters: Any) -> AsyncIterator[Market]:
        """Every market matching ``filters`` (see `get_markets`), following the cursor."""
        async for page in _walk(lambda c: self.get_markets(cursor=c, **filters), max_pages):
            for market in page.items:
                yield market

    async def list_markets(self, **filters: Any) -> list[Market]:
        """All pages of `get_markets` as one list."""
        return [market async for market in self.iter_markets(**filters)]

    async def get_market(self, ticker: str) -> Market:
        body = await self._idempotent("GET", f"/markets/{ticker}")
        return Market.from_json(req(body, "market", f"GET /markets/{ticker}"))

    async def get_orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        body = await self._idempotent("GET", f"/markets/{ticker}/orderbook", params={"depth": depth})
        return Orderbook.from_json(ticker, body)

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[Orderbook]:
        """Books of many markets, ``GET /markets/orderbooks`` in chunks of 100."""
        books: list[Orderbook] = []
        for start in range(0, len(tickers), _ORDERBOOKS_MAX):
            params = [("tickers", t) for t in tickers[start : start + _ORDERBOOKS_MAX]]
            body = await self._idempotent("GET", "/markets/orderbooks", params=params)
            for item in body.get("orderbooks") or ():
                books.append(Orderbook.from_json(req(item, "ticker", "orderbooks item"), item))
        return books

    async def get_trades(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Trade]:
        params = {"ticker": ticker, "min_ts": min_ts, "max_ts": max_ts, "limit": limit, "cursor": cursor}
        return await self._pages("/markets/trades", "trades", Trade.from_json, params)

    async def get_series(self, series_ticker: str) -> Series:
        body = await self._idempotent("GET", f"/series/{series_ticker}")
        return Series.from_json(req(body, "series", f"GET /series/{series_ticker}"))

    async def get_event(self, event_ticker: str) -> Event:
        """``GET /events/{event_ticker}``: the event's series and fee override."""
        body = await self._idempotent("GET", f"/events/{event_ticker}")
        return Event.from_json(req(body, "event", f"GET /events/{event_ticker}"))

    async def get_event_series_ticker(self, event_ticker: str) -> str:
        """The series an event belongs to (``GET /events/{event_ticker}`` -> ``event.series_ticker``)."""
        return (await self.get_event(event_ticker)).series_ticker

    async def get_exchange_status(self) -> ExchangeStatus:
        return ExchangeStatus.from_json(await self._idempotent("GET", "/exchange/status"))

    # --- portfolio ------------------------------------------------------------------------------

    async def get_balance(self) -> Balance:
        params = {"subaccount": self.subaccount}
        return Balance.from_json(await self._idempotent("GET", "/portfolio/balance", params=params))

    async def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[MarketPosition]:
        params = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "count_filter": count_filter,
            "limit": limit,
            "cursor": cursor,
            "subaccount": self.subaccount,
        }
        return await self._pages(
            "/portfolio/positions", "market_positions", MarketPosition.from_json, params, lenient=True
        )

    async def all_positions(self, *, max_pages: int = 100, **filters: Any) -> list[MarketPosition]:
        return await self._all(lambda c: self.get_positions(cursor=c, **filters), max_pages)

    async def get_fills(
        self,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Fill]:
        """One page of our fills; ``min_ts``/``max_ts`` Unix seconds."""
        params = {
            "ticker": ticker,
            "order_id": order_id,
            "min_ts": min_ts,
            "max_ts": max_ts,
            "limit": limit,
            "cursor": cursor,
            "subaccount": self.subaccount,
        }
        return await self._pages("/portfolio/fills", "fills", Fill.from_json, params, lenient=True)

    async def all_fills(self, *, max_pages: int = 100, **filters: Any) -> list[Fill]:
        return await self._all(lambda c: self.get_fills(cursor=c, **filters), max_pages)

    async def get_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Order]:
        params = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "status": status,
            "min_ts": min_ts,
            "max_ts": max_ts,
            "limit": limit,
            "cursor": cursor,
            "subaccount": self.subaccount,
        }
        return await self._pages("/portfolio/orders", "orders", Order.from_json, params, lenient=True)

    async def all_orders(self, *, max_pages: int = 100, **filters: Any) -> list[Order]:
        return await self._all(lambda c: self.get_orders(cursor=c, **filters), max_pages)

    async def get_order(self, order_id: str) -> Order:
        body = await self._idempotent("GET", f"/portfolio/orders/{order_id}")
        return Order.from_json(req(body, "order", f"GET /portfolio/orders/{order_id}"))

    async def find_orders(self, ticker: str, client_order_ids: Sequence[str]) -> dict[str, Order]:
        """Our orders in ``ticker`` with the given client ids, found by reading orders (newest pages)."""
        wanted = set(client_order_ids)
        found: dict[str, Order] = {}
        async for page in _walk(lambda c: self.get_orders(ticker=ticker, limit=200, cursor=c), _LOOKUP_PAGES):
            for order in page.items:
                if order.client_order_id in wanted:
                    found[order.client_order_id] = order
            if len(found) == len(wanted):
                break
        return found

    # --- orders (V2) ----------------------------------------------------------------------------

    async def create_order(self, order: CreateOrderRequest) -> OrderPlaced:
        """Place one order; see the module docstring for what happens when the outcome is unknown."""
        results = await self.batch_create_orders([order], _single=True)
        result = results[0]
        if result.error is not None:
            raise result.error
        return result

    async def batch_create_orders(
        self, orders: Sequence[CreateOrderRequest], *, guard: Guard | None = None, _single: bool = False
    ) -> list[OrderPlaced]:
        """Place orders in one request; one result per order, in order, failed items with ``error``.

        Unknown outcomes are settled per item as in `create_order`; an item that reading orders
        could not settle carries an `OutcomeUnknownError`. An order ``guard`` refuses carries
        `WriteRefused` (or, refused on a retry after an unknown outcome, is settled by reading).
        """
        if not orders:
            return []
        return await self._create_orders(orders, single=_single, guard=guard)

    def begin_batch_create_orders(
        self, orders: Sequence[CreateOrderRequest], *, guard: Guard | None = None
    ) -> Awaitable[list[OrderPlaced]] | None:
        """`batch_create_orders` with its request written to the socket before this returns.

        None (nothing sent, no tokens taken): use `batch_create_orders`. Else an awaitable for what
        `batch_create_orders` returns (retries go through its loop). ``guard`` is asked about each
        order once the tokens are taken: the orders it refuses are left out of the request (their
        tokens given back) and answered with `WriteRefused`. Never awaits or blocks; raises
        ValueError as `batch_create_orders` does.
        """
        if not orders:
            return None
        _check_client_ids(orders)
        if not self._fast_ready("POST", ORDERS_V2_BATCH, len(orders)):
            return None
        allowed, refused = _split_guarded(orders, guard)
        if refused:
            self.limiter.refund("POST", ORDERS_V2_BATCH, items=len(refused))
        first = None
        if allowed:
            payload = {"orders": [self._create_body(o) for o in allowed]}
            first = self._write_now("POST", ORDERS_V2_BATCH, payload, recheck=_every(guard, allowed))
        return self._created_after(orders, allowed, refused, first, guard)

    async def _created_after(
        self,
        orders: Sequence[CreateOrderRequest],
        allowed: list[CreateOrderRequest],
        refused: list[str],
        first: Awaitable[Any] | None,
        guard: Guard | None,
    ) -> list[OrderPlaced]:
        """The fast path's batch create: the answer for the ``allowed`` orders already written, and
        `WriteRefused` for the ``refused`` ones, in the order of ``orders``."""
        results = {cid: OrderPlaced(client_order_id=cid, error=_refusal(cid)) for cid in refused}
        if allowed:
            placed = await self._create_orders(allowed, single=False, first=first, guard=guard)
            results.update((p.client_order_id, p) for p in placed)
        return [results[o.client_order_id] for o in orders]

    async def _create_orders(
        self,
        orders: Sequence[CreateOrderRequest],
        *,
        single: bool,
        first: Awaitable[Any] | None = None,
        guard: Guard | None = None,
    ) -> list[OrderPlaced]:
        """`batch_create_orders`'s attempts; ``first`` is attempt 0 already sent by the fast path.

        A success answer that cannot be read — the whole body, or one order's item — means those
        orders reached the venue with an unknown result: they are settled by reading orders (found:
        placed; absent: `OutcomeUnknownError`, reconciled later), never reported as rejected and
        never re-sent. Every attempt after ``first`` asks ``guard`` about each order right before it
        is written; an order refused after an attempt whose outcome is unknown is settled by reading
        (found: placed; absent: `WriteRefused`)."""
        path = ORDERS_V2 if single else ORDERS_V2_BATCH
        by_id = _check_client_ids(orders)
        results: dict[str, OrderPlaced] = {}
        pending = list(orders)
        last_error: KalshiError | None = None
        unknown = False
        for attempt in range(self.retry.attempts):
            unreadable: dict[str, str] = {}
            try:
                if first is not None and attempt == 0:
                    body = await first
                    placed, unreadable = _create_results(_batch_items(body), pending)
                else:
                    sent, refused = await self._take_creates(path, pending, single=single, guard=guard)
                    if refused:
                        refusal = WriteRefused(f"create refused before sending (attempt {attempt + 1})")
                        if unknown:  # an earlier attempt may have placed them
                            await self._settle(refused, by_id, results, exists=False, last_error=refusal)
                        else:
                            results.update((c, OrderPlaced(client_order_id=c, error=_refusal(c))) for c in refused)
                        pending = sent
                    if not sent:
                        break
                    payload = self._create_body(sent[0]) if single else {"orders": [self._create_body(o) for o in sent]}
                    signed = self._sign("POST", path, payload)
                    body = await self._send_signed(signed, recheck=_every(guard, sent))
                    placed, unreadable = _create_results([body] if single else _batch_items(body), sent)
            except OrderAlreadyExists as exc:  # single create: it was placed
                placed = [OrderPlaced(client_order_id=pending[0].client_order_id, error=exc)]
            except WriteRefused as exc:  # refused unprocessed (an expired signature), and not re-sent
                cids = [o.client_order_id for o in pending]
                if unknown:  # an earlier attempt may have placed them
                    await self._settle(cids, by_id, results, exists=False, last_error=exc)
                else:
                    results.update((c, OrderPlaced(client_order_id=c, error=_refusal(c))) for c in cids)
                pending = []
                break
            except UnreadableResponseError as exc:  # processed; what happened is unknown
                placed = []
                unreadable = {o.client_order_id: str(exc) for o in pending}
            except (RateLimitedError, TransportError, ServerError) as exc:
                last_error = exc
                if isinstance(exc, ServerError) or (isinstance(exc, TransportError) and exc.sent):
                    unknown = True
                if attempt + 1 < self.retry.attempts:
                    delay = self.retry.delay(attempt, self._rng)
                    self._repeats.log(
                        ("create retry", type(exc)),
                        "create of %d order(s) failed (%s); %s in %.3fs",
                        len(pending),
                        exc,
                        "re-sending with the same client_order_id" if unknown else "retrying",
                        delay,
                        level=logging.WARNING,
                    )
                    await self._clock.sleep(delay)
                continue
            existing = [p.client_order_id for p in placed if isinstance(p.error, OrderAlreadyExists)]
            for item in placed:
                if item.client_order_id in by_id and not isinstance(item.error, OrderAlreadyExists):
                    results[item.client_order_id] = item
            if existing:
                await self._settle(existing, by_id, results, exists=True, last_error=last_error)
            for cid, why in unreadable.items():
                if cid not in results:
                    logger.warning("create %s was answered but %s; reading orders to settle it", cid, why)
                    await self._settle([cid], by_id, results, exists=True, last_error=last_error, why=why)
            pending = [o for o in pending if o.client_order_id not in results]
            if not pending:
                break
        pending = [o for o in pending if o.client_order_id not in results]
        if pending:
            if unknown:
                cids = [o.client_order_id for o in pending]
                await self._settle(cids, by_id, results, exists=False, last_error=last_error)
            else:
                assert last_error is not None
                for o in pending:
                    results[o.client_order_id] = OrderPlaced(
                        client_order_id=o.client_order_id, error=last_error
                    )
        return [results[o.client_order_id] for o in orders]

    async def _take_creates(
        self, path: str, pending: list[CreateOrderRequest], *, single: bool, guard: Guard | None
    ) -> tuple[list[CreateOrderRequest], list[str]]:
        """Wait for the tokens of ``pending`` and ask ``guard`` about each order: returns the orders
        to send now and the client ids refused (their tokens given back)."""
        await self.limiter.acquire("POST", path, items=len(pending))
        sent, refused = _split_guarded(pending, guard)
        if refused:
            self.limiter.refund("POST", path, items=len(refused) if not single else 1)
        return sent, refused

    def _create_body(self, order: CreateOrderRequest) -> dict[str, Any]:
        """The order's JSON, in this client's subaccount unless the order names one."""
        body = order.to_json()
        if self.subaccount and "subaccount" not in body:
            body["subaccount"] = self.subaccount
        return body

    async def _settle(
        self,
        client_order_ids: Sequence[str],
        by_id: Mapping[str, CreateOrderRequest],
        results: dict[str, OrderPlaced],
        *,
        exists: bool,
        last_error: KalshiError | None,
        why: str = "",
    ) -> None:
        """Read orders to settle creates: found -> placed; absent -> ``last_error`` (not placed),
        unless the venue said it ``exists`` (or answered unreadably, ``why``); unreadable orders ->
        `OutcomeUnknownError`."""
        by_ticker: dict[str, list[str]] = {}
        for cid in client_order_ids:
            by_ticker.setdefault(by_id[cid].ticker, []).append(cid)
        for ticker, cids in by_ticker.items():
            try:
                found = await self.find_orders(ticker, cids)
            except KalshiError as exc:
                found, readable = {}, False
                reason = f"reading {ticker}'s orders failed: {exc}"
            else:
                readable = True
                said = f"the venue answered but {why}" if why else "the venue says it exists"
                reason = f"{said}, and it is not among {ticker}'s recent orders"
            for cid in cids:
                if cid in found:
                    logger.info("create %s found on the venue as order %s", cid, found[cid].order_id)
                    results[cid] = OrderPlaced.from_order(found[cid])
                elif exists or not readable:
                    results[cid] = OrderPlaced(
                        client_order_id=cid,
                        error=OutcomeUnknownError(
                            f"create {cid} in {ticker} may be live: {reason}",
                            client_order_id=cid,
                            ticker=ticker,
                            code="outcome_unknown",
                        ),
                    )
                else:
                    assert last_error is not None
                    results[cid] = OrderPlaced(client_order_id=cid, error=last_error)

    async def cancel_order(self, order_id: str, *, ticker: str | None = None) -> OrderCanceledResult:
        params = _clean({"market_ticker": ticker, "subaccount": self.subaccount or None})
        body = await self._idempotent("DELETE", f"{ORDERS_V2}/{order_id}", params=params)
        return OrderCanceledResult.from_json(body, order_id)

    async def batch_cancel_orders(
        self, orders: Sequence[tuple[str, str | None]]
    ) -> list[OrderCanceledResult]:
        """Cancel ``(order_id, ticker)`` pairs in one request; per-item ``error`` on failure."""
        if not orders:
            return []
        items = _cancel_items(orders, self.subaccount)
        body = await self._idempotent("DELETE", ORDERS_V2_BATCH, body={"orders": items}, items=len(items))
        return _cancel_results(orders, body)

    def begin_batch_cancel_orders(
        self, orders: Sequence[tuple[str, str | None]]
    ) -> Awaitable[list[OrderCanceledResult]] | None:
        """`batch_cancel_orders` with its request written to the socket before this returns.

        None (nothing sent, no tokens taken): use `batch_cancel_orders`. Else an awaitable for what
        `batch_cancel_orders` returns (retries go through its loop). Never awaits or blocks.
        """
        if not orders:
            return None
        items = _cancel_items(orders, self.subaccount)
        payload = {"orders": items}
        first = self._begin("DELETE", ORDERS_V2_BATCH, payload, items=len(items))
        return None if first is None else self._batch_cancel(orders, payload, first)

    async def _batch_cancel(
        self, orders: Sequence[tuple[str, str | None]], payload: dict[str, Any], first: Awaitable[Any]
    ) -> list[OrderCanceledResult]:
        items = len(payload["orders"])
        body = await self._idempotent("DELETE", ORDERS_V2_BATCH, body=payload, items=items, first=first)
        return _cancel_results(orders, body)

    async def cancel_all_orders(self) -> None:
        """``DELETE /portfolio/events/orders``: every resting order of the account, on all shards."""
        # Explicit even for the primary account: this one cancels everything it is allowed to.
        await self._idempotent("DELETE", ORDERS_V2, params={"subaccount": self.subaccount})

    async def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: BookSide,
        price: Price,
        total_count: Count,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        guard: Guard | None = None,
    ) -> OrderAmendedResult:
        """Move an order; ``total_count`` is filled + desired remaining (Kalshi's amend ``count``).
        ``guard(client_order_id)`` is asked right before each attempt is written (`WriteRefused`)."""
        body = _amend_body(ticker, side, price, total_count, client_order_id, updated_client_order_id)
        return await self._amend(amend_path(order_id), body, guard=_one(guard, client_order_id))

    def begin_amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: BookSide,
        price: Price,
        total_count: Count,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        guard: Guard | None = None,
    ) -> Awaitable[OrderAmendedResult] | None:
        """`amend_order` with its request written to the socket before this returns.

        None (nothing sent, no tokens taken): use `amend_order`. Else an awaitable for what
        `amend_order` returns or raises (a 429 is retried through its loop; `WriteRefused` when
        ``guard`` refused it, nothing written). Never awaits or blocks.
        """
        body = _amend_body(ticker, side, price, total_count, client_order_id, updated_client_order_id)
        path = amend_path(order_id)
        check = _one(guard, client_order_id)
        first = self._begin("POST", path, body, guard=check)
        return None if first is None else self._amend(path, body, first, guard=check)

    async def _amend(
        self,
        path: str,
        body: dict[str, Any],
        first: Awaitable[Any] | None = None,
        *,
        guard: Callable[[], bool] | None = None,
    ) -> OrderAmendedResult:
        """`amend_order`'s attempts; ``first`` is attempt 0 already sent by the fast path."""
        for attempt in range(self.retry.attempts):
            try:
                if first is not None and attempt == 0:
                    answer = await first
                else:
                    answer = await self._send("POST", path, body=body, guard=guard)
                try:
                    return OrderAmendedResult.from_json(answer)
                except MalformedMessageError as exc:
                    # The amend was applied; the caller reads the order to learn its new state.
                    raise UnreadableResponseError(f"POST {path}: {exc}") from None
            except (RateLimitedError, TransportError) as exc:
                # Only a request that was certainly not processed is sent again.
                if (isinstance(exc, TransportError) and exc.sent) or attempt + 1 >= self.retry.attempts:
                    raise
                await self._clock.sleep(self.retry.delay(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    async def decrease_order(
        self,
        order_id: str,
        *,
        reduce_to: Count | None = None,
        reduce_by: Count | None = None,
        ticker: str | None = None,
    ) -> OrderDecreasedResult:
        """Shrink an order, keeping its queue place. Exactly one of ``reduce_to``/``reduce_by``;
        only ``reduce_to`` (idempotent) is retried after an unknown outcome."""
        body = _decrease_body(reduce_to, reduce_by, ticker)
        path = decrease_path(order_id)
        if reduce_to is not None:
            return OrderDecreasedResult.from_json(await self._idempotent("POST", path, body=body))
        return OrderDecreasedResult.from_json(await self._send("POST", path, body=body))

    # --- order groups ---------------------------------------------------------------------------

    async def create_order_group(self, contracts_limit: Count) -> OrderGroup:
        """A group whose orders are all cancelled once ``contracts_limit`` fill within 15 s."""
        body = _limit_body(contracts_limit)
        if self.subaccount:
            body["subaccount"] = self.subaccount
        # Not idempotent, but a duplicate empty group is harmless: retry like a read.
        data = await self._idempotent("POST", "/portfolio/order_groups/create", body=body)
        return OrderGroup.from_json(data, req(data, "order_group_id", "create order group response"))

    async def list_order_groups(self) -> list[OrderGroup]:
        body = await self._idempotent("GET", "/portfolio/order_groups", params=self._subaccount_param())
        return items_of(body, "order_groups", OrderGroup.from_json, "GET /portfolio/order_groups")

    async def get_order_group(self, order_group_id: str) -> OrderGroup:
        body = await self._idempotent(
            "GET", f"/portfolio/order_groups/{order_group_id}", params=self._subaccount_param()
        )
        return OrderGroup.from_json(body, order_group_id)

    async def reset_order_group(self, order_group_id: str) -> None:
        await self._idempotent(
            "PUT", f"/portfolio/order_groups/{order_group_id}/reset", params=self._subaccount_param(), body={}
        )

    async def trigger_order_group(self, order_group_id: str) -> None:
        await self._idempotent(
            "PUT", f"/portfolio/order_groups/{order_group_id}/trigger", params=self._subaccount_param(), body={}
        )

    async def set_order_group_limit(self, order_group_id: str, contracts_limit: Count) -> None:
        path = f"/portfolio/order_groups/{order_group_id}/limit"
        await self._idempotent("PUT", path, params=self._subaccount_param(), body=_limit_body(contracts_limit))

    async def delete_order_group(self, order_group_id: str) -> None:
        await self._idempotent(
            "DELETE", f"/portfolio/order_groups/{order_group_id}", params=self._subaccount_param()
        )

    def _subaccount_param(self) -> dict[str, int] | None:
        """``?subaccount=`` for calls whose default is the primary account: only when it is not."""
        return {"subaccount": self.subaccount} if self.subaccount else None

    # --- account ----------------------------------------------------------------------------

    async def get_account_limits(self) -> AccountLimits:
        body = await self._idempotent("GET", "/account/limits")
        try:
            return limits_from_json(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessageError(f"GET /account/limits: {exc!r}", code="malformed") from None

    async def get_endpoint_costs(self) -> EndpointCosts:
        body = await self._idempotent("GET", "/account/endpoint_costs")
        try:
            return EndpointCosts.from_json(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedMessageError(f"GET /account/endpoint_costs: {exc!r}", code="malformed") from None

    async def load_rate_limits(self) -> None:
        """Teach the limiter the account's real limits and costs (keeps the defaults on failure)."""
        try:
            self.limiter.set_limits(await self.get_account_limits())
        except (VenueError, MalformedMessageError, TransportError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            logger.warning("could not read /account/limits (%s); keeping Basic-tier limits", exc)
        try:
            self.limiter.set_costs(await self.get_endpoint_costs())
        except (VenueError, MalformedMessageError, TransportError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            logger.warning("could not read /account/endpoint_costs (%s); keeping documented costs", exc)


async def _walk(fetch: Callable[[str | None], Awaitable[Page[T]]], max_pages: int) -> AsyncIterator[Page[T]]:
    """The pages ``fetch(cursor)`` returns, following the cursor from the first page, at most
    ``max_pages``: the one cursor loop of every paged read."""
    cursor: str | None = None
    for _ in range(max_pages):
        page = await fetch(cursor)
        yield page
        if not page.cursor:
            return
        cursor = page.cursor


def _batch_items(body: Any) -> list[Any]:
    """The per-order items of a batch create answer (an unreadable body: `UnreadableResponseError`)."""
    items = body.get("orders") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise UnreadableResponseError("batch create answer has no 'orders' list")
    return items


def _create_results(
    items: Sequence[Any], pending: Sequence[CreateOrderRequest]
) -> tuple[list[OrderPlaced], dict[str, str]]:
    """Create answers matched to ``pending`` (by the item's own client id, else by position): the
    results that parsed, and why each order without a readable result has none."""
    wanted = {o.client_order_id for o in pending}
    placed: list[OrderPlaced] = []
    unreadable: dict[str, str] = {}
    answered: set[str] = set()
    for index, order in enumerate(pending):
        if index >= len(items):
            break
        item = items[index]
        own = item.get("client_order_id") if isinstance(item, Mapping) else None
        cid = own if isinstance(own, str) and own in wanted else order.client_order_id
        answered.add(cid)
        try:
            if not isinstance(item, Mapping):
                raise MalformedMessageError(f"create result {cid} is not an object", code="malformed")
            placed.append(OrderPlaced.from_json(item, cid))
        except MalformedMessageError as exc:
            unreadable[cid] = f"its result is unreadable ({exc})"
    for order in pending:
        if order.client_order_id not in answered:
            unreadable[order.client_order_id] = "the answer has no result for it"
    return placed, unreadable


def _split_guarded(
    orders: Sequence[CreateOrderRequest], guard: Guard | None
) -> tuple[list[CreateOrderRequest], list[str]]:
    """The orders ``guard`` lets through now, and the client ids of those it refuses."""
    if guard is None:
        return list(orders), []
    allowed: list[CreateOrderRequest] = []
    refused: list[str] = []
    for order in orders:
        if guard(order.client_order_id):
            allowed.append(order)
        else:
            refused.append(order.client_order_id)
    return allowed, refused


def _every(guard: Guard | None, orders: Sequence[CreateOrderRequest]) -> Callable[[], bool] | None:
    """``guard`` asked again about every order of a batch about to be re-sent (all or none go)."""
    if guard is None:
        return None
    return lambda: all(guard(o.client_order_id) for o in orders)


def _one(guard: Guard | None, client_order_id: str | None) -> Callable[[], bool] | None:
    """``guard`` bound to one order (an amend's)."""
    if guard is None:
        return None
    cid = client_order_id or ""
    return lambda: guard(cid)


def _refusal(client_order_id: str) -> WriteRefused:
    return WriteRefused(f"create {client_order_id} refused before sending")


def _recheck(recheck: Callable[[], bool] | None, method: str, path: str) -> None:
    """Before writing a request again (its first write was refused unprocessed): `WriteRefused` if
    its guard no longer lets it go."""
    if recheck is not None and not recheck():
        raise WriteRefused(f"{method} {path}: refused before sending again")


async def _refused(message: str) -> Any:
    """What a request the guard refused answers: `WriteRefused` (it was never written)."""
    raise WriteRefused(message)


def _limit_body(contracts_limit: Count) -> dict[str, Any]:
    if contracts_limit <= 0:
        raise ValueError(f"order group contracts limit must be positive, got {contracts_limit}")
    if contracts_limit % 100 == 0:
        return {"contracts_limit": contracts_limit // 100}
    return {"contracts_limit_fp": format_count(contracts_limit)}


def _check_client_ids(orders: Sequence[CreateOrderRequest]) -> dict[str, CreateOrderRequest]:
    """Orders by client id; a batch needs distinct, non-empty ids."""
    by_id = {o.client_order_id: o for o in orders}
    if len(by_id) != len(orders) or "" in by_id:
        raise ValueError("each order in a batch needs its own non-empty client_order_id")
    return by_id


def _amend_body(
    ticker: str,
    side: BookSide,
    price: Price,
    total_count: Count,
    client_order_id: str | None,
    updated_client_order_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": ticker,
        "side": side.value,
        "price": format_price(price),
        "count": format_count(total_count),
    }
    if client_order_id:
        body["client_order_id"] = client_order_id
    if updated_client_order_id:
        body["updated_client_order_id"] = updated_client_order_id
    return body


def _decrease_body(reduce_to: Count | None, reduce_by: Count | None, ticker: str | None) -> dict[str, Any]:
    """A decrease: exactly one of ``reduce_to``/``reduce_by``; ``market_ticker`` routes it to its shard."""
    if (reduce_to is None) == (reduce_by is None):
        raise ValueError("decrease_order needs exactly one of reduce_to and reduce_by")
    body: dict[str, Any] = {}
    if reduce_to is not None:
        body["reduce_to"] = format_count(reduce_to)
    else:
        assert reduce_by is not None
        body["reduce_by"] = format_count(reduce_by)
    if ticker:
        body["market_ticker"] = ticker
    return body


def _cancel_items(orders: Sequence[tuple[str, str | None]], subaccount: int = 0) -> list[dict[str, Any]]:
    """Batch cancel items. ``market_ticker`` lets Kalshi route each to its market's shard (no
    ``exchange_index`` needed, API.md §3); ``subaccount`` only when it is not the primary."""
    items = []
    for order_id, ticker in orders:
        item: dict[str, Any] = {"order_id": order_id}
        if ticker:
            item["market_ticker"] = ticker
        if subaccount:
            item["subaccount"] = subaccount
        items.append(item)
    return items


def _cancel_results(orders: Sequence[tuple[str, str | None]], body: Any) -> list[OrderCanceledResult]:
    """One result per ``(order_id, ticker)`` of a batch cancel, matched by id (else by position)."""
    raw = list(req(body, "orders", "batch cancel response"))
    by_order = {r.get("order_id"): r for r in raw if isinstance(r, Mapping)}
    out = []
    for index, (order_id, _) in enumerate(orders):
        item_body = by_order.get(order_id) or (raw[index] if index < len(raw) else None)
        if item_body is None:
            raise MalformedMessageError(f"batch cancel response lacks order {order_id}", code="malformed")
        out.append(OrderCanceledResult.from_json(item_body, order_id))
    return out


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
