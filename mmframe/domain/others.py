"""The book as the others quote it: our own resting orders taken out.

A mid that includes our quotes moves whenever we do: a strategy centred on it chases itself, and a
markout measured against it credits us with our own quote (the report's adverse selection would
read near zero whatever the flow). Both read the others' prices from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmframe.domain.book import OrderBook
from mmframe.domain.money import Count, Price
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide

ON_BOOK = tuple(status for status in OrderStatus if status.is_live and status is not OrderStatus.PENDING_NEW)
"""Statuses of an order that rests on the venue's book (a pending-new one may not be there yet)."""


def own_sizes(orders: Sequence[WorkingOrder], side: BookSide) -> dict[Price, Count]:
    """Our resting size per price on ``side`` (orders on the book only)."""
    own: dict[Price, Count] = {}
    for order in orders:
        if order.side is side and order.status in ON_BOOK:
            own[order.price] = own.get(order.price, 0) + order.remaining
    return own


def others_best(book: OrderBook, orders: Sequence[WorkingOrder], side: BookSide) -> Price | None:
    """The best price on ``side`` once our own resting ``orders`` (the market's working orders)
    are taken out of the book; None when only ours were there.

    A pending-new order may not have reached the book yet: subtracting it could hide others' size,
    so only orders known to rest are taken out.
    """
    best = book.best_bid() if side is BookSide.BID else book.best_ask()
    if best is None or not orders:
        return best
    own = own_sizes(orders, side)
    if best not in own:
        return best
    levels = book.bids(len(own) + 1) if side is BookSide.BID else book.asks(len(own) + 1)
    for price, size in levels:
        if size > own.get(price, 0):
            return price
    return None


def others_mid(book: OrderBook, orders: Sequence[WorkingOrder]) -> Price | None:
    """The mid of the others' best bid and ask (rounded down to a price unit); None when the book
    is not valid or the others leave a side empty or crossed."""
    if not book.valid:
        return None
    if not orders:
        return book.mid()
    bid = others_best(book, orders, BookSide.BID)
    ask = others_best(book, orders, BookSide.ASK)
    if bid is None or ask is None or bid >= ask:
        return None
    return (bid + ask) // 2
