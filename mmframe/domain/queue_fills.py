"""The queue-aware fill model: our simulated orders against a real market's data, filled only when
the market's own trades and cancels reach our place in the queue. ``mmframe backtest`` runs it on
recorded data (the ``backtest`` executor), paper trading on a live feed (the ``paper`` venue).

Model (the market's book never contains our orders):

- **Joining.** A new order (or one moved to a new price, or grown) joins the back of its level:
  the size resting ahead of it is the book's size at that price when it arrives.
- **Trades at our price** consume the queue ahead of us first; what is left of the trade fills us.
  A trade at a price *worse* than ours for the taker (through our price) fills us completely.
- **Cancels by others** (a level shrinking without a trade) are assumed to come from behind us
  unless the level becomes smaller than our place in it (then we move up to its new size).
- **A trade and the book decrease it causes** arrive as separate messages in either order; a
  decrease within ``trade_match_ms`` of a trade at the same level is matched to it, so the
  volume is counted once.
- **The book moving through us** (the other side's best at or through our resting price, which
  only happens because our order is not in the market's book) fills us completely.
- **Post-only** orders that would cross are rejected (``post_only_cross``); others take from the
  book as takers up to their limit price (the market's book is not changed), then rest, or are
  cancelled when immediate-or-cancel.
- **Fees**: Kalshi's trade fee (``trade_fee``, what the venue reports as ``fee_cost``) by the
  market's fee type — makers pay only on maker-fee series; takers always pay. The ledger charges
  them per order, as the venue does (API.md §9). Markets paying other than $1 are charged nothing.
- A market that closes (lifecycle ``closed``, ``determined``, ``finalized``) cancels our orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmframe.domain.actions import OrderAction
from mmframe.domain.book import OrderBook
from mmframe.domain.events import (
    BookDeltaReceived,
    BookSnapshotReceived,
    Event,
    Leg,
    MarketInfoReceived,
    MarketStatusChanged,
    OrderCanceled,
    TradeReported,
)
from mmframe.domain.fees import trade_fee
from mmframe.domain.market import MarketInfo
from mmframe.domain.money import ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide
from mmframe.domain.sim_orders import SimOrder, SimulatedOrders

QUEUE_FILL_MODEL_DOC: str = (__doc__ or "").strip()
"""The model as prose (the ``backtest`` executor's and the ``paper`` venue's documentation)."""

CLOSED_STATUSES = frozenset({"closed", "determined", "finalized", "settled"})
"""Market statuses that end our resting orders."""

QUEUE_FILL_PROPERTIES: dict[str, Any] = {
    "fees": {"type": "boolean", "default": True,
             "description": "Charge Kalshi's fees by the market's fee type (maker fees only on maker-fee series)."},
    "trade_match_ms": {"type": "number", "minimum": 0, "maximum": 3_600_000, "default": 500,
                       "description": "A book decrease this close to a trade at the same level is that trade's."},
    "fill_on_cross": {"type": "boolean", "default": True,
                      "description": "Fill a resting order when the other side of the book reaches its price."},
}
"""The model's settings as JSON-Schema properties (the ``backtest`` executor's and the ``paper``
venue's config share them)."""


