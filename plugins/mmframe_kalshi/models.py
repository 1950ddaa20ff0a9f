"""Typed REST results with exact integers, and the JSON -> dataclass converters behind them.

This module and `parsing` are the venue boundary: Kalshi's fixed-point strings become integers
here, and nowhere else. A missing or malformed field raises `MalformedMessageError` naming the field.

Kalshi's ``FixedPointDollars`` strings carry up to 6 decimals (API.md §3). Each dollar field is
read by its kind (docs/kalshi-protocol.md has the table):

* **Prices on the tick grid** — book levels (``yes_dollars``/``no_dollars``, ``*_dollars_fp``,
  delta ``price_dollars``), an order's or a fill's or a trade's ``yes_price_dollars``, a market's or
  ticker's bid/ask/last: `Price` (1/10,000 dollar), exact. Zeros may follow the 4th decimal
  (``"0.520000"``); any other 5th/6th digit is off every grid, so the field is malformed.
* **Amounts** — ``fee_cost``, ``average_fee_paid``, ``average_fill_price`` (an average is not on
  the grid), ``taker_fees_dollars``/``maker_fees_dollars``, ``market_exposure_dollars``,
  ``realized_pnl_dollars``, ``fees_paid_dollars``, ``total_traded_dollars``, ``balance_dollars``:
  `Micros` (1/1,000,000 dollar), exact, in the ``*_micros`` attributes. Where the core needs a
  `Price`, a property rounds it in the direction that never flatters us (`micros_to_price`): fees
  and costs up (`Fill.fee`, `MarketPosition.fees_paid`/``exposure``/``total_traded``, `Order.fees`,
  ``average_fee_paid``), gains down (``realized_pnl``, `Balance.balance`), averages to the nearest
  unit (``average_fill_price``).
* **Counts** (``*_fp``, ``fill_count``, ``remaining_count``...): `Count` (1/100 contract), exact.

``exchange_index`` (the shard a market lives on) and ``subaccount``/``subaccount_number`` are kept
where Kalshi sends them (default 0); API.md §3 documents both as plain request/response fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from mmframe.api import (
    BookSide,
    Count,
    FeeType,
    FixedPointError,
    MarketInfo,
    Micros,
    OrderStatus,
    Price,
    TickGrid,
    WorkingOrder,
    micros_to_price,
    parse_count,
    parse_micros,
    parse_price,
)
from mmframe_kalshi.errors import KalshiError, MalformedMessageError, error_from_response

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = 1_000
_CENT_IN_PRICE_UNITS = 100


# --- field readers ---------------------------------------------------------------------------------


def req(data: Mapping[str, Any], key: str, what: str) -> Any:
    """A required field, or `MalformedMessageError` naming it."""
    try:
        return data[key]
    except (KeyError, TypeError):
        raise MalformedMessageError(f"{what} lacks field {key!r}", code="malformed") from None


# Book traffic repeats the same few hundred price and size strings; parsing each distinct string
# once (with the core's exact parser) takes the regex off the per-frame path.
_PRICES: dict[str, Price] = {}
_COUNTS: dict[str, Count] = {}
_CACHE_LIMIT = 20_000


def fast_price(text: Any) -> Price:
    """`parse_price`, memoised; raises `FixedPointError` like it."""
    try:
        return _PRICES[text]
    except (KeyError, TypeError):
        value = parse_price(text)
        if len(_PRICES) >= _CACHE_LIMIT:
            _PRICES.clear()
        _PRICES[text] = value
        return value


def fast_count(text: Any) -> Count:
    """`parse_count`, memoised; raises `FixedPointError` like it."""
    try:
        return _COUNTS[text]
    except (KeyError, TypeError):
        value = parse_count(text)
        if len(_COUNTS) >= _CACHE_LIMIT:
            _COUNTS.clear()
        _COUNTS[text] = value
        return value


def price_field(data: Mapping[str, Any], key: str, what: str) -> Price:
    try:
        return fast_price(req(data, key, what))
    except FixedPointError as exc:
        raise MalformedMessageError(f"{what}.{key}: {exc}", code="malformed") from None


def count_field(data: Mapping[str, Any], key: str, what: str) -> Count:
    try:
        return fast_count(req(data, key, what))
    except FixedPointError as exc:
        raise MalformedMessageError(f"{what}.{key}: {exc}", code="malformed") from None


def amount_field(data: Mapping[str, Any], key: str, what: str) -> Micros:
    """A dollar amount (fee, cost, PnL, average, balance): exact micros, up to 6 decimals."""
    try:
        return parse_micros(req(data, key, what), what="amount")
    except FixedPointError as exc:
        raise MalformedMessageError(f"{what}.{key}: {exc}", code="malformed") from None


def opt_amount(data: Mapping[str, Any], key: str, what: str) -> Micros | None:
    return amount_field(data, key, what) if data.get(key) not in (None, "") else None


def _opt_micros_to_price(micros: Micros | None, rounding: Any) -> Price | None:
    return None if micros is None else micros_to_price(micros, rounding)


def int_field(data: Mapping[str, Any], key: str, what: str, default: int = 0) -> int:
    """An optional integer field such as ``exchange_index`` or ``subaccount`` (missing/null: ``default``)."""
    value = data.get(key)
    if value is None:
        return default
    if type(value) is not int:
        raise MalformedMessageError(f"{what}.{key}: {value!r} is not an integer", code="malformed")
    return value


def opt_price(data: Mapping[str, Any], key: str, what: str) -> Price | None:
    return price_field(data, key, what) if data.get(key) not in (None, "") else None


def opt_count(data: Mapping[str, Any], key: str, what: str) -> Count | None:
    return count_field(data, key, what) if data.get(key) not in (None, "") else None


def rfc3339_ns(text: Any) -> int | None:
    """RFC3339 time (``2026-06-11T06:29:30.164956Z``) -> Unix ns, exactly; None for empty."""
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise MalformedMessageError(f"time {text!r} is not an RFC3339 string", code="malformed")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedMessageError(f"time {text!r} is not RFC3339", code="malformed") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND_DELTA * _MICROSECOND


_MICROSECOND_DELTA = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def book_side_of(data: Mapping[str, Any], what: str, *, prefix: str = "") -> BookSide:
    """The V2 book side of an order/fill: ``book_side`` when present, else from ``outcome_side``
    (yes = bid, no = ask), else from the deprecated ``side``/``action`` pair."""
    side = data.get(f"{prefix}book_side")
    if side in ("bid", "ask"):
        return BookSide(side)
    outcome = data.get(f"{prefix}outcome_side")
    if outcome in ("yes", "no"):
        return BookSide.BID if outcome == "yes" else BookSide.ASK
    legacy, action = data.get(f"{prefix}side"), data.get("action")
    if legacy in ("yes", "no"):
        # Old shape: side + action; without an action (old user_order), side is the outcome side.
        buys_yes = (legacy == "yes") == (action != "sell")
        return BookSide.BID if buys_yes else BookSide.ASK
    raise MalformedMessageError(f"{what} has no book_side/outcome_side", code="malformed")


def subaccount_of(data: Mapping[str, Any], what: str) -> int:
    """The subaccount an order/fill/position belongs to: ``subaccount_number`` (REST objects) or
    ``subaccount`` (WebSocket messages); 0 (the primary account) when absent."""
    key = "subaccount_number" if "subaccount_number" in data else "subaccount"
    return int_field(data, key, what)


def fee_multiplier_bps(value: Any) -> int:
    """Kalshi's ``fee_multiplier`` (a JSON number, usually 1) -> basis points (1 -> 10,000)."""
    if value in (None, ""):
        return 10_000
    try:
        return int((Decimal(str(value)) * 10_000).to_integral_value())
    except InvalidOperation:
        raise MalformedMessageError(f"fee_multiplier {value!r} is not a number", code="malformed") from None


