"""The simulator's data: requests, records the engine keeps, views it hands out, and the events it emits.

Everything money-like is an integer (units in `mmframe_sim.money`): prices, trade fees and balances in
price units (1/10,000 dollar), costs, cost bases, PnL and averages in micros (1/1,000,000 dollar, exact
for a price times a count), counts in count units (1/100 contract), times in Unix nanoseconds. Prices are YES-leg prices unless a
field says otherwise (book levels of the NO ladder are in NO terms, as on Kalshi's wire).

The server turns these into Kalshi's JSON; nothing here knows about HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mmframe_sim.fees import FeeType
from mmframe_sim.money import Count, Micros, Price

# --- enums (values are Kalshi's wire strings) ----------------------------------------------------


class Side(enum.StrEnum):
    """V2 order side on the YES leg: ``bid`` buys YES, ``ask`` sells YES (= buys NO at 1 - price)."""

    BID = "bid"
    ASK = "ask"


class TimeInForce(enum.StrEnum):
    """Kalshi's V2 ``time_in_force`` values."""

    GOOD_TILL_CANCELED = "good_till_canceled"
    IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
    FILL_OR_KILL = "fill_or_kill"


class SelfTradePrevention(enum.StrEnum):
    """``taker_at_cross`` cancels the incoming remainder; ``maker`` cancels the resting own order."""

    TAKER_AT_CROSS = "taker_at_cross"
    MAKER = "maker"


class OrderStatus(enum.StrEnum):
    """Kalshi order status."""

    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


class MarketStatus(enum.StrEnum):
    """Kalshi market status (API.md §10). ``finalized`` is "settled" in list filters."""

    INITIALIZED = "initialized"
    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"
    DETERMINED = "determined"
    FINALIZED = "finalized"


MARKET_STATUS_FILTERS: dict[str, tuple[MarketStatus, ...]] = {
    "unopened": (MarketStatus.INITIALIZED,),
    "open": (MarketStatus.ACTIVE,),
    "paused": (MarketStatus.INACTIVE,),
    "closed": (MarketStatus.CLOSED, MarketStatus.DETERMINED),
    "settled": (MarketStatus.FINALIZED,),
}
"""GET /markets ``status=`` filter values -> the market statuses they select."""


# --- errors -------------------------------------------------------------------------------------


