"""Working orders and their lifecycle, keyed by ``client_order_id``."""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder
from mmframe.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
)
from mmframe.domain.money import Count, Price
from mmframe.domain.quote import BookSide


class OrderStatus(enum.StrEnum):
    """Where an order is in its life, as the order tracker knows it (Kalshi's statuses plus our own
    ``pending_new`` before the venue acknowledged it)."""

    PENDING_NEW = "pending_new"
    RESTING = "resting"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    EXECUTED = "executed"
    REJECTED = "rejected"

    @property
    def is_live(self) -> bool:
        """May still rest on the venue (and so count against limits)."""
        return self in _LIVE

    @property
    def is_pending(self) -> bool:
        """An action is in flight; the reconciler leaves it alone until it settles."""
        return self in _PENDING


_LIVE = frozenset(
    {OrderStatus.PENDING_NEW, OrderStatus.RESTING, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL}
)
_PENDING = frozenset({OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL})


@dataclass(slots=True)
class WorkingOrder:
    """One of our orders. ``remaining`` rests; ``filled`` has traded. ``pending_change`` is set while
    an amend or decrease is in flight."""

    client_order_id: str
    ticker: str
    side: BookSide
    price: Price
    remaining: Count
    status: OrderStatus = OrderStatus.PENDING_NEW
    order_id: str | None = None
    filled: Count = 0
    created_ns: int = 0
    updated_ns: int = 0
    pending_change: bool = False
    pending_price: Price | None = None
    """Where an amend in flight moves the order (None when no amend is in flight)."""
    pending_size: Count | None = None
    """The remaining size an amend or decrease in flight asks for."""
    venue_filled: Count | None = None
    """The filled total the venue had counted when it last reported ``remaining``: fill events up to
    this total are already reflected in ``remaining`` and must not reduce it twice."""

    @property
    def is_busy(self) -> bool:
        """An action is in flight (pending status or pending change): leave the order alone."""
        return self.pending_change or self.status in _PENDING


_FINISHED_KEPT = 10_000
"""How many finished orders stay known (for `get` and to recognise late duplicate events)."""