def strip_sample_marker(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``_constructed`` marker of the shared samples (harmless on real bodies)."""
    return {k: v for k, v in data.items() if k != "_constructed"}


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MalformedItem:
    """One list item that did not parse: its position, its market (``""`` when unreadable), why."""

    index: int
    ticker: str
    error: MalformedMessageError


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list; ``cursor`` empty on the last page. ``malformed``: items
    left out because they did not parse (only lists read leniently, see `read_items`)."""

    items: list[T]
    cursor: str = ""
    malformed: tuple[MalformedItem, ...] = ()


@dataclass(frozen=True)
class Market:
    ticker: str
    event_ticker: str
    status: str
    market_type: str = "binary"
    open_ts_ns: int | None = None
    close_ts_ns: int | None = None
    grid: TickGrid | None = None
    price_level_structure: str = ""
    yes_bid: Price | None = None
    yes_ask: Price | None = None
    last_price: Price | None = None
    volume: Count | None = None
    open_interest: Count | None = None
    result: str = ""
    can_close_early: bool = False
    exchange_index: int = 0

    @property
    def series_guess(self) -> str:
        """The series by Kalshi's ticker convention (the event ticker up to its first ``-``); the
        authoritative answer is the event's ``series_ticker``."""
        return self.event_ticker.split("-", 1)[0]

    def to_info(self, fee_type: FeeType = FeeType.QUADRATIC, fee_multiplier_bps: int = 10_000) -> MarketInfo:
        """The core's `MarketInfo` for this market."""
        return MarketInfo(
            ticker=self.ticker,
            status=self.status,
            open_ts_ns=self.open_ts_ns,
            close_ts_ns=self.close_ts_ns,
            grid=self.grid,
            fee_type=fee_type,
            fee_multiplier_bps=fee_multiplier_bps,
            event_ticker=self.event_ticker,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Market:
        what = f"market {data.get('ticker', '?')}"
        ranges = data.get("price_ranges")
        try:
            grid = TickGrid.from_kalshi(ranges) if ranges else None
        except ValueError as exc:
            raise MalformedMessageError(f"{what}.price_ranges: {exc}", code="malformed") from None
        return cls(
            ticker=req(data, "ticker", what),
            event_ticker=data.get("event_ticker") or "",
            status=req(data, "status", what),
            market_type=data.get("market_type") or "binary",
            open_ts_ns=rfc3339_ns(data.get("open_time")),
            close_ts_ns=rfc3339_ns(data.get("close_time")),
            grid=grid,
            price_level_structure=data.get("price_level_structure") or "",
            yes_bid=opt_price(data, "yes_bid_dollars", what),
            yes_ask=opt_price(data, "yes_ask_dollars", what),
            last_price=opt_price(data, "last_price_dollars", what),
            volume=opt_count(data, "volume_fp", what),
            open_interest=opt_count(data, "open_interest_fp", what),
            result=data.get("result") or "",
            can_close_early=bool(data.get("can_close_early", False)),
            exchange_index=int_field(data, "exchange_index", what),
        )


def ladder(levels: Any, what: str) -> tuple[tuple[Price, Count], ...]:
    """``[["0.4100", "10.00"], ...]`` -> ``((4100, 1000), ...)``."""
    if levels is None:
        return ()
    if not isinstance(levels, list):
        raise MalformedMessageError(f"{what} is not a list of levels", code="malformed")
    out = []
    for level in levels:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise MalformedMessageError(f"{what} level {level!r} is not [price, count]", code="malformed")
        try:
            out.append((fast_price(level[0]), fast_count(level[1])))
        except FixedPointError as exc:
            raise MalformedMessageError(f"{what}: {exc}", code="malformed") from None
    return tuple(out)


@dataclass(frozen=True)
class Orderbook:
    """REST order book: YES bids and NO bids, each in its own leg's prices, best last."""

    ticker: str
    yes_bids: tuple[tuple[Price, Count], ...]
    no_bids: tuple[tuple[Price, Count], ...]

    @classmethod
    def from_json(cls, ticker: str, data: Mapping[str, Any]) -> Orderbook:
        book = data.get("orderbook_fp")
        if not isinstance(book, Mapping):
            raise MalformedMessageError(f"orderbook {ticker} lacks 'orderbook_fp'", code="malformed")
        return cls(
            ticker=ticker,
            yes_bids=ladder(book.get("yes_dollars"), f"orderbook {ticker} yes_dollars"),
            no_bids=ladder(book.get("no_dollars"), f"orderbook {ticker} no_dollars"),
        )


@dataclass(frozen=True)
class Trade:
    trade_id: str
    ticker: str
    price: Price
    count: Count
    taker_side: BookSide
    ts_ns: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trade:
        what = f"trade {data.get('trade_id', '?')}"
        return cls(
            trade_id=req(data, "trade_id", what),
            ticker=data.get("ticker") or req(data, "market_ticker", what),
            price=price_field(data, "yes_price_dollars", what),
            count=count_field(data, "count_fp", what),
            taker_side=book_side_of(data, what, prefix="taker_"),
            ts_ns=rfc3339_ns(data.get("created_time")),
        )


@dataclass(frozen=True)
class MarketPosition:
    """Signed YES position (+YES / -NO) and the venue's own PnL figures, exact micros (the
    price-unit properties round as the module docstring says)."""

    ticker: str
    position: Count
    exposure_micros: Micros = 0
    realized_pnl_micros: Micros = 0
    fees_paid_micros: Micros = 0
    total_traded_micros: Micros = 0
    resting_orders_count: int | None = None
    exchange_index: int = 0

    @property
    def exposure(self) -> Price:
        """What the held leg cost, price units (rounded up)."""
        return micros_to_price(self.exposure_micros, "up")

    @property
    def realized_pnl(self) -> Price:
        """Realised PnL, price units (rounded down)."""
        return micros_to_price(self.realized_pnl_micros, "down")

    @property
    def fees_paid(self) -> Price:
        """Fees paid, price units (rounded up)."""
        return micros_to_price(self.fees_paid_micros, "up")

    @property
    def total_traded(self) -> Price:
        """Dollar volume traded, price units (rounded up)."""
        return micros_to_price(self.total_traded_micros, "up")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MarketPosition:
        what = f"position {data.get('ticker', '?')}"
        resting = data.get("resting_orders_count")
        return cls(
            ticker=req(data, "ticker", what),
            position=count_field(data, "position_fp", what),
            exposure_micros=opt_amount(data, "market_exposure_dollars", what) or 0,
            realized_pnl_micros=opt_amount(data, "realized_pnl_dollars", what) or 0,
            fees_paid_micros=opt_amount(data, "fees_paid_dollars", what) or 0,
            total_traded_micros=opt_amount(data, "total_traded_dollars", what) or 0,
            resting_orders_count=resting if type(resting) is int else None,
            exchange_index=int_field(data, "exchange_index", what),
        )


@dataclass(frozen=True)
class Fill:
    """One fill of ours. ``price`` is the YES price; ``fee_micros`` Kalshi's ``fee_cost`` exactly
    (``fee``: in price units, rounded up). REST fills carry no ``client_order_id`` (WS fills do)."""

    trade_id: str
    order_id: str
    ticker: str
    side: BookSide
    price: Price
    count: Count
    fee_micros: Micros
    is_taker: bool
    ts_ns: int | None = None
    client_order_id: str = ""
    exchange_index: int = 0
    subaccount: int = 0

    @property
    def fee(self) -> Price:
        """The fill's fee in price units, rounded up."""
        return micros_to_price(self.fee_micros, "up")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fill:
        what = f"fill {data.get('trade_id') or data.get('fill_id') or '?'}"
        ts_ns = rfc3339_ns(data.get("created_time"))
        if ts_ns is None and isinstance(data.get("ts"), int):
            ts_ns = data["ts"] * 1_000_000_000
        return cls(
            trade_id=data.get("trade_id") or req(data, "fill_id", what),
            order_id=req(data, "order_id", what),
            ticker=data.get("ticker") or req(data, "market_ticker", what),
            side=book_side_of(data, what),
            price=price_field(data, "yes_price_dollars", what),
            count=count_field(data, "count_fp", what),
            fee_micros=opt_amount(data, "fee_cost", what) or 0,
            is_taker=bool(data.get("is_taker", False)),
            ts_ns=ts_ns,
            client_order_id=data.get("client_order_id") or "",
            exchange_index=int_field(data, "exchange_index", what),
            subaccount=subaccount_of(data, what),
        )


@dataclass(frozen=True)
class Order:
    """An order as the venue reports it; ``price`` is the YES price."""

    order_id: str
    client_order_id: str
    ticker: str
    side: BookSide
    price: Price
    status: str
    filled: Count
    remaining: Count
    initial: Count | None = None
    order_group_id: str | None = None
    fees_micros: Micros = 0
    created_ns: int | None = None
    updated_ns: int | None = None
    exchange_index: int = 0
    subaccount: int = 0

    @property
    def fees(self) -> Price:
        """Taker plus maker fees so far, price units (rounded up)."""
        return micros_to_price(self.fees_micros, "up")

    @property
    def is_resting(self) -> bool:
        return self.status == "resting" and self.remaining > 0

    def to_working(self) -> WorkingOrder:
        """The core's `WorkingOrder` for this order."""
        if self.status == "resting":
            status = OrderStatus.PARTIALLY_FILLED if self.filled else OrderStatus.RESTING
        elif self.status == "executed":
            status = OrderStatus.EXECUTED
        else:
            status = OrderStatus.CANCELED
        return WorkingOrder(
            client_order_id=self.client_order_id,
            ticker=self.ticker,
            side=self.side,
            price=self.price,
            remaining=self.remaining,
            status=status,
            order_id=self.order_id,
            filled=self.filled,
            created_ns=self.created_ns or 0,
            updated_ns=self.updated_ns or 0,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Order:
        what = f"order {data.get('order_id', '?')}"
        fees = (opt_amount(data, "taker_fees_dollars", what) or 0) + (
            opt_amount(data, "maker_fees_dollars", what) or 0
        )
        return cls(
            order_id=req(data, "order_id", what),
            client_order_id=data.get("client_order_id") or "",
            ticker=req(data, "ticker", what),
            side=book_side_of(data, what),
            price=price_field(data, "yes_price_dollars", what),
            status=req(data, "status", what),
            filled=opt_count(data, "fill_count_fp", what) or 0,
            remaining=count_field(data, "remaining_count_fp", what),
            initial=opt_count(data, "initial_count_fp", what),
            order_group_id=data.get("order_group_id") or None,
            fees_micros=fees,
            created_ns=rfc3339_ns(data.get("created_time")),
            updated_ns=rfc3339_ns(data.get("last_update_time")),
            exchange_index=int_field(data, "exchange_index", what),
            subaccount=subaccount_of(data, what),
        )


@dataclass(frozen=True)
class Balance:
    """Cash and portfolio value, price units (``balance_dollars`` rounded down when it is finer;
    else Kalshi's integer cents). ``by_exchange``: ``balance_breakdown`` per ``exchange_index``
    (shard), exact micros."""

    balance: Price
    portfolio_value: Price | None = None
    by_exchange: Mapping[int, Micros] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Balance:
        if data.get("balance_dollars") not in (None, ""):
            balance = micros_to_price(amount_field(data, "balance_dollars", "balance"), "down")
        else:
            cents = req(data, "balance", "balance")
            if type(cents) is not int:
                raise MalformedMessageError(f"balance {cents!r} is not integer cents", code="malformed")
            balance = cents * _CENT_IN_PRICE_UNITS
        value = data.get("portfolio_value")
        if value is not None and type(value) is not int:
            raise MalformedMessageError(f"portfolio_value {value!r} is not integer cents", code="malformed")
        shards: dict[int, Micros] = {}
        for item in data.get("balance_breakdown") or ():
            if not isinstance(item, Mapping):
                raise MalformedMessageError("balance_breakdown item is not an object", code="malformed")
            shards[int_field(item, "exchange_index", "balance_breakdown")] = amount_field(
                item, "balance", "balance_breakdown"
            )
        return cls(balance, None if value is None else value * _CENT_IN_PRICE_UNITS, shards)


@dataclass(frozen=True)
class OrderPlaced:
    """A V2 create result (single, or one item of a batch). ``error`` set when the item failed."""

    client_order_id: str
    order_id: str = ""
    filled: Count = 0
    remaining: Count = 0
    average_fill_price_micros: Micros | None = None
    average_fee_paid_micros: Micros | None = None
    ts_ms: int | None = None
    error: KalshiError | None = None
    recovered: bool = False
    """True when the order was found by reading orders after an unknown outcome."""

    @property
    def average_fill_price(self) -> Price | None:
        """The average YES fill price, price units (nearest); None when nothing filled."""
        return _opt_micros_to_price(self.average_fill_price_micros, "nearest")

    @property
    def average_fee_paid(self) -> Price | None:
        """The average fee per contract, price units (rounded up); None when nothing filled."""
        return _opt_micros_to_price(self.average_fee_paid_micros, "up")

    @classmethod
    def from_json(cls, data: Mapping[str, Any], client_order_id: str = "") -> OrderPlaced:
        cid = data.get("client_order_id") or client_order_id
        if data.get("error"):
            return cls(client_order_id=cid, error=error_from_response(None, {"error": data["error"]}))
        what = f"create result {cid}"
        return cls(
            client_order_id=cid,
            order_id=req(data, "order_id", what),
            filled=opt_count(data, "fill_count", what) or 0,
            remaining=opt_count(data, "remaining_count", what) or 0,
            average_fill_price_micros=opt_amount(data, "average_fill_price", what),
            average_fee_paid_micros=opt_amount(data, "average_fee_paid", what),
            ts_ms=data.get("ts_ms"),
        )

    @classmethod
    def from_order(cls, order: Order) -> OrderPlaced:
        return cls(
            client_order_id=order.client_order_id,
            order_id=order.order_id,
            filled=order.filled,
            remaining=order.remaining if order.status == "resting" else 0,
            recovered=True,
        )


@dataclass(frozen=True)
class OrderCanceledResult:
    """A V2 cancel result; ``reduced_by`` is what was still resting when cancelled."""

    order_id: str
    client_order_id: str = ""
    reduced_by: Count = 0
    ts_ms: int | None = None
    error: KalshiError | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], order_id: str = "") -> OrderCanceledResult:
        oid = data.get("order_id") or order_id
        if data.get("error"):
            return cls(order_id=oid, error=error_from_response(None, {"error": data["error"]}))
        what = f"cancel result {oid}"
        return cls(
            order_id=oid,
            client_order_id=data.get("client_order_id") or "",
            reduced_by=opt_count(data, "reduced_by", what) or 0,
            ts_ms=data.get("ts_ms"),
        )


@dataclass(frozen=True)
class OrderAmendedResult:
    order_id: str
    client_order_id: str
    remaining: Count | None = None
    filled: Count | None = None
    average_fill_price_micros: Micros | None = None
    average_fee_paid_micros: Micros | None = None
    ts_ms: int | None = None

    @property
    def average_fill_price(self) -> Price | None:
        """The average YES fill price, price units (nearest); None when nothing filled."""
        return _opt_micros_to_price(self.average_fill_price_micros, "nearest")

    @property
    def average_fee_paid(self) -> Price | None:
        """The average fee per contract, price units (rounded up); None when nothing filled."""
        return _opt_micros_to_price(self.average_fee_paid_micros, "up")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderAmendedResult:
        what = "amend result"
        return cls(
            order_id=req(data, "order_id", what),
            client_order_id=data.get("client_order_id") or "",
            remaining=opt_count(data, "remaining_count", what),
            filled=opt_count(data, "fill_count", what),
            average_fill_price_micros=opt_amount(data, "average_fill_price", what),
            average_fee_paid_micros=opt_amount(data, "average_fee_paid", what),
            ts_ms=data.get("ts_ms"),
        )


@dataclass(frozen=True)
class OrderDecreasedResult:
    order_id: str
    client_order_id: str
    remaining: Count
    ts_ms: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderDecreasedResult:
        what = "decrease result"
        return cls(
            order_id=req(data, "order_id", what),
            client_order_id=data.get("client_order_id") or "",
            remaining=count_field(data, "remaining_count", what),
            ts_ms=data.get("ts_ms"),
        )


@dataclass(frozen=True)
class OrderGroup:
    order_group_id: str
    contracts_limit: Count | None = None
    is_auto_cancel_enabled: bool | None = None
    order_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], order_group_id: str = "") -> OrderGroup:
        gid = data.get("id") or data.get("order_group_id") or order_group_id
        limit = opt_count(data, "contracts_limit_fp", "order group")
        if limit is None and isinstance(data.get("contracts_limit"), int):
            limit = data["contracts_limit"] * 100
        return cls(
            order_group_id=gid,
            contracts_limit=limit,
            is_auto_cancel_enabled=data.get("is_auto_cancel_enabled"),
            order_ids=tuple(data.get("orders") or ()),
        )


