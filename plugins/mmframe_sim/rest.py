"""Kalshi's REST surface under /trade-api/v2 (API.md §3-5), over the simulated `Exchange`.

Every route is a small ASGI app (`KalshiEndpoint`) that does, in order: injected delay, signature
check (401), body decoding (400 like Go's decoder), token-bucket charge (429), injected 429s and 5xx,
then the handler; the engine's `ExchangeError` becomes Kalshi's nested error body. Responses are
encoded with orjson and written straight to ASGI, without per-request framework objects.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import orjson
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from mmframe_sim import wire
from mmframe_sim.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, ApiKey, AuthError
from mmframe_sim.engine import (
    MARKET_STATUS_FILTERS,
    AmendRequest,
    CancelResult,
    ExchangeError,
    OrderRequest,
    OrderResult,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from mmframe_sim.host import SimHost
from mmframe_sim.money import MoneyError, parse_count, parse_price
from mmframe_sim.ratelimit import TIERS, cost_of, endpoint_costs_body, limits_body

API_PREFIX = "/trade-api/v2"
TOO_MANY_REQUESTS = orjson.dumps({"error": "too many requests"})
_JSON_HEADERS = [(b"content-type", b"application/json")]
_KEY_H, _TS_H, _SIG_H = KEY_HEADER.encode(), TIMESTAMP_HEADER.encode(), SIGNATURE_HEADER.encode()
T = TypeVar("T")
_log = logging.getLogger(__name__)
_NO_QUERY = QueryParams(b"")


class ParamError(Exception):
    """A query parameter failed validation: Kalshi answers 400 ``{"msg": ...}``."""


class DecodeError(Exception):
    """The body is not the JSON the endpoint decodes: Kalshi answers 400 flat ``bad_request``."""


@dataclass(slots=True)
class RestRequest:
    """What a handler sees: the authenticated key, path parameters, query and decoded JSON body."""

    key: ApiKey
    path_params: dict[str, str]
    query: QueryParams
    body: Any

    @property
    def user_id(self) -> str:
        return self.key.account_id


Handler = Callable[["SimHost", RestRequest], Awaitable[tuple[int, Any]]]


def _bad_request(details: str) -> ExchangeError:
    return ExchangeError(400, "bad_request", "bad request", details)


def _permission_denied() -> dict[str, Any]:
    return {"error": {"code": "permission_denied", "message": "this API key is read-only", "service": "exchange"}}


def _internal_error() -> dict[str, Any]:
    return {"error": {"code": "internal_server_error", "message": "internal server error", "service": "exchange"}}


# --- the per-route ASGI app ----------------------------------------------------------------------


class KalshiEndpoint:
    """One Kalshi route: auth, limits, faults, decoding and error mapping around a handler."""

    def __init__(self, sim: SimHost, method: str, route: str, handler: Handler, *, items: str | None = None) -> None:
        self.sim = sim
        self.method = method
        self.route = route
        self.handler = handler
        self.cost = cost_of(method, route)
        self.items_key = items  # body list whose length multiplies a per-item cost
        self.is_write = method != "GET"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sim = self.sim
        faults = sim.faults
        if faults.delay_s > 0:
            await anyio.sleep(faults.delay_s)
        key_id = ts = sig = None
        for name, value in scope["headers"]:
            if name == _KEY_H:
                key_id = value.decode("latin-1")
            elif name == _TS_H:
                ts = value.decode("latin-1")
            elif name == _SIG_H:
                sig = value.decode("latin-1")
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        try:
            key = sim.verifier.verify(key_id, ts, sig, self.method, path)
        except AuthError as exc:
            await _respond(send, 401, orjson.dumps(exc.body))
            return
        body: Any = None
        if self.method != "GET":
            raw = await _read_body(receive)
            if raw.strip():
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    await _respond(send, 400, _flat_bad_request(f"invalid character in JSON body: {exc.msg}"))
                    return
        items = 1
        if self.items_key is not None and isinstance(body, dict):
            listed = body.get(self.items_key)
            if isinstance(listed, list):
                items = len(listed)
        if self.is_write:
            send = sim.write_log.record(key.account_id, self.method, self.route, items, send)
            if "write" not in key.scopes:  # a read-only key: refused, but it reached the venue (logged)
                await _respond(send, 403, orjson.dumps(_permission_denied()))
                return
        if not sim.limiter.try_acquire(key.key_id, key.tier, self.cost, items) or faults.take_429():
            await _respond(send, 429, TOO_MANY_REQUESTS)
            return
        fail_after = False
        if self.is_write:
            mode = faults.draw_write_failure()
            if mode == "before":
                await _respond(send, 500, orjson.dumps(_internal_error()))
                return
            fail_after = mode == "after"
        query_string = scope["query_string"]
        query = QueryParams(query_string) if query_string else _NO_QUERY
        request = RestRequest(key, scope.get("path_params", {}), query, body)
        try:
            status, payload = await self.handler(sim, request)
        except ExchangeError as exc:
            status, payload = exc.http_status, exc.body()
        except ParamError as exc:
            status, payload = 400, {"msg": str(exc)}
        except DecodeError as exc:
            await _respond(send, 400, _flat_bad_request(str(exc)))
            return
        if fail_after:
            # The dangerous case: the action happened, the client only sees a 5xx.
            status, payload = 500, _internal_error()
        await _respond(send, status, b"" if payload is None else orjson.dumps(payload))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    if status == 204:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _flat_bad_request(details: str) -> bytes:
    return orjson.dumps({"code": "bad_request", "message": "bad request", "details": details})


# --- decoding helpers ----------------------------------------------------------------------------

_GO_TYPES = {str: "string", int: "int64", bool: "bool"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _decode_fields(struct: str, body: Any, fields: dict[str, type]) -> dict[str, Any]:
    """Check JSON types like Go's decoder (``count: 10`` for a string field -> `DecodeError`).

    Unknown fields are ignored and ``null`` means absent, as in Go.
    """
    if not isinstance(body, dict):
        raise DecodeError(f"json: cannot unmarshal {_json_kind(body)} into Go value of type {struct}")
    out: dict[str, Any] = {}
    for name, value in body.items():  # a body has fewer keys than the struct has fields
        kind = fields.get(name)
        if kind is None or value is None:
            continue
        value_type = type(value)
        if value_type is not kind:  # exact types: bool is not an int here, as in Go
            shown = _json_kind(value)
            if shown == "number" and kind is int:
                shown = f"number {value}"
            raise DecodeError(
                f"json: cannot unmarshal {shown} into Go struct field {struct}.{name} of type {_GO_TYPES[kind]}"
            )
        out[name] = value
    return out


def _require(fields: dict[str, Any], *names: str) -> None:
    for name in names:
        if name not in fields:
            raise _bad_request(f"missing required field: {name}")


def _enum(enum_type: type[T], value: str, field: str) -> T:
    found = enum_type._value2member_map_.get(value)  # type: ignore[attr-defined]
    if found is None:
        raise _bad_request(f"invalid {field}: {value!r}")
    return found  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=8192)
def _parse_price_cached(text: str) -> int:
    return parse_price(text)


@functools.lru_cache(maxsize=8192)
def _parse_count_cached(text: str) -> int:
    return parse_count(text)


def _price(text: str) -> int:
    # Orders repeat a few hundred price strings; a cache hit is ~20x cheaper than parsing.
    try:
        return _parse_price_cached(text)
    except MoneyError as exc:
        raise ExchangeError(400, "invalid_price", "invalid price", str(exc)) from None


def _count(text: str, field: str = "count") -> int:
    try:
        return _parse_count_cached(text)
    except MoneyError as exc:
        raise _bad_request(f"invalid {field}: {exc}") from None


_CREATE_FIELDS: dict[str, type] = {
    "ticker": str, "client_order_id": str, "side": str, "count": str, "price": str, "time_in_force": str,
    "self_trade_prevention_type": str, "expiration_time": int, "post_only": bool, "reduce_only": bool,
    "cancel_order_on_pause": bool, "subaccount": int, "order_group_id": str, "exchange_index": int,
}


def parse_create_order(body: Any, struct: str = "CreateOrderV2Request") -> OrderRequest:
    """A CreateOrderV2 body -> `OrderRequest` (raises `DecodeError` or `ExchangeError`)."""
    f = _decode_fields(struct, body, _CREATE_FIELDS)
    _require(f, "ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type")
    return OrderRequest(
        ticker=f["ticker"],
        side=_enum(Side, f["side"], "side"),
        price=_price(f["price"]),
        count=_count(f["count"]),
        time_in_force=_enum(TimeInForce, f["time_in_force"], "time_in_force"),
        self_trade_prevention_type=_enum(
            SelfTradePrevention, f["self_trade_prevention_type"], "self_trade_prevention_type"
        ),
        client_order_id=f.get("client_order_id") or None,
        expiration_time_s=f.get("expiration_time"),
        post_only=f.get("post_only", False),
        reduce_only=f.get("reduce_only", False),
        cancel_order_on_pause=f.get("cancel_order_on_pause", False),
        order_group_id=f.get("order_group_id") or None,
        subaccount=f.get("subaccount", 0),
    )


_AMEND_FIELDS: dict[str, type] = {
    "ticker": str, "side": str, "price": str, "count": str, "client_order_id": str,
    "updated_client_order_id": str, "expiration_time": int, "exchange_index": int, "subaccount": int,
}


def parse_amend(body: Any) -> AmendRequest:
    f = _decode_fields("AmendOrderV2Request", body, _AMEND_FIELDS)
    _require(f, "ticker", "side", "price", "count")
    return AmendRequest(
        ticker=f["ticker"],
        side=_enum(Side, f["side"], "side"),
        price=_price(f["price"]),
        count=_count(f["count"]),
        client_order_id=f.get("client_order_id") or None,
        updated_client_order_id=f.get("updated_client_order_id") or None,
        expiration_time_s=f.get("expiration_time"),
    )


def _query_int(query: QueryParams, name: str, op: str, *, default: int | None = None,
               lo: int | None = None, hi: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"Parameter validation failed for {op}: {name} must be an integer, got {raw!r}") from None
    field = "".join(part.capitalize() for part in name.split("_"))
    if lo is not None and value < lo:
        raise ParamError(
            f"Parameter validation failed for {op}: Key: '{op}Params.{field}' Error:Field validation for "
            f"'{field}' failed on the 'gte' tag"
        )
    if hi is not None and value > hi:
        raise ParamError(
            f"Parameter validation failed for {op}: Key: '{op}Params.{field}' Error:Field validation for "
            f"'{field}' failed on the 'lte' tag"
        )
    return value


def _limit(query: QueryParams, op: str, maximum: int = 1000) -> int:
    value = _query_int(query, "limit", op, default=100, lo=1, hi=maximum)
    assert value is not None
    return value


def _csv(query: QueryParams, name: str) -> list[str]:
    out: list[str] = []
    for raw in query.getlist(name):
        out.extend(part for part in raw.split(",") if part)
    return out


# --- pagination ----------------------------------------------------------------------------------


def _encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, op: str) -> int | None:
    if not cursor:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ParamError(f"Parameter validation failed for {op}: invalid cursor") from None


def page_by_offset(items: Sequence[T], query: QueryParams, op: str, limit: int) -> tuple[Sequence[T], str]:
    """A page of a stable ordered list; the cursor is the offset of the next item."""
    start = _decode_cursor(query.get("cursor"), op) or 0
    page = items[start : start + limit]
    end = start + len(page)
    return page, (_encode_cursor(end) if end < len(items) else "")


def page_by_seq(items: Sequence[T], query: QueryParams, op: str, limit: int) -> tuple[Sequence[T], str]:
    """A page of a newest-first list of records with ``seq``; stable while new records arrive."""
    after = _decode_cursor(query.get("cursor"), op)
    if after is not None:
        items = [item for item in items if item.seq < after]  # type: ignore[attr-defined]
    page = items[:limit]
    more = len(items) > limit
    return page, (_encode_cursor(page[-1].seq) if more and page else "")  # type: ignore[attr-defined]


# --- handlers: exchange and market data ----------------------------------------------------------


async def get_exchange_status(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    status = sim.exchange.exchange_status()
    return 200, {
        "exchange_active": status.exchange_active,
        "trading_active": status.trading_active,
        "intra_exchange_transfers_active": status.exchange_active,
        "exchange_estimated_resume_time": None,
        "exchange_index_statuses": [
            {"exchange_index": 0, "exchange_active": status.exchange_active, "trading_active": status.trading_active}
        ],
    }


async def get_user_data_timestamp(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, {"as_of_time": wire.rfc3339(sim.exchange.now_ns())}


async def get_markets(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetMarkets")
    status = q.get("status") or None
    if status is not None and status not in MARKET_STATUS_FILTERS:
        raise ParamError(
            "Parameter validation failed for GetMarkets: Key: 'GetMarketsParams.Status' Error:Field validation "
            "for 'Status' failed on the 'oneof' tag"
        )
    tickers = _csv(q, "tickers") or None
    markets = sim.exchange.markets(
        tickers=tickers,
        event_ticker=q.get("event_ticker") or None,
        series_ticker=q.get("series_ticker") or None,
        status=status,
        min_close_ts_s=_query_int(q, "min_close_ts", "GetMarkets"),
        max_close_ts_s=_query_int(q, "max_close_ts", "GetMarkets"),
    )
    page, cursor = page_by_offset(markets, q, "GetMarkets", limit)
    now = sim.exchange.now_ns()
    return 200, {"markets": [wire.market_json(m, now) for m in page], "cursor": cursor}


async def get_market(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    market = sim.exchange.market(req.path_params["ticker"])
    return 200, {"market": wire.market_json(market, sim.exchange.now_ns())}


async def get_orderbook(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    depth = _query_int(req.query, "depth", "GetMarketOrderbook", default=0, lo=0, hi=100) or 0
    book = sim.exchange.orderbook(req.path_params["ticker"], depth)
    return 200, {"orderbook_fp": wire.orderbook_json(book)}


async def get_orderbooks(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    tickers = _csv(req.query, "tickers")
    if not 1 <= len(tickers) <= 100:
        raise ParamError(
            "Parameter validation failed for GetMultipleMarketOrderbooks: Key: "
            "'GetMultipleMarketOrderbooksParams.Tickers' Error:Field validation for 'Tickers' failed on the "
            + ("'min' tag" if not tickers else "'max' tag")
        )
    books = [sim.exchange.orderbook(t) for t in tickers]
    return 200, {"orderbooks": [{"ticker": b.ticker, "orderbook_fp": wire.orderbook_json(b)} for b in books]}


async def get_trades(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetTrades")
    trades = sim.exchange.trades(
        ticker=q.get("ticker") or None,
        min_ts_s=_query_int(q, "min_ts", "GetTrades"),
        max_ts_s=_query_int(q, "max_ts", "GetTrades"),
    )
    page, cursor = page_by_seq(trades, q, "GetTrades", limit)
    return 200, {"trades": [wire.trade_json(t) for t in page], "cursor": cursor}


async def get_series(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, {"series": wire.series_json(sim.exchange.series(req.path_params["series_ticker"]))}


async def get_series_list(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, {"series": [wire.series_json(s) for s in sim.exchange.all_series()]}


def _series_or_none(sim: SimHost, ticker: str) -> Any:
    try:
        return sim.exchange.series(ticker)
    except ExchangeError:
        return None


async def get_events(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetEvents", maximum=200)
    nested = q.get("with_nested_markets", "false").lower() == "true"
    events = sim.exchange.events(q.get("series_ticker") or None)
    page, cursor = page_by_offset(events, q, "GetEvents", limit)
    now = sim.exchange.now_ns()
    out = []
    for event in page:
        markets = (
            [wire.market_json(m, now) for m in sim.exchange.markets(event_ticker=event.event_ticker)]
            if nested
            else None
        )
        out.append(wire.event_json(event, _series_or_none(sim, event.series_ticker), markets,
                                   sim.exchange.event_fee_override(event.event_ticker)))
    return 200, {"events": out, "cursor": cursor}


async def get_event(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    event = sim.exchange.event(req.path_params["event_ticker"])
    now = sim.exchange.now_ns()
    markets = [wire.market_json(m, now) for m in sim.exchange.markets(event_ticker=event.event_ticker)]
    nested = req.query.get("with_nested_markets", "false").lower() == "true"
    body = wire.event_json(event, _series_or_none(sim, event.series_ticker), markets if nested else None,
                           sim.exchange.event_fee_override(event.event_ticker))
    return 200, {"event": body, "markets": markets}


# --- handlers: portfolio --------------------------------------------------------------------------


async def get_balance(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, wire.balance_json(sim.exchange.balance(req.user_id))


async def get_positions(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetPositions")
    count_filter = {part.strip() for part in (q.get("count_filter") or "").split(",") if part.strip()}
    positions = sim.exchange.positions(
        req.user_id,
        ticker=q.get("ticker") or None,
        event_ticker=q.get("event_ticker") or None,
        nonzero_only="position" in count_filter,
    )
    if "total_traded" in count_filter:
        positions = [p for p in positions if p.total_traded]
    page, cursor = page_by_offset(positions, q, "GetPositions", limit)
    return 200, {
        "market_positions": [wire.position_json(p) for p in page],
        "event_positions": wire.event_positions_json(page),
        "cursor": cursor,
    }


async def get_fills(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetFills")
    fills = sim.exchange.fills(
        req.user_id,
        ticker=q.get("ticker") or None,
        order_id=q.get("order_id") or None,
        min_ts_s=_query_int(q, "min_ts", "GetFills"),
        max_ts_s=_query_int(q, "max_ts", "GetFills"),
    )
    page, cursor = page_by_seq(fills, q, "GetFills", limit)
    return 200, {"fills": [wire.fill_json(f) for f in page], "cursor": cursor}


async def get_orders(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetOrders")
    event_tickers = _csv(q, "event_ticker")
    if len(event_tickers) > 10:
        raise ParamError("Parameter validation failed for GetOrders: at most 10 event tickers")
    status = q.get("status") or None
    if status is not None and status not in ("resting", "canceled", "executed"):
        raise ParamError(
            "Parameter validation failed for GetOrders: Key: 'GetOrdersParams.Status' Error:Field validation "
            "for 'Status' failed on the 'oneof' tag"
        )
    orders = sim.exchange.orders(
        req.user_id,
        ticker=q.get("ticker") or None,
        event_tickers=event_tickers or None,
        status=status,
        min_ts_s=_query_int(q, "min_ts", "GetOrders"),
        max_ts_s=_query_int(q, "max_ts", "GetOrders"),
        before_seq=_decode_cursor(q.get("cursor"), "GetOrders"),
        limit=limit + 1,  # one more than the page: tells whether there is a next page
    )
    page, cursor = page_by_seq(orders, q, "GetOrders", limit)
    return 200, {"orders": [wire.order_json(o) for o in page], "cursor": cursor}


async def get_order(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, {"order": wire.order_json(sim.exchange.get_order(req.user_id, req.path_params["order_id"]))}


async def get_queue_position(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    ahead = sim.exchange.queue_position(req.user_id, req.path_params["order_id"])
    return 200, {"queue_position_fp": wire.count_str(ahead)}


async def get_settlements(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    q = req.query
    limit = _limit(q, "GetSettlements")
    settlements = sim.exchange.settlements(req.user_id, ticker=q.get("ticker") or None)
    page, cursor = page_by_seq(settlements, q, "GetSettlements", limit)
    return 200, {"settlements": [wire.settlement_json(s) for s in page], "cursor": cursor}


# --- handlers: V2 orders ---------------------------------------------------------------------------


def _order_result_json(result: OrderResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": result.order.order_id,
        "client_order_id": result.order.client_order_id or "",
        "fill_count": wire.count_str(result.fill_count),
        "remaining_count": wire.count_str(result.remaining_count),
        "ts_ms": result.ts_ns // 1_000_000,
    }
    if result.average_fill_price is not None:
        body["average_fill_price"] = wire.average(result.average_fill_price)
        body["average_fee_paid"] = wire.average(result.average_fee_paid or 0)
    return body


def _cancel_result_json(result: CancelResult) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": result.order.order_id}
    if result.order.client_order_id:
        body["client_order_id"] = result.order.client_order_id
    body["reduced_by"] = wire.count_str(result.reduced_by)
    body["ts_ms"] = result.ts_ns // 1_000_000
    return body


def max_batch_size(tier_name: str) -> int:
    """Batch size scales with the tier's write budget (API.md §4): one burst of creates, at least 20."""
    return min(10_000, max(20, TIERS[tier_name].write_capacity // 10))


async def create_order(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    result = sim.exchange.create_order(req.user_id, parse_create_order(req.body))
    return 201, _order_result_json(result)


def _batch_list(body: Any, struct: str, tier: str) -> list[Any]:
    fields = _decode_fields(struct, body, {"orders": list})
    orders = fields.get("orders")
    if not orders:
        raise _bad_request("orders must be a non-empty list")
    if len(orders) > max_batch_size(tier):
        raise _bad_request(f"batch of {len(orders)} orders exceeds the maximum of {max_batch_size(tier)}")
    return list(orders)


async def batch_create_orders(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    items = _batch_list(req.body, "BatchCreateOrdersV2Request", req.key.tier)
    parsed: list[OrderRequest | ExchangeError] = []
    for item in items:
        try:
            parsed.append(parse_create_order(item, "BatchCreateOrdersV2Request.orders"))
        except ExchangeError as exc:
            parsed.append(exc)
    valid = [p for p in parsed if isinstance(p, OrderRequest)]
    results = iter(sim.exchange.create_orders(req.user_id, valid) if valid else [])
    out: list[dict[str, Any]] = []
    for item, p in zip(items, parsed, strict=True):
        outcome = next(results) if isinstance(p, OrderRequest) else p
        if isinstance(outcome, ExchangeError):
            entry: dict[str, Any] = {"error": outcome.item()}
            coid = item.get("client_order_id") if isinstance(item, dict) else None
            if isinstance(coid, str) and coid:
                entry = {"client_order_id": coid, **entry}
            out.append(entry)
        else:
            out.append(_order_result_json(outcome))
    return 201, {"orders": out}


async def cancel_order(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, _cancel_result_json(sim.exchange.cancel_order(req.user_id, req.path_params["order_id"]))


async def batch_cancel_orders(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    body = req.body
    if isinstance(body, dict) and "orders" not in body and isinstance(body.get("ids"), list):
        body = {"orders": [{"order_id": i} for i in body["ids"]]}  # the legacy shape
    items = _batch_list(body, "BatchCancelOrdersV2Request", req.key.tier)
    ids: list[str] = []
    for item in items:
        f = _decode_fields("BatchCancelOrdersV2Request.orders", item, {"order_id": str, "subaccount": int,
                                                                       "exchange_index": int, "market_ticker": str})
        _require(f, "order_id")
        ids.append(f["order_id"])
    results = sim.exchange.cancel_orders(req.user_id, ids, all_or_nothing=sim.faults.strict_batch_cancel)
    out = [
        {"order_id": order_id, "error": r.item()} if isinstance(r, ExchangeError) else _cancel_result_json(r)
        for order_id, r in zip(ids, results, strict=True)
    ]
    return 200, {"orders": out}


async def cancel_all_orders(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    sim.exchange.cancel_all(req.user_id)
    return 204, None


async def amend_order(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    result = sim.exchange.amend_order(req.user_id, req.path_params["order_id"], parse_amend(req.body))
    body = _order_result_json(result)
    return 200, body


async def decrease_order(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    f = _decode_fields(
        "DecreaseOrderV2Request", req.body if req.body is not None else {},
        {"reduce_by": str, "reduce_to": str, "exchange_index": int, "market_ticker": str, "subaccount": int},
    )
    if ("reduce_by" in f) == ("reduce_to" in f):
        raise _bad_request("exactly one of reduce_by and reduce_to is required")
    result = sim.exchange.decrease_order(
        req.user_id,
        req.path_params["order_id"],
        reduce_by=_count(f["reduce_by"], "reduce_by") if "reduce_by" in f else None,
        reduce_to=_count(f["reduce_to"], "reduce_to") if "reduce_to" in f else None,
    )
    body: dict[str, Any] = {"order_id": result.order.order_id}
    if result.order.client_order_id:
        body["client_order_id"] = result.order.client_order_id
    body["remaining_count"] = wire.count_str(result.order.remaining)
    body["ts_ms"] = result.ts_ns // 1_000_000
    return 200, body


# --- handlers: order groups -------------------------------------------------------------------------


def _contracts_limit(body: Any, struct: str) -> int:
    f = _decode_fields(struct, body if body is not None else {},
                       {"contracts_limit": int, "contracts_limit_fp": str, "subaccount": int, "exchange_index": int})
    if "contracts_limit_fp" in f:
        return _count(f["contracts_limit_fp"], "contracts_limit_fp")
    if "contracts_limit" in f:
        return int(f["contracts_limit"]) * 100
    raise _bad_request("contracts_limit or contracts_limit_fp is required")


async def create_order_group(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    group = sim.exchange.create_order_group(req.user_id, _contracts_limit(req.body, "CreateOrderGroupRequest"))
    return 201, {"order_group_id": group.order_group_id, "subaccount": group.subaccount, "exchange_index": 0}


async def list_order_groups(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, {"order_groups": [wire.order_group_summary_json(g) for g in sim.exchange.order_groups(req.user_id)]}


async def get_order_group(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, wire.order_group_json(sim.exchange.order_group(req.user_id, req.path_params["order_group_id"]))


async def reset_order_group(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    sim.exchange.reset_order_group(req.user_id, req.path_params["order_group_id"])
    return 200, {}


async def trigger_order_group(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    sim.exchange.trigger_order_group(req.user_id, req.path_params["order_group_id"])
    return 200, {}


async def set_order_group_limit(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    limit = _contracts_limit(req.body, "UpdateOrderGroupLimitRequest")
    sim.exchange.set_order_group_limit(req.user_id, req.path_params["order_group_id"], limit)
    return 200, {}


async def delete_order_group(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    sim.exchange.delete_order_group(req.user_id, req.path_params["order_group_id"])
    return 200, {}


# --- handlers: account -------------------------------------------------------------------------------


async def get_account_limits(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, limits_body(req.key.tier)


async def get_endpoint_costs(sim: SimHost, req: RestRequest) -> tuple[int, Any]:
    return 200, endpoint_costs_body()


# --- the route table ---------------------------------------------------------------------------------

# (method, path, handler, per-item list) -- order matters where a literal segment shadows a parameter.
ROUTES: tuple[tuple[str, str, Handler, str | None], ...] = (
    ("GET", "/exchange/status", get_exchange_status, None),
    ("GET", "/exchange/user_data_timestamp", get_user_data_timestamp, None),
    ("GET", "/markets", get_markets, None),
    ("GET", "/markets/trades", get_trades, None),
    ("GET", "/markets/orderbooks", get_orderbooks, None),
    ("GET", "/markets/{ticker}", get_market, None),
    ("GET", "/markets/{ticker}/orderbook", get_orderbook, None),
    ("GET", "/series", get_series_list, None),
    ("GET", "/series/{series_ticker}", get_series, None),
    ("GET", "/events", get_events, None),
    ("GET", "/events/{event_ticker}", get_event, None),
    ("GET", "/portfolio/balance", get_balance, None),
    ("GET", "/portfolio/positions", get_positions, None),
    ("GET", "/portfolio/fills", get_fills, None),
    ("GET", "/portfolio/orders", get_orders, None),
    ("GET", "/portfolio/orders/{order_id}", get_order, None),
    ("GET", "/portfolio/orders/{order_id}/queue_position", get_queue_position, None),
    ("GET", "/portfolio/settlements", get_settlements, None),
    ("POST", "/portfolio/events/orders", create_order, None),
    ("POST", "/portfolio/events/orders/batched", batch_create_orders, "orders"),
    ("DELETE", "/portfolio/events/orders/batched", batch_cancel_orders, "orders"),
    ("DELETE", "/portfolio/events/orders", cancel_all_orders, None),
    ("DELETE", "/portfolio/events/orders/{order_id}", cancel_order, None),
    ("POST", "/portfolio/events/orders/{order_id}/amend", amend_order, None),
    ("POST", "/portfolio/events/orders/{order_id}/decrease", decrease_order, None),
    ("POST", "/portfolio/order_groups/create", create_order_group, None),
    ("GET", "/portfolio/order_groups", list_order_groups, None),
    ("GET", "/portfolio/order_groups/{order_group_id}", get_order_group, None),
    ("PUT", "/portfolio/order_groups/{order_group_id}/reset", reset_order_group, None),
    ("PUT", "/portfolio/order_groups/{order_group_id}/trigger", trigger_order_group, None),
    ("PUT", "/portfolio/order_groups/{order_group_id}/limit", set_order_group_limit, None),
    ("DELETE", "/portfolio/order_groups/{order_group_id}", delete_order_group, None),
    ("GET", "/account/limits", get_account_limits, None),
    ("GET", "/account/endpoint_costs", get_endpoint_costs, None),
)


class KalshiRouter:
    """The ASGI entry point: Kalshi's REST paths dispatched by table lookup, everything else (the
    WebSocket, the admin API, 404s) handed to ``fallback`` (the Starlette app).

    A dict for fixed paths and a short list of compiled patterns for parameterised ones: routing costs
    one lookup instead of a scan of every route, which matters at thousands of requests per second.
    """

    def __init__(self, sim: SimHost, fallback: ASGIApp) -> None:
        self.fallback = fallback
        self._fixed: dict[tuple[str, str], KalshiEndpoint] = {}
        self._patterns: list[tuple[str, re.Pattern[str], KalshiEndpoint]] = []
        self._paths: list[re.Pattern[str]] = []
        for method, path, handler, items in ROUTES:
            endpoint = KalshiEndpoint(sim, method, path, handler, items=items)
            if "{" in path:
                pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
                self._patterns.append((method, pattern, endpoint))
                self._paths.append(pattern)
            else:
                self._fixed[(method, path)] = endpoint
                self._paths.append(re.compile(re.escape(path)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            sub = scope["path"][len(API_PREFIX):]
            method = scope["method"]
            endpoint = self._fixed.get((method, sub))
            if endpoint is None:
                for route_method, pattern, candidate in self._patterns:
                    if route_method == method:
                        match = pattern.fullmatch(sub)
                        if match is not None:
                            scope["path_params"] = match.groupdict()
                            endpoint = candidate
                            break
            if endpoint is not None:
                try:
                    await endpoint(scope, receive, send)
                except Exception:
                    _log.exception("%s %s failed", method, scope["path"])
                    await _respond(send, 500, orjson.dumps(_internal_error()))
                return
            if any(p.fullmatch(sub) for p in self._paths):
                await _respond(send, 405, orjson.dumps(
                    {"error": {"code": "method_not_allowed", "message": "method not allowed"}}))
                return
        await self.fallback(scope, receive, send)


def route_table() -> list[tuple[str, str]]:
    """Every (method, path) the simulator serves under /trade-api/v2."""
    return [(method, path) for method, path, _, _ in ROUTES]
