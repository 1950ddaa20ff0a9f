"""Kalshi WebSocket messages (and REST results) -> mmframe events, exactly.

Each function takes the ``msg`` object of one frame (API.md §6) and the clock time it was received,
and returns core events with integer prices and counts. Book events carry each ladder in its own
leg's prices (a NO bid at 0.54 is ``(5400, ...)`` on the NO ladder): the core converts to YES terms.

Which prices the NO ladder arrives in depends on the subscription's ``use_yes_price`` (API.md §6):
NO-leg prices without it, YES-leg prices with it (a NO bid at 0.54 is sent as ``"0.4600"``). The
book parsers take ``yes_prices`` — the flag the subscription was made with — and turn YES-leg NO
levels back into NO-leg prices (1 - p), so the events are the same either way.

Dollar fields follow `models`' rules: grid prices exact at 4 decimals, amounts (``fee_cost``)
exact at 6 (rounded up to the price unit for `OrderFilled.fee`).
Anything malformed raises `MalformedMessageError`; the feed logs and counts it and goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import orjson

from mmframe.api import (
    NANOS_PER_SECOND,
    ONE_DOLLAR,
    BookDeltaReceived,
    BookSnapshotReceived,
    Count,
    Event,
    FixedPointError,
    Leg,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    OrderCanceled,
    OrderFilled,
    PositionReported,
    Price,
    TickGrid,
    TradeReported,
    micros_to_price,
)
from mmframe_kalshi.errors import MalformedMessageError
from mmframe_kalshi.models import (
    EventFees,
    Fill,
    Market,
    Order,
    Series,
    book_side_of,
    count_field,
    fast_count,
    fast_price,
    ladder,
    opt_amount,
    opt_count,
    opt_price,
    price_field,
    req,
)

# market_lifecycle_v2 event_type -> the market status it leaves the market in.
LIFECYCLE_STATUS: Mapping[str, str] = {
    "created": "initialized",
    "activated": "active",
    "deactivated": "inactive",
    "determined": "determined",
    "settled": "finalized",
}


class Frame(NamedTuple):
    """One server frame: ``type``, subscription ``sid``, ``seq`` (sequenced channels), ``msg``."""

    type: str
    sid: int | None
    seq: int | None
    msg: Any
    id: int | None = None


def parse_frame(raw: str | bytes) -> Frame:
    """Decode one text frame into a `Frame`."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedMessageError("WS frame is not JSON", code="malformed") from None
    if type(data) is not dict or type(data.get("type")) is not str:
        raise MalformedMessageError("WS frame lacks a string 'type'", code="malformed")
    sid, seq, cmd_id = data.get("sid"), data.get("seq"), data.get("id")
    if not (_int_or_none(sid) and _int_or_none(seq) and _int_or_none(cmd_id)):
        raise MalformedMessageError(
            f"WS frame sid/seq/id not integers: {sid!r} {seq!r} {cmd_id!r}", code="malformed"
        )
    return Frame(data["type"], sid, seq, data.get("msg"), cmd_id)


def _int_or_none(value: Any) -> bool:
    return value is None or type(value) is int