@dataclass(frozen=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    estimated_resume_time: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExchangeStatus:
        return cls(
            exchange_active=bool(req(data, "exchange_active", "exchange status")),
            trading_active=bool(req(data, "trading_active", "exchange status")),
            estimated_resume_time=data.get("exchange_estimated_resume_time"),
        )


@dataclass(frozen=True)
class Series:
    ticker: str
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier_bps: int = 10_000
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Series:
        what = f"series {data.get('ticker', '?')}"
        return cls(
            ticker=req(data, "ticker", what),
            fee_type=fee_type_of(data.get("fee_type") or "quadratic", f"{what} fee_type"),
            fee_multiplier_bps=fee_multiplier_bps(data.get("fee_multiplier")),
            title=data.get("title") or "",
        )


def fee_type_of(raw: Any, what: str) -> FeeType:
    """Kalshi's fee type string -> `FeeType` (`MalformedMessageError` naming ``what`` if unknown)."""
    try:
        return FeeType(raw)
    except ValueError:
        raise MalformedMessageError(f"{what}: unknown fee type {raw!r}", code="malformed") from None


@dataclass(frozen=True)
class EventFees:
    """An event's fee override (``GET /events/{ticker}`` or the WebSocket ``event_fee_update``):
    None for a part that is not overridden — the series' own value applies."""

    event_ticker: str
    fee_type: FeeType | None = None
    multiplier_bps: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], what: str = "event") -> EventFees:
        ticker = req(data, "event_ticker", what)
        raw_type, raw_mult = data.get("fee_type_override"), data.get("fee_multiplier_override")
        if raw_mult is not None and (isinstance(raw_mult, bool) or not isinstance(raw_mult, int | float | str)):
            raise MalformedMessageError(f"{what} {ticker}: fee_multiplier_override {raw_mult!r}", code="malformed")
        multiplier = None if raw_mult is None else fee_multiplier_bps(raw_mult)
        if multiplier is not None and multiplier < 0:
            raise MalformedMessageError(f"{what} {ticker}: negative fee_multiplier_override", code="malformed")
        return cls(
            event_ticker=ticker,
            fee_type=None if raw_type in (None, "") else fee_type_of(raw_type, f"{what} {ticker} fee_type_override"),
            multiplier_bps=multiplier,
        )


