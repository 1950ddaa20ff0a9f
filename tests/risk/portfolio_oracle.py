"""The cross-market totals computed the slow way, by walking every position and live order.

These are the O(markets) scans the risk rules used before `PortfolioView` kept running totals; the
test views answer with them, and the property tests hold the real `Portfolio` to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmframe.api import BookSide, Count, OrderStatus, Position, Price, WorkingOrder

LIVE_STATUSES = tuple(status for status in OrderStatus if status.is_live)


def gross_contracts_elsewhere(
    positions: Mapping[str, Position], working_orders: Sequence[WorkingOrder], ticker: str
) -> Count:
    """Worst-case contracts across every market but ``ticker``: each counts
    ``max(position + live bids, live asks - position, 0)``."""
    bids: dict[str, Count] = {}
    asks: dict[str, Count] = {}
    for order in working_orders:
        if order.ticker == ticker or order.status not in LIVE_STATUSES:
            continue
        book = bids if order.side is BookSide.BID else asks
        size = max(order.remaining, order.pending_size or 0) if order.pending_change else order.remaining
        book[order.ticker] = book.get(order.ticker, 0) + size
    total = 0
    for other in set(positions) | set(bids) | set(asks):
        if other == ticker:
            continue
        held = positions[other].position if other in positions else 0
        total += max(held + bids.get(other, 0), asks.get(other, 0) - held, 0)
    return total


def _worse_terms(order: WorkingOrder) -> tuple[BookSide, Price, Count]:
    size = max(order.remaining, order.pending_size or 0)
    moved = order.pending_price if order.pending_price is not None else order.price
    price = max(order.price, moved) if order.side is BookSide.BID else min(order.price, moved)
    return order.side, price, size


def loss_elsewhere(positions: Mapping[str, Position], working_orders: Sequence[WorkingOrder], ticker: str) -> Price:
    """Worst-case settlement loss across every market but ``ticker``, every live order filled (an
    order with a cancel or amend in flight at the worse of its old and new terms)."""
    orders: dict[str, list[tuple[BookSide, Price, Count]]] = {}
    for order in working_orders:
        if order.ticker != ticker and order.status.is_live:
            terms = (
                _worse_terms(order)
                if order.pending_change or order.status is OrderStatus.PENDING_CANCEL
                else (order.side, order.price, order.remaining)
            )
            orders.setdefault(order.ticker, []).append(terms)
    total = 0
    for other, position in positions.items():
        if other != ticker:
            total += position.worst_case_loss_with(orders.pop(other, []))
    for other, exposure in orders.items():  # orders in markets with no position object yet
        total += Position(other).worst_case_loss_with(exposure)
    return total


NOWHERE = "\x00no market"
"""A ticker no market has: everything "elsewhere" from it is the whole portfolio."""


def reachable_contracts(
    positions: Mapping[str, Position], working_orders: Sequence[WorkingOrder], ticker: str
) -> Count:
    """One market's worst-case position, as the whole minus everything else."""
    return gross_contracts_elsewhere(positions, working_orders, NOWHERE) - gross_contracts_elsewhere(
        positions, working_orders, ticker
    )


def worst_case_loss(positions: Mapping[str, Position], working_orders: Sequence[WorkingOrder], ticker: str) -> Price:
    """One market's worst-case settlement loss, as the whole minus everything else."""
    return loss_elsewhere(positions, working_orders, NOWHERE) - loss_elsewhere(positions, working_orders, ticker)