class OrderTracker:
    """Our working orders by ``client_order_id``, moved through their lifecycle by order events.

    Safe under races: a fill for an order being amended or cancelled is applied to whichever
    client id the venue names (old or new); events for unknown or finished orders are ignored and
    reported by returning False, and so are exact duplicates (a fill's ``trade_id`` seen before, an
    acceptance of an order already accepted, an amend already applied).

    Lifecycle: ``pending_new`` -> ``resting`` / ``partially_filled`` -> ``executed`` (nothing
    remains) or ``canceled``; a rejected create is ``rejected``. A submitted cancel makes the order
    ``pending_cancel``; a submitted amend or decrease sets ``pending_change``. A rejected amend,
    decrease or cancel restores the previous state.

    Sizes after an amend or decrease are the venue's ``remaining``; fills seen after that subtract
    from it (never below 0), so a fill reported late is at worst counted twice against
    ``remaining``, understating what rests, never overstating it.

    Watchers (`watch`) hear the ticker of every change to a live order: created, adopted, marked
    pending, or moved by an event (size, price, status, finished).
    """

    def __init__(self) -> None:
        self._watchers: list[Callable[[str], None]] = []
        self._orders: dict[str, WorkingOrder] = {}
        self._live: dict[str, dict[str, WorkingOrder]] = {}
        """Live orders by ticker, then by current client id."""
        self._renamed: dict[str, str] = {}
        """Client ids an order was known by before an amend -> the id it has now."""
        self._amend_to: dict[str, str] = {}
        """New client id of an amend in flight -> the order's current id."""
        self._before_cancel: dict[str, OrderStatus] = {}
        self._trades: dict[str, set[str]] = {}
        self._finished: deque[str] = deque()
        self._by_order_id: dict[str, WorkingOrder] = {}
        """Live and recently finished orders by the venue's order id (every id each has had)."""
        self._venue_ids: dict[int, list[str]] = {}
        """The venue ids each order (by identity) has had: forgotten with the order."""

    def watch(self, changed: Callable[[str], None]) -> None:
        """Call ``changed(ticker)`` after anything changes the live orders of ``ticker`` (so running
        totals kept elsewhere can be brought up to date from `working`)."""
        self._watchers.append(changed)

    def _changed(self, ticker: str) -> None:
        for changed in self._watchers:
            changed(ticker)

    # --- lookups -------------------------------------------------------------------------------

    def _resolve(self, client_order_id: str) -> WorkingOrder | None:
        order = self._orders.get(client_order_id)
        if order is not None:
            return order
        current = self._renamed.get(client_order_id)
        while current is not None and current not in self._orders:
            current = self._renamed.get(current)
        if current is None:
            current = self._amend_to.get(client_order_id)
        return None if current is None else self._orders.get(current)

    def get(self, client_order_id: str) -> WorkingOrder | None:
        """The order known by ``client_order_id`` (its current id, an id it had before an amend, or
        the new id of an amend in flight), live or recently finished."""
        return self._resolve(client_order_id)

    def by_order_id(self, order_id: str) -> WorkingOrder | None:
        """The order the venue knows as ``order_id`` (live or recently finished)."""
        return self._by_order_id.get(order_id)

    def _set_order_id(self, order: WorkingOrder, order_id: str) -> None:
        # An amend may give the order a new venue id; the old one keeps naming it for late messages.
        order.order_id = order_id
        self._by_order_id[order_id] = order
        self._venue_ids.setdefault(id(order), []).append(order_id)

    def working(self, ticker: str) -> list[WorkingOrder]:
        """Live orders in ``ticker``."""
        orders = self._live.get(ticker)
        return list(orders.values()) if orders else []

    def live(self) -> list[WorkingOrder]:
        """Every live order."""
        return [order for orders in self._live.values() for order in orders.values()]

    # --- actions -------------------------------------------------------------------------------

    def submitted(self, action: object, ts_ns: int) -> None:
        """Record an action handed to the executor (CreateOrder adds a pending order; amend,
        decrease and cancel mark the order pending).

        Actions on unknown or finished orders are ignored (the venue will reject them); a create
        reusing a known client id (a retry) changes nothing.
        """
        if isinstance(action, CreateOrder):
            if action.client_order_id in self._orders:
                return
            order = WorkingOrder(
                client_order_id=action.client_order_id,
                ticker=action.ticker,
                side=action.side,
                price=action.price,
                remaining=action.size,
                created_ns=ts_ns,
                updated_ns=ts_ns,
            )
            self._orders[order.client_order_id] = order
            self._live.setdefault(order.ticker, {})[order.client_order_id] = order
            self._changed(order.ticker)
            return
        if not isinstance(action, AmendOrder | DecreaseOrder | CancelOrder):
            raise TypeError(f"not an order action: {action!r}")
        target = self._resolve(action.client_order_id)
        if target is None or not target.status.is_live:
            return
        self._mark_pending(target, action, ts_ns)
        self._changed(target.ticker)

    def _mark_pending(
        self, order: WorkingOrder, action: AmendOrder | DecreaseOrder | CancelOrder, ts_ns: int
    ) -> None:
        key = order.client_order_id
        order.updated_ns = ts_ns
        if isinstance(action, CancelOrder):
            if order.status is not OrderStatus.PENDING_CANCEL:
                self._before_cancel[key] = order.status
                order.status = OrderStatus.PENDING_CANCEL
            return
        order.pending_change = True
        order.pending_size = action.size
        if isinstance(action, AmendOrder):
            order.pending_price = action.price
            self._amend_to[action.new_client_order_id] = key

    def adopt(self, order: WorkingOrder) -> None:
        """Track an order that already rests on the venue (startup reconciliation)."""
        replaced = self._orders.get(order.client_order_id)
        self._orders[order.client_order_id] = order
        if order.order_id is not None:
            self._set_order_id(order, order.order_id)
        if order.status.is_live:
            self._live.setdefault(order.ticker, {})[order.client_order_id] = order
        else:
            self._finish(order)
        if replaced is not None and replaced.ticker != order.ticker:
            self._changed(replaced.ticker)
        self._changed(order.ticker)

    # --- events --------------------------------------------------------------------------------

    def apply(self, event: object) -> bool:
        """Apply an `OrderEvent` (accepted, rejected, amended, decreased, canceled, filled).

        Returns False when the event was ignored: an unknown or finished order, a duplicate, or
        not an order event this tracker handles.
        """
        client_order_id = getattr(event, "client_order_id", None)
        if not isinstance(client_order_id, str):
            return False
        order = self._resolve(client_order_id)
        if order is None or not order.status.is_live:
            return False
        changed = self._apply_to(order, client_order_id, event)
        self._changed(order.ticker)
        return changed

    def _apply_to(self, order: WorkingOrder, client_order_id: str, event: object) -> bool:
        ts_ns: int = getattr(event, "ts_ns", 0)
        if (
            client_order_id != order.client_order_id
            and self._amend_to.get(client_order_id) == order.client_order_id
            and not isinstance(event, OrderAmended | OrderRejected)
        ):
            # The venue already speaks of the order by its amended id: the amend took effect before
            # its acknowledgement reached us, so later fills apply to the amended size.
            self._amend_took_effect(order, client_order_id)
        if isinstance(event, OrderFilled):
            changed = self._filled(order, event)
        elif isinstance(event, OrderAccepted):
            changed = self._accepted(order, event)
        elif isinstance(event, OrderAmended):
            changed = self._amended(order, event)
        elif isinstance(event, OrderDecreased):
            changed = self._decreased(order, event)
        elif isinstance(event, OrderCanceled):
            self._end(order, OrderStatus.CANCELED)
            order.remaining = 0
            changed = True
        elif isinstance(event, OrderRejected):
            changed = self._rejected(order, event)
        else:
            return False
        if changed:
            order.updated_ns = max(order.updated_ns, ts_ns)
        return changed

    def _filled(self, order: WorkingOrder, event: OrderFilled) -> bool:
        seen = self._trades.setdefault(order.client_order_id, set())
        if event.trade_id:
            if event.trade_id in seen:
                return False
            seen.add(event.trade_id)
        if event.order_id and order.order_id is None:
            self._set_order_id(order, event.order_id)
        before = order.filled
        order.filled += event.count
        reflected = 0
        if order.venue_filled is not None:
            # The part of this fill the venue had already taken out of the remaining it reported.
            reflected = max(0, min(order.filled, order.venue_filled) - min(before, order.venue_filled))
        order.remaining = max(0, order.remaining - (event.count - reflected))
        if order.remaining == 0:
            self._end(order, OrderStatus.EXECUTED)
        elif order.status is OrderStatus.RESTING:
            order.status = OrderStatus.PARTIALLY_FILLED  # a pending order stays pending until accepted
        return True

    def _accepted(self, order: WorkingOrder, event: OrderAccepted) -> bool:
        changed = False
        if event.order_id and order.order_id != event.order_id:
            self._set_order_id(order, event.order_id)
            changed = True
        if event.remaining is not None and event.filled is not None:
            # The venue says how much had filled: its remaining is exact, and fills we have not yet
            # seen are already out of it.
            if (order.remaining, order.venue_filled) != (event.remaining, event.filled):
                order.remaining = event.remaining
                order.venue_filled = event.filled
                changed = True
        elif event.remaining is not None and event.remaining < order.remaining:
            # The venue's word is newer than ours only when it is smaller (a fill we have not seen).
            order.remaining = event.remaining
            changed = True
        if order.status is OrderStatus.PENDING_NEW:
            order.status = _resting(order)
            changed = True
        elif self._awaiting_acceptance(order):
            # Cancel sent before the acceptance arrived: a rejected cancel now falls back to resting.
            self._before_cancel[order.client_order_id] = _resting(order)
            changed = True
        if order.remaining == 0:
            self._end(order, OrderStatus.EXECUTED)
        return changed

    def _amended(self, order: WorkingOrder, event: OrderAmended) -> bool:
        old = order.client_order_id
        new = event.new_client_order_id
        if self._amend_to.get(new) != old:
            # Not the amend in flight for this order: a repeat, or the late acknowledgement of an amend
            # already applied when a later event named its new id. Its price and remaining are older
            # news, and a newer amend may be in flight.
            return False
        self._amend_to.pop(new, None)
        if old != new:
            self._rekey(order, old, new)
        if event.order_id:
            self._set_order_id(order, event.order_id)
        order.price = event.price
        order.remaining = event.remaining
        # Without the venue's filled count, assume it had seen no more fills than we have.
        order.venue_filled = event.filled if event.filled is not None else order.filled
        self._settle_change(order)
        if order.remaining == 0:
            self._end(order, OrderStatus.EXECUTED)
        return True

    def _amend_took_effect(self, order: WorkingOrder, new: str) -> None:
        self._amend_to.pop(new, None)
        self._rekey(order, order.client_order_id, new)
        if order.pending_price is not None:
            order.price = order.pending_price
        if order.pending_size is not None:
            order.remaining = order.pending_size
        self._settle_change(order)

    def _decreased(self, order: WorkingOrder, event: OrderDecreased) -> bool:
        if order.pending_change:
            order.remaining = event.remaining
        elif event.remaining < order.remaining:
            order.remaining = event.remaining  # a decrease we did not ask for (venue-side)
        else:
            return False  # a repeat
        self._settle_change(order)
        if order.remaining == 0:
            self._end(order, OrderStatus.CANCELED)
        return True

    def _rejected(self, order: WorkingOrder, event: OrderRejected) -> bool:
        key = order.client_order_id
        action = event.action or "create"
        if action == "create":
            if order.status is not OrderStatus.PENDING_NEW and not self._awaiting_acceptance(order):
                return False  # the order was accepted; a late or stray create rejection is moot
            self._end(order, OrderStatus.REJECTED)
            return True
        if action == "cancel":
            if order.status is not OrderStatus.PENDING_CANCEL:
                return False
            previous = self._before_cancel.pop(key, OrderStatus.RESTING)
            order.status = previous if previous is OrderStatus.PENDING_NEW else _resting(order)
            return True
        if not order.pending_change:
            return False
        self._settle_change(order)
        return True

    # --- bookkeeping ---------------------------------------------------------------------------

    def _awaiting_acceptance(self, order: WorkingOrder) -> bool:
        """Cancelled before the venue acknowledged the create."""
        return (
            order.status is OrderStatus.PENDING_CANCEL
            and self._before_cancel.get(order.client_order_id) is OrderStatus.PENDING_NEW
        )

    def _settle_change(self, order: WorkingOrder) -> None:
        key = order.client_order_id
        order.pending_change = False
        order.pending_price = order.pending_size = None
        stale = [new for new, current in self._amend_to.items() if current == key]
        for new in stale:
            del self._amend_to[new]

    def _rekey(self, order: WorkingOrder, old: str, new: str) -> None:
        del self._orders[old]
        self._orders[new] = order
        self._renamed[old] = new
        order.client_order_id = new
        live = self._live.get(order.ticker)
        if live is not None and live.pop(old, None) is not None:
            live[new] = order
        if old in self._before_cancel:
            self._before_cancel[new] = self._before_cancel.pop(old)
        if old in self._trades:
            self._trades[new] = self._trades.pop(old)

    def _end(self, order: WorkingOrder, status: OrderStatus) -> None:
        order.status = status
        order.pending_change = False
        order.pending_price = order.pending_size = None
        key = order.client_order_id
        self._before_cancel.pop(key, None)
        for new in [new for new, current in self._amend_to.items() if current == key]:
            del self._amend_to[new]
        live = self._live.get(order.ticker)
        if live is not None:
            live.pop(key, None)
            if not live:
                del self._live[order.ticker]
        self._finish(order)

    def _finish(self, order: WorkingOrder) -> None:
        self._finished.append(order.client_order_id)
        while len(self._finished) > _FINISHED_KEPT:
            gone = self._finished.popleft()
            dropped = self._orders.get(gone)
            if dropped is None or dropped.status.is_live:
                continue
            del self._orders[gone]
            self._trades.pop(gone, None)
            for order_id in self._venue_ids.pop(id(dropped), ()):
                if self._by_order_id.get(order_id) is dropped:
                    del self._by_order_id[order_id]
            for old in [old for old, current in self._renamed.items() if current == gone]:
                del self._renamed[old]


def _resting(order: WorkingOrder) -> OrderStatus:
    """The status of an order that rests on the venue: partially filled once anything traded."""
    return OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.RESTING
