"""The reconciler: a desired quote vs the working orders -> the fewest order actions.

Per side, orders are matched to desired levels in three passes, each maximal:

1. exact price: the order stays where it is (a decrease if it is too big: keeps queue priority;
   an amend if it is too small);
2. within ``price_tolerance``: kept, or resized like (1) at its own price (decrease) or moved to the
   desired price (amend, when it must grow);
3. the rest, nearest prices first: one amend moves an order to a level.

Orders left over are cancelled; levels left over are created. Orders with an action in flight
(pending status or ``pending_change``) are never touched and occupy their price (and an amend's
target price): no action puts a second order on an occupied level, and a desired level on an
occupied price waits for the next round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder, OrderAction
from mmframe.domain.money import Count, Price
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide, Level, Quote

_BID = BookSide.BID
_ASK = BookSide.ASK
_LIVE = frozenset(status for status in OrderStatus if status.is_live)
_PENDING = frozenset(status for status in OrderStatus if status.is_pending)
# Enum class attribute lookups cost more than a module global.
_PENDING_CANCEL = OrderStatus.PENDING_CANCEL


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """Tolerances and allowed action types.

    An order within ``price_tolerance`` of a desired level's price and whose remaining size is within
    ``size_tolerance`` of the desired size is kept as is.

    Without ``allow_decrease`` a shrink is an amend; without ``allow_amend`` a move is a cancel plus
    a create, and a resize at the same price is a cancel now and a create in the next round (never
    two live orders at one level).
    """

    price_tolerance: Price = 0
    size_tolerance: Count = 0
    allow_amend: bool = True
    allow_decrease: bool = True


def reconcile(
    quote: Quote,
    working: Sequence[WorkingOrder],
    policy: ReconcilePolicy,
    new_client_order_id: Callable[[], str],
) -> list[OrderAction]:
    """The actions that turn ``working`` (this market's live orders) into ``quote``, ordered
    cancel > amend/decrease > create. Orders with an action in flight are left alone and still count
    as occupying their level, so no level ever gets two live orders."""
    plan = _Plan(quote.ticker, policy, new_client_order_id)
    bids: list[WorkingOrder] = []
    asks: list[WorkingOrder] = []
    for order in working:
        if order.status in _LIVE:
            (bids if order.side is _BID else asks).append(order)
    if bids or quote.bids:
        plan.side(_BID, quote.bids, bids)
    if asks or quote.asks:
        plan.side(_ASK, quote.asks, asks)
    return plan.actions()


class _Plan:
    """Actions collected across both sides, emitted in priority order."""

    def __init__(self, ticker: str, policy: ReconcilePolicy, new_id: Callable[[], str]) -> None:
        self.ticker = ticker
        self.policy = policy
        self.new_id = new_id
        self.cancels: list[OrderAction] = []
        # (retreating?, action): moves away from the other side go first, so that an amend
        # towards the spread never meets one of our own orders that is about to move away.
        self.changes: list[tuple[bool, OrderAction]] = []
        self.creates: list[OrderAction] = []

    def actions(self) -> list[OrderAction]:
        if not self.changes:
            return [*self.cancels, *self.creates]
        changes = [a for retreating, a in self.changes if retreating] + [a for r, a in self.changes if not r]
        return [*self.cancels, *changes, *self.creates]

    # --- one side ------------------------------------------------------------------------------

    def side(self, side: BookSide, levels: Sequence[Level], orders: list[WorkingOrder]) -> None:
        if len(orders) == 1 and len(levels) == 1:
            order = orders[0]
            level = levels[0]
            if level.size > 0 and not (order.pending_change or order.status in _PENDING):
                self._one_to_one(side, order, level)
                return
        self._match(side, levels, orders)

    def _one_to_one(self, side: BookSide, order: WorkingOrder, level: Level) -> None:
        """The common case of `_match`, without its sets and dicts: one order free to act, one level.

        The three passes reduce to: same price (resize if outside ``size_tolerance``), within
        ``price_tolerance`` (`_fit`), else a move; nothing is left to cancel or create.
        """
        price = level.price
        size = level.size
        if order.price == price:
            if abs(order.remaining - size) > self.policy.size_tolerance:
                self._fit(side, order, price, size, exact=True)
        elif abs(order.price - price) <= self.policy.price_tolerance:
            self._fit(side, order, price, size, exact=False)
        else:
            self._move(side, order, price, size)

    def _match(self, side: BookSide, levels: Sequence[Level], orders: list[WorkingOrder]) -> None:
        occupied: set[Price] = set()
        free: dict[Price, WorkingOrder] = {}
        busy = 0
        for order in orders:
            if order.pending_change or order.status in _PENDING:
                occupied.add(order.price)
                if order.pending_price is not None:
                    occupied.add(order.pending_price)
                if order.status is not _PENDING_CANCEL:
                    busy += 1
                continue
            other = free.get(order.price)
            if other is None:
                free[order.price] = order
                continue
            # A second order at one level: keep the older one (queue priority), cancel the other.
            if (order.created_ns, order.client_order_id) < (other.created_ns, other.client_order_id):
                free[order.price], order = order, other
            self._cancel(order)
        if occupied:
            for price in occupied & free.keys():
                self._cancel(free.pop(price))  # never happens with our own tracker; keep the invariant

        wanted: dict[Price, Count] = {}
        for level in levels:
            if level.size > 0 and level.price not in occupied:
                wanted[level.price] = wanted.get(level.price, 0) + level.size

        # 1. exact price matches
        unmatched = len(free)
        if unmatched and wanted:
            size_tolerance = self.policy.size_tolerance
            for price in [p for p in wanted if p in free]:
                order = free.pop(price)
                size = wanted.pop(price)
                if abs(order.remaining - size) > size_tolerance:
                    self._fit(side, order, price, size, exact=True)

        # 2. within tolerance: a sweep over both sorted lists gives a maximum matching, as every
        #    level's window has the same width
        tolerance = self.policy.price_tolerance
        if tolerance > 0 and free and wanted:
            order_prices = sorted(free)
            i = 0
            for price in sorted(wanted):
                while i < len(order_prices) and order_prices[i] < price - tolerance:
                    i += 1
                if i < len(order_prices) and order_prices[i] <= price + tolerance:
                    self._fit(side, free.pop(order_prices[i]), price, wanted.pop(price), exact=False)
                    i += 1

        # 3. nearest pairs move by amend; leftovers are cancelled or created
        if free and wanted:
            pairs = sorted(
                (abs(o_price - w_price), o_price, w_price) for o_price in free for w_price in wanted
            )
            for _, o_price, w_price in pairs:
                if o_price in free and w_price in wanted:
                    self._move(side, free.pop(o_price), w_price, wanted.pop(w_price))
        matched = unmatched - len(free)
        for order in free.values():
            self._cancel(order)
        if not wanted:
            return
        # An order with an action in flight will serve a level once it settles (the next round
        # amends it there), so it holds one of the side's slots: creating a level for it now would
        # only be cancelled again a round later.
        slots = len({level.price for level in levels if level.size > 0}) - busy - matched
        if slots <= 0:
            return
        if len(wanted) == 1:
            for price, size in wanted.items():
                self._create(side, price, size)
            return
        for price in sorted(wanted, reverse=side is _BID)[:slots]:
            self._create(side, price, wanted[price])

    def _fit(self, side: BookSide, order: WorkingOrder, price: Price, size: Count, *, exact: bool) -> None:
        """``order`` serves the level at ``price`` (at or within tolerance of its own price)."""
        if abs(order.remaining - size) <= self.policy.size_tolerance:
            return
        if size < order.remaining:
            if self.policy.allow_decrease:
                self.changes.append(
                    (
                        True,
                        DecreaseOrder(client_order_id=order.client_order_id, ticker=order.ticker, size=size),
                    )
                )
                return
            if self.policy.allow_amend:
                self._amend(side, order, order.price, size)
                return
        elif self.policy.allow_amend:
            self._amend(side, order, price, size)
            return
        self._cancel(order)
        if not exact:
            self._create(side, price, size)  # the level is free: the order being cancelled is elsewhere

    def _move(self, side: BookSide, order: WorkingOrder, price: Price, size: Count) -> None:
        if self.policy.allow_amend:
            self._amend(side, order, price, size)
        else:
            self._cancel(order)
            self._create(side, price, size)

    def _amend(self, side: BookSide, order: WorkingOrder, price: Price, size: Count) -> None:
        retreating = price < order.price if side is _BID else price > order.price
        action = AmendOrder(
            client_order_id=order.client_order_id,
            new_client_order_id=self.new_id(),
            ticker=order.ticker,
            side=side,
            price=price,
            size=size,
        )
        self.changes.append((retreating or price == order.price, action))

    def _cancel(self, order: WorkingOrder) -> None:
        self.cancels.append(CancelOrder(client_order_id=order.client_order_id, ticker=order.ticker))

    def _create(self, side: BookSide, price: Price, size: Count) -> None:
        self.creates.append(
            CreateOrder(client_order_id=self.new_id(), ticker=self.ticker, side=side, price=price, size=size)
        )