def _msg(msg: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(msg, Mapping):
        raise MalformedMessageError(f"{what} msg is not an object", code="malformed")
    return msg


def book_snapshot(msg: Any, ts_ns: int, *, yes_prices: bool = False) -> BookSnapshotReceived:
    """``orderbook_snapshot`` -> `BookSnapshotReceived` (each ladder in its own leg's prices);
    ``yes_prices``: the subscription used ``use_yes_price`` (the NO ladder came in YES prices)."""
    m = _msg(msg, "orderbook_snapshot")
    ticker = req(m, "market_ticker", "orderbook_snapshot")
    no_bids = ladder(m.get("no_dollars_fp"), f"orderbook_snapshot {ticker} no_dollars_fp")
    if yes_prices:
        no_bids = tuple((ONE_DOLLAR - price, size) for price, size in no_bids)
    return BookSnapshotReceived(
        ts_ns=ts_ns,
        ticker=ticker,
        yes_bids=ladder(m.get("yes_dollars_fp"), f"orderbook_snapshot {ticker} yes_dollars_fp"),
        no_bids=no_bids,
    )


_LEGS = {"yes": Leg.YES, "no": Leg.NO}
_NO = Leg.NO


def book_delta(msg: Any, ts_ns: int, *, yes_prices: bool = False) -> BookDeltaReceived:
    """``orderbook_delta`` -> `BookDeltaReceived` (signed count change at one leg's level, in that
    leg's price); ``yes_prices``: as in `book_snapshot`."""
    try:  # the hot path: no per-field wrappers
        leg = _LEGS[msg["side"]]
        price = fast_price(msg["price_dollars"])
        return BookDeltaReceived(
            ts_ns=ts_ns,
            ticker=msg["market_ticker"],
            leg=leg,
            price=ONE_DOLLAR - price if yes_prices and leg is _NO else price,
            delta=fast_count(msg["delta_fp"]),
        )
    except (KeyError, TypeError, FixedPointError):
        pass
    m = _msg(msg, "orderbook_delta")  # say precisely what was wrong
    what = f"orderbook_delta {m.get('market_ticker', '?')}"
    side = req(m, "side", what)
    if side not in _LEGS:
        raise MalformedMessageError(f"{what} side {side!r} is not yes/no", code="malformed")
    price_field(m, "price_dollars", what)
    count_field(m, "delta_fp", what)
    req(m, "market_ticker", what)
    raise MalformedMessageError(f"{what} is malformed", code="malformed")  # pragma: no cover


def trade(msg: Any, ts_ns: int) -> TradeReported:
    """``trade`` -> `TradeReported` (YES price, taker's V2 side)."""
    m = _msg(msg, "trade")
    what = f"trade {m.get('trade_id', '?')}"
    return TradeReported(
        ts_ns=ts_ns,
        ticker=req(m, "market_ticker", what),
        price=price_field(m, "yes_price_dollars", what),
        count=count_field(m, "count_fp", what),
        taker_side=book_side_of(m, what, prefix="taker_"),
        trade_id=str(m.get("trade_id") or ""),
    )


@dataclass(frozen=True, slots=True)
class Ticker:
    """A ``ticker`` message: top of book and activity (YES prices, counts)."""

    ticker: str
    price: Price | None
    yes_bid: Price | None
    yes_ask: Price | None
    volume: Count | None
    open_interest: Count | None
    ts_ns: int


def ticker(msg: Any, ts_ns: int) -> Ticker:
    m = _msg(msg, "ticker")
    what = f"ticker {m.get('market_ticker', '?')}"
    return Ticker(
        ticker=req(m, "market_ticker", what),
        price=opt_price(m, "price_dollars", what),
        yes_bid=opt_price(m, "yes_bid_dollars", what),
        yes_ask=opt_price(m, "yes_ask_dollars", what),
        volume=opt_count(m, "volume_fp", what),
        open_interest=opt_count(m, "open_interest_fp", what),
        ts_ns=ts_ns,
    )


def lifecycle(msg: Any, ts_ns: int, info: MarketInfo | None) -> list[Event]:
    """``market_lifecycle_v2`` -> status changes and, for grid or close-time changes, a new
    `MarketInfo` built on ``info`` (the last one known). Unknown event types yield nothing."""
    m = _msg(msg, "market_lifecycle_v2")
    ticker_ = req(m, "market_ticker", "market_lifecycle_v2")
    event_type = req(m, "event_type", f"market_lifecycle_v2 {ticker_}")
    close_ts_ns = _seconds_ns(m.get("close_ts"), "close_ts")
    events: list[Event] = []
    status = LIFECYCLE_STATUS.get(event_type)
    if status is not None:
        result = m.get("result") or None
        events.append(
            MarketStatusChanged(
                ts_ns=ts_ns, ticker=ticker_, status=status, close_ts_ns=close_ts_ns, result=result
            )
        )
        if info is not None:
            info = replace(info, status=status, close_ts_ns=close_ts_ns or info.close_ts_ns)
    if info is not None and event_type in ("close_date_updated", "price_level_structure_updated"):
        if close_ts_ns is not None:
            info = replace(info, close_ts_ns=close_ts_ns)
        ranges = m.get("price_ranges")
        if ranges:
            try:
                info = replace(info, grid=TickGrid.from_kalshi(ranges))
            except ValueError as exc:
                raise MalformedMessageError(
                    f"lifecycle {ticker_} price_ranges: {exc}", code="malformed"
                ) from None
        events.append(MarketInfoReceived(ts_ns=ts_ns, ticker=ticker_, info=info))
    elif info is not None and status is not None:
        events.append(MarketInfoReceived(ts_ns=ts_ns, ticker=ticker_, info=info))
    return events


def _seconds_ns(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise MalformedMessageError(f"lifecycle {name} {value!r} is not Unix seconds", code="malformed")
    return value * NANOS_PER_SECOND


def event_fee_update(msg: Any) -> EventFees:
    """``event_fee_update`` (on the ``market_lifecycle_v2`` channel) -> the event's fee override;
    a part that is null was cleared (the series' own value applies again)."""
    return EventFees.from_json(_msg(msg, "event_fee_update"), "event_fee_update")


def market_info(market: Market, series: Series | None, ts_ns: int) -> MarketInfoReceived:
    """A REST market (plus its series' fee type) -> `MarketInfoReceived`."""
    info = market.to_info(*((series.fee_type, series.fee_multiplier_bps) if series else ()))
    return MarketInfoReceived(ts_ns=ts_ns, ticker=market.ticker, info=info)


def fill(msg: Any, ts_ns: int) -> OrderFilled:
    """WS ``fill`` -> `OrderFilled` (YES price, V2 side, fee from ``fee_cost``)."""
    m = _msg(msg, "fill")
    what = f"fill {m.get('trade_id', '?')}"
    return OrderFilled(
        ts_ns=ts_ns,
        client_order_id=str(m.get("client_order_id") or ""),
        ticker=req(m, "market_ticker", what),
        order_id=req(m, "order_id", what),
        trade_id=req(m, "trade_id", what),
        side=book_side_of(m, what),
        price=price_field(m, "yes_price_dollars", what),
        count=count_field(m, "count_fp", what),
        fee=micros_to_price(opt_amount(m, "fee_cost", what) or 0, "up"),
        is_taker=bool(m.get("is_taker", False)),
    )


def fill_from_rest(item: Fill, client_order_id: str, ts_ns: int) -> OrderFilled:
    """A REST fill (no client id of its own) -> `OrderFilled` with the client id we know for it."""
    return OrderFilled(
        ts_ns=ts_ns,
        client_order_id=client_order_id,
        ticker=item.ticker,
        order_id=item.order_id,
        trade_id=item.trade_id,
        side=item.side,
        price=item.price,
        count=item.count,
        fee=item.fee,
        is_taker=item.is_taker,
    )


def user_order(msg: Any) -> Order:
    """WS ``user_order`` -> `Order` (the REST Order shape; ``ticker`` or ``market_ticker``)."""
    m = _msg(msg, "user_order")
    if "ticker" not in m and "market_ticker" in m:
        m = {**m, "ticker": m["market_ticker"]}
    return Order.from_json(m)


def order_canceled(order: Order, ts_ns: int, reason: str) -> OrderCanceled:
    return OrderCanceled(
        ts_ns=ts_ns, client_order_id=order.client_order_id, ticker=order.ticker, reason=reason
    )


def market_position(msg: Any, ts_ns: int) -> PositionReported:
    """WS ``market_position`` -> `PositionReported` (signed YES contracts)."""
    m = _msg(msg, "market_position")
    what = f"market_position {m.get('market_ticker', '?')}"
    return PositionReported(
        ts_ns=ts_ns, ticker=req(m, "market_ticker", what), position=count_field(m, "position_fp", what)
    )


@dataclass(frozen=True, slots=True)
class OrderGroupUpdate:
    event_type: str
    order_group_id: str
    contracts_limit: Count | None


def order_group_update(msg: Any) -> OrderGroupUpdate:
    """``order_group_updates`` -> `OrderGroupUpdate` (created|triggered|reset|deleted|limit_updated)."""
    m = _msg(msg, "order_group_updates")
    what = "order_group_updates"
    return OrderGroupUpdate(
        event_type=req(m, "event_type", what),
        order_group_id=req(m, "order_group_id", what),
        contracts_limit=opt_count(m, "contracts_limit_fp", what),
    )
