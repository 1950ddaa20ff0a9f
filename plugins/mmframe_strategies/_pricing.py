"""Price and size helpers shared by the strategies: reference prices, grid rounding, post-only clamps.

Every helper returns exact integers on the market's grid: bids round down, asks round up, nothing
leaves the valid range, and a passive quote never reaches the other side of the book.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmframe.api import BookSide, Count, MarketView, OrderBook, OrderStatus, Price, TickGrid, WorkingOrder

REFERENCES = ("mid", "microprice", "fair_value")
"""The reference prices a strategy can quote around."""

# Enum attribute lookups and Enum.__hash__ cost ~0.2 µs each here, per order per quote.
BID = BookSide.BID
ASK = BookSide.ASK
_ON_BOOK = tuple(status for status in OrderStatus if status.is_live and status is not OrderStatus.PENDING_NEW)
_LIVE = tuple(status for status in OrderStatus if status.is_live)


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


def reference_price(market: MarketView, reference: str) -> Price | None:
    """The market's ``mid``, ``microprice`` or external ``fair_value`` (None when unavailable).

    ``mid`` is the mid of the *others'* best prices: with our own orders at the touch, the book's mid
    moves whenever we do, and a quote centred on it chases itself one re-quote at a time. When only
    our orders make one side, the book's own mid is used.
    """
    if reference == "fair_value":
        return market.fair_value
    if reference == "microprice":
        return market.book.microprice()
    if market.working_orders:
        bid, ask = others_best(market, BID), others_best(market, ASK)
        if bid is not None and ask is not None and bid < ask:
            return (bid + ask) // 2
    return market.book.mid()


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


def others_best(market: MarketView, side: BookSide) -> Price | None:
    """The best price on ``side`` once our own resting orders are taken out of the book.

    Joining or improving against our own order would walk the quote away from where the strategy
    wants it, one re-quote at a time.
    """
    # A pending-new order may not have reached the book yet; subtracting it could hide others' size.
    own: dict[Price, Count] = {}
    for order in market.working_orders:
        if order.side is side and order.status in _ON_BOOK:
            own[order.price] = own.get(order.price, 0) + order.remaining
    book = market.book
    best = book.best_bid() if side is BID else book.best_ask()
    if best is None or best not in own:
        return best
    levels = book.bids(len(own) + 1) if side is BID else book.asks(len(own) + 1)
    for price, size in levels:
        if size > own.get(price, 0):
            return price
    return None


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
