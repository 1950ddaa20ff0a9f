"""Quote arithmetic shared by the rules: our live orders per level, size clipping, grid lookup."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmframe.api import BookSide, Count, Level, MarketView, OrderStatus, Price, TickGrid, WorkingOrder

# Enum attribute lookups and Enum.__hash__ cost ~0.2 µs each here; these run per order per check.
BID = BookSide.BID
PENDING_CANCEL = OrderStatus.PENDING_CANCEL
LIVE_STATUSES = tuple(status for status in OrderStatus if status.is_live)


def grid_of(market: MarketView) -> TickGrid:
    """The market's tick grid; Kalshi's classic cent grid when its metadata has not arrived."""
    info = market.info
    if info is not None and info.grid is not None:
        return info.grid
    return TickGrid.linear_cent()


@dataclass(frozen=True, slots=True)
class SideOrders:
    """Our live orders on one side of one market, split by whether a new quote can take them over.

    ``by_price``: remaining of live orders the reconciler may keep, decrease or move to a quoted level
    (at most one per level). ``in_flight``: remaining of orders with a cancel or change in flight,
    which may still fill whatever the quote says.
    """

    by_price: dict[Price, Count]
    in_flight: Count

    @property
    def total(self) -> Count:
        return sum(self.by_price.values()) + self.in_flight


def side_orders(orders: Iterable[WorkingOrder], ticker: str, side: BookSide) -> SideOrders:
    """Our live orders in ``ticker`` on ``side``."""
    return both_sides(orders, ticker)[0 if side is BID else 1]


def both_sides(orders: Iterable[WorkingOrder], ticker: str) -> tuple[SideOrders, SideOrders]:
    """Our live orders in ``ticker``, (bids, asks), in one pass."""
    bids: dict[Price, Count] = {}
    asks: dict[Price, Count] = {}
    bids_in_flight = asks_in_flight = 0
    for order in orders:
        if order.ticker != ticker or order.status not in LIVE_STATUSES:
            continue
        is_bid = order.side is BID
        if order.status is PENDING_CANCEL or order.pending_change:
            # An amend in flight may raise the size: until it is answered either size can fill.
            size = max(order.remaining, order.pending_size or 0)
            if is_bid:
                bids_in_flight += size
            else:
                asks_in_flight += size
        else:
            levels = bids if is_bid else asks
            levels[order.price] = levels.get(order.price, 0) + order.remaining
    return SideOrders(bids, bids_in_flight), SideOrders(asks, asks_in_flight)


def worst_case_size(levels: Sequence[Level], orders: SideOrders) -> Count:
    """The most that can fill on one side while the reconciler moves our orders to ``levels``.

    Until a decrease or cancel is confirmed the old size can still fill, so a quoted level counts
    ``max(quoted, live at that price)``, live orders at unquoted prices count in full, and orders
    already in flight count in full.
    """
    quoted = {level.price: level.size for level in levels}
    total = orders.in_flight
    for price, live in orders.by_price.items():
        total += max(live, quoted.pop(price, 0))
    return total + sum(quoted.values())


def clip_side(
    levels: Sequence[Level], orders: SideOrders, limit: Count, increment: Count
) -> tuple[Level, ...]:
    """``levels`` with sizes cut, best level first, so that the side's worst case stays within ``limit``.

    Two budgets hold at once: the quoted total (what rests once the reconciler is done) and the
    worst case during the change (`worst_case_size`). Sizes round down to ``increment``.
    """
    steady = limit
    extra = limit - orders.total
    quoted = added = 0
    for level in levels:
        quoted += level.size
        added += max(0, level.size - orders.by_price.get(level.price, 0))
    if quoted <= steady and added <= max(0, extra):
        return tuple(levels)  # the common case: nothing to cut
    kept: list[Level] = []
    for level in levels:
        live = orders.by_price.get(level.price, 0)
        size = min(level.size, steady, live + max(0, extra))
        size = max(0, size) // increment * increment
        if size <= 0:
            continue
        kept.append(level if size == level.size else Level(level.price, size))
        steady -= size
        extra -= max(0, size - live)
    return tuple(kept)


def quoted_size(levels: Sequence[Level]) -> Count:
    """Total size of one side of a quote."""
    return sum(level.size for level in levels)


def shift_levels(grid: TickGrid, levels: Sequence[Level], by: Price) -> tuple[Level, ...]:
    """``levels`` (best first) moved ``by`` dollars: down (``by`` <= 0) rounding down to the grid, up
    rounding up. A level that would leave the grid or land on or behind the level before it is
    dropped."""
    kept: list[Level] = []
    for level in levels:
        price = grid.round_down(level.price + by) if by <= 0 else grid.round_up(level.price + by)
        if price is None or (kept and (price >= kept[-1].price if by <= 0 else price <= kept[-1].price)):
            continue
        kept.append(Level(price, level.size))
    return tuple(kept)