class QueueFillModel(SimulatedOrders):
    """Queue-aware simulated fills against a market's data (see the module docstring). Pure and
    synchronous: `execute` takes our actions, `on_market_event` the market's events; both return
    the order events (acceptances, fills with their fees, cancels) a venue would send."""

    def __init__(self, *, fees: bool = True, trade_match_ns: int = 500_000_000, fill_on_cross: bool = True,
                 id_prefix: str = "bt") -> None:
        super().__init__(id_prefix)
        self.fees = fees
        self.window_ns = trade_match_ns
        self.fill_on_cross = fill_on_cross
        self.books: dict[str, OrderBook] = {}
        self.infos: dict[str, MarketInfo] = {}

    def reset_books(self) -> None:
        """Forget every order and market (a new run)."""
        self.reset_orders()
        self.books = {}
        self.infos = {}

    def execute(self, actions: Sequence[OrderAction], now_ns: int) -> list[Event]:
        """Apply our ``actions`` at ``now_ns``; the order events they produce."""
        return SimulatedOrders.execute(self, actions, now_ns)

    def on_market_event(self, event: Event) -> list[Event]:
        """Keep the book; fill our orders the market traded at or through."""
        kind = type(event)
        if kind is BookDeltaReceived:
            return self._delta(event)  # type: ignore[arg-type]
        if kind is TradeReported:
            return self._trade(event)  # type: ignore[arg-type]
        if kind is BookSnapshotReceived:
            return self._snapshot(event)  # type: ignore[arg-type]
        if kind is MarketInfoReceived:
            info: MarketInfo = event.info  # type: ignore[attr-defined]
            self.infos[info.ticker] = info
            book = self.books.get(info.ticker)
            if book is None or book.payout != info.payout:
                self.books[info.ticker] = OrderBook(info.ticker, info.payout)
        elif kind is MarketStatusChanged and event.status in CLOSED_STATUSES:  # type: ignore[attr-defined]
            return self._close(event.ticker, event.ts_ns)  # type: ignore[attr-defined]
        return []

    # --- market events ----------------------------------------------------------------------------

    def _book(self, ticker: str) -> OrderBook:
        book = self.books.get(ticker)
        if book is None:
            book = self.books[ticker] = OrderBook(ticker)
        return book

    def _mine(self, ticker: str) -> list[SimOrder]:
        return [order for order in self.orders.values() if order.ticker == ticker]

    def _snapshot(self, event: BookSnapshotReceived) -> list[Event]:
        book = self._book(event.ticker)
        book.apply_snapshot(event.yes_bids, event.no_bids, event.ts_ns)
        out: list[Event] = []
        for order in self._mine(event.ticker):
            order.queue = min(order.queue, book.size_at(order.side, order.price))
            self._cross(order, book, event.ts_ns, out)
        return out

    def _delta(self, event: BookDeltaReceived) -> list[Event]:
        book = self._book(event.ticker)
        book.apply_delta(event.leg, event.price, event.delta, event.ts_ns)
        mine = self._mine(event.ticker)
        if not mine:
            return []
        now = event.ts_ns
        if event.delta < 0:
            side = BookSide.BID if event.leg is Leg.YES else BookSide.ASK
            price = event.price if event.leg is Leg.YES else book.payout - event.price
            left = book.leg_size_at(event.leg, event.price)
            for order in mine:
                if order.side is side and order.price == price:
                    self._shrunk(order, -event.delta, left, now)
        out: list[Event] = []
        for order in mine:
            self._cross(order, book, now, out)
        return out

    def _shrunk(self, order: SimOrder, decrease: Count, left: Count, now: int) -> None:
        window = self.window_ns
        if order.credit and now - order.credit_ts <= window:
            matched = min(decrease, order.credit)
            order.credit -= matched
            decrease -= matched
        if decrease <= 0:
            return
        if not (order.cut and now - order.cut_ts <= window):
            order.cut = 0
            order.cut_queue = order.queue
        order.cut += decrease
        order.cut_ts = now
        order.queue = min(order.queue, left)

    def _trade(self, event: TradeReported) -> list[Event]:
        # A taker buying YES (bid) lifts asks; a taker selling YES (ask) hits bids.
        hit = event.taker_side.opposite
        now = event.ts_ns
        out: list[Event] = []
        for order in self._mine(event.ticker):
            if order.side is not hit:
                continue
            through = event.price < order.price if hit is BookSide.BID else event.price > order.price
            if through:
                out.append(self._maker_fill(order, order.remaining, now))
            elif event.price == order.price:
                count = self._queue_fill(order, event.count, now)
                if count > 0:
                    out.append(self._maker_fill(order, count, now))
        return out

    def _queue_fill(self, order: SimOrder, traded: Count, now: int) -> Count:
        """How much of ``order`` a trade of ``traded`` at its price fills; advances its queue."""
        window = self.window_ns
        filled = 0
        if order.cut and now - order.cut_ts <= window:
            # Part of this trade already left the book as a decrease: it came off the front.
            matched = min(traded, order.cut)
            order.cut -= matched
            filled += max(0, matched - order.cut_queue)
            order.cut_queue = max(0, order.cut_queue - matched)
            order.queue = min(order.queue, order.cut_queue)
            traded -= matched
        if traded > 0:
            filled += max(0, traded - order.queue)
            order.queue = max(0, order.queue - traded)
            order.credit = (order.credit if now - order.credit_ts <= window else 0) + traded
            order.credit_ts = now
        return min(filled, order.remaining)

    def _cross(self, order: SimOrder, book: OrderBook, now: int, out: list[Event]) -> None:
        if not self.fill_on_cross or order.remaining <= 0:
            return
        if order.side is BookSide.BID:
            best = book.best_ask()
            crossed = best is not None and best <= order.price
        else:
            best = book.best_bid()
            crossed = best is not None and best >= order.price
        if crossed:
            out.append(self._maker_fill(order, order.remaining, now))

    def _close(self, ticker: str, now: int) -> list[Event]:
        out: list[Event] = []
        for order in self._mine(ticker):
            del self.orders[order.client_order_id]
            out.append(OrderCanceled(ts_ns=now, client_order_id=order.client_order_id, ticker=ticker,
                                     reason="market closed"))
        return out

    # --- SimulatedOrders hooks -------------------------------------------------------------------

    def _crosses(self, order: SimOrder) -> str | None:
        book = self.books.get(order.ticker)
        if book is None or not book.valid:
            return None
        if order.side is BookSide.BID:
            best = book.best_ask()
            if best is not None and order.price >= best:
                return f"post-only bid at {order.price} would take the best ask {best}"
        else:
            best = book.best_bid()
            if best is not None and order.price <= best:
                return f"post-only ask at {order.price} would take the best bid {best}"
        return None

    def _placed(self, order: SimOrder) -> None:
        book = self.books.get(order.ticker)
        order.queue = book.size_at(order.side, order.price) if book is not None else 0
        order.credit = order.cut = order.cut_queue = 0

    def _take(self, order: SimOrder, now: int, out: list[Event]) -> None:
        book = self.books.get(order.ticker)
        if book is None or not book.valid:
            return
        levels = book.asks() if order.side is BookSide.BID else book.bids()
        for price, size in levels:
            if order.remaining <= 0:
                break
            if (order.side is BookSide.BID and price > order.price) or (
                order.side is BookSide.ASK and price < order.price
            ):
                break
            count = min(size, order.remaining)
            out.append(self.fill(order, count, price, now, self._fee(order.ticker, price, count, True), True))

    # --- fees -----------------------------------------------------------------------------------------

    def _fee(self, ticker: str, price: Price, count: Count, is_taker: bool) -> Price:
        if not self.fees:
            return 0
        info = self.infos.get(ticker)
        if info is None:
            info = MarketInfo(ticker)
        if info.payout != ONE_DOLLAR:
            return 0
        # The trade fee, as the venue reports it; the ledger charges it per order (API.md §9).
        return trade_fee(price, count, is_taker=is_taker, fee_type=info.fee_type,
                         multiplier_bps=info.fee_multiplier_bps)

    def _maker_fill(self, order: SimOrder, count: Count, now: int) -> Event:
        count = min(count, order.remaining)
        return self.fill(order, count, order.price, now, self._fee(order.ticker, order.price, count, False), False)