class ExchangeError(Exception):
    """A rejected request, as Kalshi would answer it: HTTP status, ``code``, ``message``, ``details``.

    The server renders it as Kalshi's nested body ``{"error": {"code", "message", "details"}}``
    (see `body`); batch endpoints put `item` into the per-order ``error`` field.
    """

    def __init__(self, http_status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{http_status} {code}: {message}" + (f" ({details})" if details else ""))
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details

    def item(self) -> dict[str, str]:
        """The flat ``ErrorResponse`` object: ``{"code", "message", "details"?}``."""
        out = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out

    def body(self) -> dict[str, Any]:
        """The wire body: ``{"error": {...}}``."""
        return {"error": self.item()}


def bad_request(message: str, details: str = "") -> ExchangeError:
    """400 ``bad_request``."""
    return ExchangeError(400, "bad_request", message, details)


def not_found(message: str, details: str = "") -> ExchangeError:
    """404 ``not_found``."""
    return ExchangeError(404, "not_found", message, details)


@dataclass(frozen=True, slots=True)
class PriceRange:
    """One of a market's ``price_ranges``: prices ``start``..``end`` in steps of ``step`` (price units)."""

    start: Price
    end: Price
    step: Price


# --- definitions (from scenarios or tests) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """A series: its fee type and multiplier (basis points of the standard schedule)."""

    ticker: str
    title: str = ""
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier_bps: int = 10_000
    category: str = ""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An event groups markets of one series."""

    event_ticker: str
    series_ticker: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A market as listed: grid, times, and the hidden dynamics the synthetic participants follow.

    ``price_ranges`` empty means "derive from ``price_level_structure``" (linear_cent, deci_cent,
    tapered_deci_cent). ``volatility`` is the logit random walk's standard deviation per sqrt(hour);
    ``jump_rate`` jumps per hour of logit size ``jump_size`` (standard deviation).
    """

    ticker: str
    event_ticker: str
    title: str = ""
    open_ts_ns: int = 0
    close_ts_ns: int = 0
    price_level_structure: str = "linear_cent"
    price_ranges: tuple[PriceRange, ...] = ()
    settlement_timer_seconds: int = 60
    can_close_early: bool = True
    fractional_trading_enabled: bool = False
    initial_probability: float = 0.5
    volatility: float = 0.3
    jump_rate: float = 0.0
    jump_size: float = 0.5


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A parsed CreateOrderV2 request. ``expiration_time_s`` is Unix seconds (GTT) or None."""

    ticker: str
    side: Side
    price: Price
    count: Count
    time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED
    self_trade_prevention_type: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    client_order_id: str | None = None
    expiration_time_s: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    order_group_id: str | None = None
    subaccount: int = 0


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """A parsed amend: new YES ``price`` and new TOTAL ``count`` (filled + desired remaining).

    ``expiration_time_s``: None keeps, 0 removes, otherwise the new Unix-seconds expiry.
    """

    ticker: str
    side: Side
    price: Price
    count: Count
    client_order_id: str | None = None
    updated_client_order_id: str | None = None
    expiration_time_s: int | None = None


# --- records (mutable state the engine owns; read them, never write them) -----------------------


@dataclass(slots=True, eq=False)
class Order:
    """One order. ``seq`` is the exchange-wide arrival number (time priority and stable ordering).

    Money on the order: ``taker_fill_cost``/``maker_fill_cost`` (micros) are what the owner paid for its
    fills (in its own leg: YES price for bids, NO price for asks); ``taker_fees``/``maker_fees`` (price
    units) the sums of their trade fees.
    """

    order_id: str
    user_id: str
    ticker: str
    event_ticker: str
    side: Side
    price: Price
    initial_count: Count
    remaining: Count
    time_in_force: TimeInForce
    self_trade_prevention_type: SelfTradePrevention
    created_ns: int
    seq: int
    client_order_id: str | None = None
    expiration_time_s: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    order_group_id: str | None = None
    subaccount: int = 0
    status: OrderStatus = OrderStatus.RESTING
    filled: Count = 0
    taker_fill_cost: Micros = 0
    maker_fill_cost: Micros = 0
    taker_fees: Price = 0
    maker_fees: Price = 0
    last_update_ns: int = 0
    # collateral bookkeeping (accounts.py): contracts of the remainder that close an existing position
    # and so need no collateral, and the amount currently locked for this order
    closing_remaining: Count = 0
    locked: int = 0  # micro-dollars (1/1,000,000 $)
    rounding_accumulator: int = 0  # micro-dollars of rounding overpaid, refunded by whole cents
    book_entry: int = 0  # matching.py: the live queue entry, 0 when not in the book
    finished_ns: int = 0

    @property
    def outcome_side(self) -> str:
        """``yes`` for bids, ``no`` for asks (Kalshi's ``outcome_side``)."""
        return "yes" if self.side is Side.BID else "no"

    @property
    def no_price(self) -> Price:
        """The NO-leg price, 1 - ``price``."""
        return 10_000 - self.price

    @property
    def is_resting(self) -> bool:
        return self.status is OrderStatus.RESTING

    def snapshot(self) -> OrderView:
        """An immutable copy for events and queries."""
        # positional: this runs for every order event, and keyword construction is markedly slower
        return OrderView(
            self.order_id,
            self.user_id,
            self.client_order_id,
            self.ticker,
            self.event_ticker,
            self.side,
            self.price,
            self.status,
            self.initial_count,
            self.filled,
            self.remaining,
            self.taker_fill_cost,
            self.maker_fill_cost,
            self.taker_fees,
            self.maker_fees,
            self.time_in_force,
            self.self_trade_prevention_type,
            self.expiration_time_s,
            self.post_only,
            self.reduce_only,
            self.cancel_order_on_pause,
            self.order_group_id,
            self.subaccount,
            self.created_ns,
            self.last_update_ns,
            self.seq,
        )


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as of one moment (``GET /portfolio/orders``, ``user_orders``)."""

    order_id: str
    user_id: str
    client_order_id: str | None
    ticker: str
    event_ticker: str
    side: Side
    price: Price
    status: OrderStatus
    initial_count: Count
    filled: Count
    remaining: Count
    taker_fill_cost: Micros
    maker_fill_cost: Micros
    taker_fees: Price
    maker_fees: Price
    time_in_force: TimeInForce
    self_trade_prevention_type: SelfTradePrevention
    expiration_time_s: int | None
    post_only: bool
    reduce_only: bool
    cancel_order_on_pause: bool
    order_group_id: str | None
    subaccount: int
    created_ns: int
    last_update_ns: int
    seq: int

    @property
    def outcome_side(self) -> str:
        return "yes" if self.side is Side.BID else "no"

    @property
    def no_price(self) -> Price:
        return 10_000 - self.price


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade, for one account. ``price`` is the YES price; ``fee`` in price units
    (rounded up to $0.0001); ``post_position`` the signed position after it (+YES / -NO)."""

    fill_id: str
    trade_id: str
    order_id: str
    client_order_id: str | None
    user_id: str
    ticker: str
    side: Side
    price: Price
    count: Count
    is_taker: bool
    fee: Price
    post_position: Count
    ts_ns: int
    seq: int
    subaccount: int = 0

    @property
    def outcome_side(self) -> str:
        return "yes" if self.side is Side.BID else "no"

    @property
    def no_price(self) -> Price:
        return 10_000 - self.price


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade. ``taker_side`` is the taker's V2 side (bid = taker bought YES)."""

    trade_id: str
    ticker: str
    price: Price
    count: Count
    taker_side: Side
    ts_ns: int
    seq: int

    @property
    def no_price(self) -> Price:
        return 10_000 - self.price

    @property
    def taker_outcome_side(self) -> str:
        return "yes" if self.taker_side is Side.BID else "no"


@dataclass(frozen=True, slots=True)
class PositionView:
    """An account's position in one market (``market_positions``).

    ``position`` signed (+YES / -NO). In micros: ``total_traded`` dollar value traded, ``exposure`` the
    cost basis of the open position, ``realized_pnl`` closed PnL (settlement included), ``fees_paid``
    the plain sum of the fills' trade fees (Kalshi's ``fees_paid_dollars``), ``fees_charged`` what the
    balance paid in fees (rounding fees included, rebates deducted; ground truth only).
    """

    user_id: str
    ticker: str
    event_ticker: str
    position: Count
    total_traded: Micros
    exposure: Micros
    realized_pnl: Micros
    fees_paid: Micros
    volume: Count
    resting_orders_count: int
    last_updated_ns: int
    subaccount: int = 0
    fees_charged: Micros = 0


@dataclass(frozen=True, slots=True)
class Settlement:
    """A settled market for one account. Micros: ``revenue`` paid out (Kalshi reports cents), the total
    costs and ``fee_cost``; ``value`` is the YES payout per contract in price units."""

    user_id: str
    ticker: str
    event_ticker: str
    market_result: str
    yes_count: Count
    no_count: Count
    yes_total_cost: Micros
    no_total_cost: Micros
    revenue: Micros
    fee_cost: Micros
    value: Price
    settled_ns: int
    seq: int


@dataclass(frozen=True, slots=True)
class BalanceView:
    """``GET /portfolio/balance``. ``available`` is cash not locked by resting orders; Kalshi's
    ``balance`` field is ``available // 100`` cents. ``portfolio_value`` marks positions at the
    last price (cents on the wire)."""

    available: Price
    locked: Price
    portfolio_value: Price
    updated_ns: int

    @property
    def balance_cents(self) -> int:
        return self.available // 100

    @property
    def portfolio_value_cents(self) -> int:
        return self.portfolio_value // 100


@dataclass(frozen=True, slots=True)
class OrderGroupView:
    """An order group. ``triggered`` groups reject new orders until reset."""

    order_group_id: str
    user_id: str
    contracts_limit: Count
    triggered: bool
    rolling_filled: Count
    order_ids: tuple[str, ...]
    subaccount: int = 0

    @property
    def is_auto_cancel_enabled(self) -> bool:
        """Kalshi's field; the sim always auto-cancels on breach."""
        return True


@dataclass(frozen=True, slots=True)
class OrderbookView:
    """Two ascending ladders of ``(price, size)``, best bid last: YES bids (YES price) and NO bids
    (NO price)."""

    ticker: str
    yes: tuple[tuple[Price, Count], ...]
    no: tuple[tuple[Price, Count], ...]


@dataclass(slots=True, eq=False)
class MarketState:
    """A market's listing and live state (``GET /markets``). Read it; the engine writes it."""

    spec: MarketSpec
    series_ticker: str
    status: MarketStatus
    open_ts_ns: int
    close_ts_ns: int
    price_level_structure: str
    price_ranges: tuple[PriceRange, ...]
    last_price: Price = 0
    last_trade_size: Count = 0
    volume: Count = 0
    dollar_volume: Price = 0
    open_interest: Count = 0
    result: str = ""
    settlement_value: Price | None = None
    determination_ns: int | None = None
    settled_ns: int | None = None
    created_ns: int = 0
    yes_bid: Price = 0
    yes_bid_size: Count = 0
    yes_ask: Price = 10_000
    yes_ask_size: Count = 0

    @property
    def ticker(self) -> str:
        return self.spec.ticker

    @property
    def event_ticker(self) -> str:
        return self.spec.event_ticker

    @property
    def no_bid(self) -> Price:
        return 10_000 - self.yes_ask

    @property
    def no_ask(self) -> Price:
        return 10_000 - self.yes_bid


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderResult:
    """CreateOrderV2 / AmendOrderV2 result: totals of the order so far. Average fill price (YES price,
    like every V2 price) and average fee per contract, in micros, are None when nothing filled."""

    order: OrderView
    fill_count: Count
    remaining_count: Count
    average_fill_price: Micros | None
    average_fee_paid: Micros | None
    ts_ns: int


@dataclass(frozen=True, slots=True)
class CancelResult:
    """CancelOrderV2 / DecreaseOrderV2 result: ``reduced_by`` contracts; ``order`` after the change."""

    order: OrderView
    reduced_by: Count
    ts_ns: int


# --- outgoing events ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SimEvent:
    """Base of everything the engine emits. ``ts_ns`` is the exchange clock's time."""

    ts_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BookLevelChanged(SimEvent):
    """``orderbook_delta``: ``delta`` added at ``price`` of ladder ``leg`` (yes|no; price in that
    leg's terms), new level size ``size``. ``user_id``/``client_order_id`` name the owner of the
    order that caused it (send ``client_order_id`` only to that user)."""

    ticker: str
    leg: str
    price: Price
    delta: Count
    size: Count
    user_id: str | None = None
    client_order_id: str | None = None
    subaccount: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BookCleared(SimEvent):
    """A market's book was emptied at once (deactivation, close); the server may send fresh
    snapshots instead of the per-level deltas that precede this event."""

    ticker: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeExecuted(SimEvent):
    """``trade`` (public)."""

    trade: Trade


@dataclass(frozen=True, slots=True, kw_only=True)
class FillExecuted(SimEvent):
    """``fill`` (private to ``fill.user_id``)."""

    fill: Fill


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdated(SimEvent):
    """``user_orders`` (private to ``order.user_id``): created, filled, amended, decreased, canceled."""

    order: OrderView


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdated(SimEvent):
    """``market_positions`` (private to ``position.user_id``)."""

    position: PositionView


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderGroupUpdated(SimEvent):
    """``order_group_updates`` (private): ``event_type`` created|triggered|reset|deleted|limit_updated."""

    user_id: str
    order_group_id: str
    event_type: str
    contracts_limit: Count | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketLifecycleChanged(SimEvent):
    """``market_lifecycle_v2`` (public): ``event_type`` created|activated|deactivated|
    close_date_updated|determined|settled. ``fields`` carries the optional wire fields already in
    Kalshi's names and formats (``open_ts``, ``close_ts`` seconds, ``result``,
    ``determination_ts``, ``settlement_value`` dollars string, ``settled_ts``, ``is_deactivated``)."""

    ticker: str
    event_type: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFeeChanged(SimEvent):
    """``event_fee_update`` (public, on the ``market_lifecycle_v2`` channel): an event's fee override
    was set or cleared. None for a part not overridden (the series' value applies); the multiplier in
    basis points of the standard schedule (10,000 = 1x)."""

    event_ticker: str
    fee_type_override: FeeType | None
    fee_multiplier_override_bps: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerChanged(SimEvent):
    """``ticker`` (public): the market's top of book / last trade / volume changed."""

    ticker: str
    last_price: Price
    yes_bid: Price
    yes_ask: Price
    yes_bid_size: Count
    yes_ask_size: Count
    last_trade_size: Count
    volume: Count
    open_interest: Count
    dollar_volume: Price
    dollar_open_interest: Price


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeStatusChanged(SimEvent):
    """The exchange was paused or resumed (``GET /exchange/status``)."""

    exchange_active: bool
    trading_active: bool
