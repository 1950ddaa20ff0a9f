"""Events: facts that already happened, named in the past tense.

Feeds publish market events; executors publish order events; the runtime publishes what it decided.
Every event goes to the sinks. All carry ``ts_ns``, the injected clock's time when they were made.

Events are immutable by contract: nothing may assign to an event after it is published. They are
not ``frozen`` dataclasses only because frozen construction costs ~1 us per event on the book path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from mmframe.domain.actions import OrderAction
from mmframe.domain.money import Count, Price
from mmframe.domain.quote import BookSide, Quote, Verdict


class Leg(enum.StrEnum):
    """Which of Kalshi's two bid ladders a book level is on."""

    YES = "yes"
    NO = "no"


@dataclass(slots=True, kw_only=True)
class Event:
    """Base of every event."""

    ts_ns: int

    @property
    def kind(self) -> str:
        """The event's type name, e.g. ``OrderFilled``."""
        return type(self).__name__


# --- market events (from feeds) -------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class MarketEvent(Event):
    """An event about one market."""

    ticker: str


@dataclass(slots=True, kw_only=True)
class BookSnapshotReceived(MarketEvent):
    """A full order book: YES bids and NO bids, each at its own leg's price, any order.

    A snapshot replaces the book and makes it valid again after a `BookInvalidated`.
    """

    yes_bids: tuple[tuple[Price, Count], ...]
    no_bids: tuple[tuple[Price, Count], ...]


@dataclass(slots=True, kw_only=True)
class BookDeltaReceived(MarketEvent):
    """A signed size change at one level of one ladder (``price`` in that leg's terms)."""

    leg: Leg
    price: Price
    delta: Count


@dataclass(slots=True, kw_only=True)
class BookInvalidated(MarketEvent):
    """The local book can no longer be trusted (sequence gap, reconnect); quotes are pulled until
    the next snapshot."""

    reason: str


@dataclass(slots=True, kw_only=True)
class TradeReported(MarketEvent):
    """A trade printed in the market (anyone's). ``price`` is the YES price."""

    price: Price
    count: Count
    taker_side: BookSide
    trade_id: str = ""


@dataclass(slots=True, kw_only=True)
class MarketStatusChanged(MarketEvent):
    """The market's lifecycle moved: ``status`` is one of Kalshi's market statuses
    (``initialized``, ``active``, ``inactive``, ``closed``, ``determined``, ``finalized``)."""

    status: str
    close_ts_ns: int | None = None
    result: str | None = None


@dataclass(slots=True, kw_only=True)
class MarketInfoReceived(MarketEvent):
    """Market metadata arrived or changed (grid, times, fee type). ``info`` is a `MarketInfo`."""

    info: Any


@dataclass(slots=True, kw_only=True)
class FairValueUpdated(MarketEvent):
    """An external fair value for the market's YES price (from an extra feed)."""

    price: Price
    source: str = ""


# --- order events (from executors) ----------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class OrderEvent(Event):
    """An event about one of our orders, keyed by ``client_order_id``."""

    client_order_id: str
    ticker: str