@dataclass(frozen=True)
class Event:
    """``GET /events/{event_ticker}``: the event's series and its fee override."""

    event_ticker: str
    series_ticker: str
    fees: EventFees

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        what = f"event {data.get('event_ticker', '?')}"
        return cls(
            event_ticker=req(data, "event_ticker", what),
            series_ticker=str(req(data, "series_ticker", what)),
            fees=EventFees.from_json(data, what),
        )


def _raw_items(body: Any, key: str, what: str) -> Sequence[Any]:
    if not isinstance(body, Mapping):
        raise MalformedMessageError(f"{what}: the body is not an object", code="malformed")
    raw = body.get(key)
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise MalformedMessageError(f"{what}: {key!r} is not a list", code="malformed")
    return raw


def items_of(
    body: Mapping[str, Any], key: str, convert: Callable[[Mapping[str, Any]], T], what: str
) -> list[T]:
    """Convert the list under ``key`` (missing or null = empty); any malformed item raises."""
    return [convert(item) for item in _raw_items(body, key, what)]


def read_items(
    body: Mapping[str, Any], key: str, convert: Callable[[Mapping[str, Any]], T], what: str
) -> tuple[list[T], list[MalformedItem]]:
    """Convert the list under ``key`` item by item: the items that parsed, and the ones that did not
    (with their market, so the caller can judge whether it matters). A body that is not a list of
    items at all still raises."""
    items: list[T] = []
    malformed: list[MalformedItem] = []
    for index, item in enumerate(_raw_items(body, key, what)):
        try:
            if not isinstance(item, Mapping):
                raise MalformedMessageError(f"{what} item {index} is not an object", code="malformed")
            items.append(convert(item))
        except MalformedMessageError as exc:
            ticker = item.get("ticker") or item.get("market_ticker") if isinstance(item, Mapping) else ""
            malformed.append(MalformedItem(index, ticker if isinstance(ticker, str) else "", exc))
    return items, malformed
