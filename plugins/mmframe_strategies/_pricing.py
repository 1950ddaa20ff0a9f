"""Price and size helpers shared by the strategies: reference prices, grid rounding, post-only clamps.

Every helper returns exact integers on the market's grid: bids round down, asks round up, nothing
leaves the valid range, and a passive quote never reaches the other side of the book.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmframe.api import (
    BookSide,
    Count,
    MarketView,
    OrderBook,
    OrderStatus,
    Price,
    TickGrid,
    WorkingOrder,
    others_best,
)

__all__ = ["others_best"]  # the strategies' helpers take it from here with the rest

REFERENCES = ("mid", "microprice", "fair_value")
"""The reference prices a strategy can quote around."""

# Enum attribute lookups and Enum.__hash__ cost ~0.2 µs each here, per order per quote.
BID = BookSide.BID
ASK = BookSide.ASK
_LIVE = tuple(status for status in OrderStatus if status.is_live)
_PENDING = tuple(status for status in OrderStatus if status.is_pending)


def grid_of(market: MarketView) -> TickGrid:
    """The market's tick grid; Kalshi's classic cent grid when the market's metadata has not arrived."""
    info = market.info
    if info is not None and info.grid is not None:
        return info.grid
    return TickGrid.linear_cent()


def touch(book: OrderBook) -> tuple[Price | None, Price | None] | None:
    """(best bid, best ask) of a book that can be quoted against, or None (invalid, crossed or locked)."""
    if not book.valid:
        return None
    best_bid = book.best_bid()
    best_ask = book.best_ask()
    if best_bid is not None and best_ask is not None and best_bid >= best_ask:
        return None
    return best_bid, best_ask


def reference_price(
    market: MarketView, reference: str, orders: Sequence[WorkingOrder] | None = None
) -> Price | None:
    """The market's ``mid``, ``microprice`` or external ``fair_value`` (None when unavailable).

    ``mid`` is the mid of the *others'* best prices: with our own orders at the touch, the book's mid
    moves whenever we do, and a quote centred on it chases itself one re-quote at a time. When only
    our orders make one side, the book's own mid is used. ``orders`` are the market's working
    orders when the caller has already read them (each read of ``market.working_orders`` builds a
    list); None reads them here when needed.
    """
    if reference == "fair_value":
        return market.fair_value
    book = market.book
    if reference == "microprice":
        return book.microprice()
    if orders is None:
        orders = market.working_orders
    if orders:
        bid = others_best(book, orders, BID)
        if bid is not None:
            ask = others_best(book, orders, ASK)
            if ask is not None and bid < ask:
                return (bid + ask) // 2
    return book.mid()


SETTLE_HOLD_NS = 500_000_000
"""Longest a market's reference is held while the book disagrees with our orders (then: fresh)."""


def book_shows_orders(book: OrderBook, orders: Sequence[WorkingOrder]) -> bool:
    """Whether the book agrees with our orders: none has an action in flight, and every price where
    one rests shows at least our size there.

    Our order changes reach us twice, on different channels: the REST answer (which moves the
    order in the tracker) and the book deltas (which move it in the book). Between the two, the
    book shows our order where the tracker says it is not, and an others' mid computed then counts
    our own order as someone else's: the quote moves, the order follows, and the quote chases
    itself.
    """
    own: dict[tuple[BookSide, Price], Count] = {}
    for order in orders:
        if order.pending_change or order.status in _PENDING:
            return False
        key = (order.side, order.price)
        own[key] = own.get(key, 0) + order.remaining
    return all(book.size_at(side, price) >= size for (side, price), size in own.items())


class ReferenceHold:
    """Per market, the last reference computed while the book agreed with our orders, held while
    it does not (see `book_shows_orders`) for at most ``max_hold_ns``; then a fresh one is used, so
    a tracker that is wrong for good cannot freeze the quote.

    Only for the others' ``mid``, and only in a market whose book has been seen showing our orders:
    a venue whose book never does (a synthetic backtest book) has nothing to disagree about.
    """

    def __init__(self, max_hold_ns: int = SETTLE_HOLD_NS) -> None:
        self.max_hold_ns = max_hold_ns
        self._fresh: dict[str, Price] = {}
        self._shows_ours: set[str] = set()
        self._holding_since: dict[str, int] = {}

    def reference(
        self, market: MarketView, reference: str, orders: Sequence[WorkingOrder] | None = None
    ) -> Price | None:
        """`reference_price`, or the market's last settled one while our orders are in transition."""
        if reference != "mid":
            return reference_price(market, reference, orders)  # no own-order accounting to disagree
        ticker = market.ticker
        if orders is None:
            orders = market.working_orders
        if orders and not book_shows_orders(market.book, orders):
            held = self._fresh.get(ticker)
            if held is not None and ticker in self._shows_ours:
                now = market.now_ns
                since = self._holding_since.setdefault(ticker, now)
                if now - since < self.max_hold_ns:
                    return held
            return reference_price(market, reference, orders)
        if orders:
            self._shows_ours.add(ticker)
        self._holding_since.pop(ticker, None)
        price = reference_price(market, reference, orders)
        if price is not None:
            self._fresh[ticker] = price
        return price


def passive_bid(grid: TickGrid, price: Price, best_ask: Price | None) -> Price | None:
    """``price`` rounded down to the grid and kept strictly below ``best_ask`` (None when impossible)."""
    bid = grid.round_down(price)
    if bid is not None and best_ask is not None and bid >= best_ask:
        bid = grid.next_down(best_ask)
    return bid


def passive_ask(grid: TickGrid, price: Price, best_bid: Price | None) -> Price | None:
    """``price`` rounded up to the grid and kept strictly above ``best_bid`` (None when impossible)."""
    ask = grid.round_up(price)
    if ask is not None and best_bid is not None and ask <= best_bid:
        ask = grid.next_up(best_bid)
    return ask


def step_away(grid: TickGrid, price: Price, ticks: int, side: BookSide) -> Price:
    """``price`` moved ``ticks`` grid steps toward the other side (up for bids), stopping at the grid edge."""
    for _ in range(ticks):
        moved = grid.next_up(price) if side is BID else grid.next_down(price)
        if moved is None:
            break
        price = moved
    return price


def floor_to_increment(size: Count, increment: Count) -> Count:
    """``size`` rounded down to a multiple of ``increment`` (both count units)."""
    return size // increment * increment


def order_age_ns(orders: Sequence[WorkingOrder], side: BookSide, price: Price, now_ns: int) -> int:
    """Age of the oldest live order of ours at (``side``, ``price``); 0 when there is none."""
    oldest = 0
    for order in orders:
        if order.side is side and order.price == price and order.status in _LIVE:
            oldest = max(oldest, now_ns - order.created_ns)
    return oldest