@dataclass(slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """The venue accepted a new order and it rests (or filled at once; fills come separately).

    ``filled`` is how much of the order the venue had filled when it answered: ``remaining`` is
    already net of those fills, so their `OrderFilled` events, whenever they arrive, must not reduce
    it again. None when the venue did not say.
    """

    order_id: str
    remaining: Count | None = None
    filled: Count | None = None


@dataclass(slots=True, kw_only=True)
class OrderRejected(OrderEvent):
    """The venue refused an action; the order's previous state stands (a rejected create: no order)."""

    code: str
    message: str
    action: str = "create"


@dataclass(slots=True, kw_only=True)
class OrderAmended(OrderEvent):
    """An amend took effect; the order is now known as ``new_client_order_id``.

    ``filled``, when known, is the order's total filled count at the amend (see `OrderAccepted`).
    """

    new_client_order_id: str
    price: Price
    remaining: Count
    filled: Count | None = None
    order_id: str | None = None
    """The venue's order id after the amend, when it gave the order a new one."""


@dataclass(slots=True, kw_only=True)
class OrderDecreased(OrderEvent):
    """A decrease took effect; ``remaining`` is what still rests."""

    remaining: Count


@dataclass(slots=True, kw_only=True)
class OrderCanceled(OrderEvent):
    """The order no longer rests (cancelled by us, the venue, expiry or a market change)."""

    reason: str = ""


@dataclass(slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    """Part or all of an order traded. ``price`` is the YES price; ``fee`` in price units."""

    order_id: str
    trade_id: str
    side: BookSide
    price: Price
    count: Count
    fee: Price
    is_taker: bool


@dataclass(slots=True, kw_only=True)
class PositionReported(MarketEvent):
    """The venue's own view of our position in a market (for reconciliation)."""

    position: Count


@dataclass(slots=True, kw_only=True)
class VenueStatusChanged(Event):
    """The venue connection changed: ``connected``, ``reconnecting``, ``disconnected`` etc."""

    status: str
    detail: str = ""


@dataclass(slots=True, kw_only=True)
class OrderGroupTriggered(Event):
    """The exchange-side breaker (Kalshi order group) fired and cancelled our orders."""

    order_group_id: str
    detail: str = ""


# --- runtime events -------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class QuoteComputed(MarketEvent):
    """The strategy's quote, after the risk chain."""

    quote: Quote


@dataclass(slots=True, kw_only=True)
class RiskVerdictIssued(MarketEvent):
    """A risk rule did not simply pass a quote."""

    rule: str
    verdict: Verdict


@dataclass(slots=True, kw_only=True)
class OrderActionsSubmitted(Event):
    """The reconciler's actions handed to the executor, in order."""

    actions: tuple[OrderAction, ...]


@dataclass(slots=True, kw_only=True)
class TradingHalted(Event):
    """Quoting stopped everywhere and working orders are being cancelled."""

    reason: str


@dataclass(slots=True, kw_only=True)
class TradingPaused(Event):
    """An operator paused quoting."""

    reason: str = ""


@dataclass(slots=True, kw_only=True)
class TradingResumed(Event):
    """Quoting resumed after a halt or pause."""

    reason: str = ""


@dataclass(slots=True, kw_only=True)
class MarketQuarantined(Event):
    """A market stopped quoting after too many rejects in a window; its orders are pulled until an
    operator resumes it or ``until_ns`` passes."""

    ticker: str
    reason: str
    until_ns: int


@dataclass(slots=True, kw_only=True)
class MarketReleased(Event):
    """A quarantined market quotes again (``reason``: operator resume or cool-down)."""

    ticker: str
    reason: str


@dataclass(slots=True, kw_only=True)
class ParamsUpdated(Event):
    """A component's run-time params changed (``target`` is ``strategy`` or a rule name)."""

    target: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PositionMark:
    """One market's position in a `PortfolioMarked`: size, average cost, booked PnL, fees, the mid it
    was marked at (None when the book had no mid) and the unrealised PnL at that mark."""

    ticker: str
    position: Count
    avg_price: Price
    realised_pnl: Price
    fees: Price
    mark: Price | None
    unrealised_pnl: Price = 0


@dataclass(slots=True, kw_only=True)
class PortfolioMarked(Event):
    """The runtime valued the portfolio (periodically and at stop). PnL fields are this run's, price
    units; ``day_start_pnl`` is what earlier runs today carried in (from the journal)."""

    realised_pnl: Price
    unrealised_pnl: Price
    fees: Price
    day_start_pnl: Price = 0
    positions: tuple[PositionMark, ...] = ()

    @property
    def run_net_pnl(self) -> Price:
        """This run's realised + unrealised - fees."""
        return self.realised_pnl + self.unrealised_pnl - self.fees

    @property
    def day_net_pnl(self) -> Price:
        """Today's net PnL: this run's plus what earlier runs carried in."""
        return self.run_net_pnl + self.day_start_pnl


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    """The pipeline started."""

    pipeline: str
    markets: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class RunStopped(Event):
    """The pipeline stopped; ``reason`` says why (signal, duration, error)."""

    reason: str
    error: bool = False
