"""The order bookkeeping every simulated venue shares (backtests, paper trading): create, amend,
decrease and cancel turned into the order events a venue would send, and fills that shrink or
finish an order.

Subclasses decide what a new or moved order meets (`_placed`), when orders fill, and at what fee
(`mmframe.domain.queue_fills` is the queue-aware model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder, OrderAction
from mmframe.domain.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
)
from mmframe.domain.money import Count, Price
from mmframe.domain.quote import BookSide


@dataclass(slots=True)
class SimOrder:
    """One of our orders resting on the simulated venue.

    ``queue`` is the size resting ahead of it at its price (queue-aware models only); the
    ``credit``/``cut`` fields pair trades with the book decreases they caused (see
    `mmframe.domain.queue_fills`).
    """

    client_order_id: str
    order_id: str
    ticker: str
    side: BookSide
    price: Price
    remaining: Count
    queue: Count = 0
    credit: Count = 0
    credit_ts: int = 0
    cut: Count = 0
    cut_queue: Count = 0
    cut_ts: int = 0


class SimulatedOrders:
    """Our resting orders on a simulated venue, and the events their actions produce.

    ``id_prefix`` starts the venue order ids and trade ids it makes up (``<prefix>-order-N``,
    ``<prefix>-trade-N``): a paper venue picks one per run so its trade ids stay unique in a journal.
    """

    def __init__(self, id_prefix: str = "bt") -> None:
        self.id_prefix = id_prefix
        self.orders: dict[str, SimOrder] = {}
        self._order_seq = 0
        self._trade_seq = 0

    def reset_orders(self) -> None:
        """Forget every order (a new run)."""
        self.orders = {}
        self._order_seq = 0
        self._trade_seq = 0

    # --- actions -----------------------------------------------------------------------------------

    def execute(self, actions: Sequence[OrderAction], now_ns: int) -> list[Event]:
        """Apply ``actions`` in order; the order events a venue would answer with."""
        out: list[Event] = []
        for action in actions:
            if isinstance(action, CreateOrder):
                self._create(action, now_ns, out)
            elif isinstance(action, AmendOrder):
                self._amend(action, now_ns, out)
            elif isinstance(action, DecreaseOrder):
                self._decrease(action, now_ns, out)
            elif isinstance(action, CancelOrder):
                self._cancel(action, now_ns, out)
            else:
                raise TypeError(f"not an order action: {action!r}")
        return out

    def _create(self, action: CreateOrder, now: int, out: list[Event]) -> None:
        coid = action.client_order_id
        if coid in self.orders:
            out.append(_rejected(action.client_order_id, action.ticker, now, "create", "order_already_exists",
                                 "an order with this client_order_id is already resting"))
            return
        if action.size <= 0:
            out.append(_rejected(coid, action.ticker, now, "create", "invalid_parameters", "size must be positive"))
            return
        self._order_seq += 1
        order = SimOrder(coid, f"{self.id_prefix}-order-{self._order_seq}", action.ticker, action.side, action.price, action.size)
        reason = self._crosses(order) if action.post_only else None
        if reason is not None:
            out.append(_rejected(coid, action.ticker, now, "create", "post_only_cross", reason))
            return
        out.append(OrderAccepted(ts_ns=now, client_order_id=coid, ticker=action.ticker,
                                 order_id=order.order_id, remaining=order.remaining))
        if not action.post_only:
            self._take(order, now, out)
        if order.remaining <= 0:
            return
        if action.immediate_or_cancel:
            out.append(OrderCanceled(ts_ns=now, client_order_id=coid, ticker=order.ticker,
                                     reason="immediate_or_cancel"))
            return
        self._placed(order)
        self.orders[coid] = order

    def _amend(self, action: AmendOrder, now: int, out: list[Event]) -> None:
        order = self.orders.get(action.client_order_id)
        if order is None:
            out.append(_rejected(action.client_order_id, action.ticker, now, "amend", "not_found",
                                 "no resting order with this client_order_id"))
            return
        if action.size <= 0:
            out.append(_rejected(action.client_order_id, action.ticker, now, "amend", "invalid_parameters",
                                 "size must be positive"))
            return
        moved = SimOrder(action.new_client_order_id, order.order_id, order.ticker, order.side, action.price,
                         action.size)
        reason = self._crosses(moved)
        if reason is not None:
            out.append(_rejected(action.client_order_id, action.ticker, now, "amend", "post_only_cross", reason))
            return
        del self.orders[order.client_order_id]
        if moved.price == order.price and moved.remaining <= order.remaining:
            # Same price and no larger: the venue keeps the order's place in the queue.
            moved.queue, moved.credit, moved.credit_ts = order.queue, order.credit, order.credit_ts
            moved.cut, moved.cut_queue, moved.cut_ts = order.cut, order.cut_queue, order.cut_ts
        else:
            self._placed(moved)
        self.orders[moved.client_order_id] = moved
        out.append(OrderAmended(ts_ns=now, client_order_id=action.client_order_id, ticker=order.ticker,
                                new_client_order_id=moved.client_order_id, price=moved.price,
                                remaining=moved.remaining))

    def _decrease(self, action: DecreaseOrder, now: int, out: list[Event]) -> None:
        order = self.orders.get(action.client_order_id)
        if order is None:
            out.append(_rejected(action.client_order_id, action.ticker, now, "decrease", "not_found",
                                 "no resting order with this client_order_id"))
            return
        if action.size <= 0:
            del self.orders[order.client_order_id]
            out.append(OrderCanceled(ts_ns=now, client_order_id=order.client_order_id, ticker=order.ticker,
                                     reason="decreased to zero"))
            return
        order.remaining = min(order.remaining, action.size)
        out.append(OrderDecreased(ts_ns=now, client_order_id=order.client_order_id, ticker=order.ticker,
                                  remaining=order.remaining))

    def _cancel(self, action: CancelOrder, now: int, out: list[Event]) -> None:
        order = self.orders.pop(action.client_order_id, None)
        if order is None:
            out.append(_rejected(action.client_order_id, action.ticker, now, "cancel", "not_found",
                                 "no resting order with this client_order_id"))
            return
        out.append(OrderCanceled(ts_ns=now, client_order_id=order.client_order_id, ticker=order.ticker,
                                 reason="canceled"))

    # --- what subclasses model ------------------------------------------------------------------------

    def _crosses(self, order: SimOrder) -> str | None:
        """Why a post-only ``order`` would take liquidity (None when it would rest)."""
        return None

    def _take(self, order: SimOrder, now: int, out: list[Event]) -> None:
        """Fill a non-post-only order against the book as a taker (default: nothing to take)."""

    def _placed(self, order: SimOrder) -> None:
        """``order`` joins the book at its price (set its queue position)."""

    # --- fills ---------------------------------------------------------------------------------------

    def fill(self, order: SimOrder, count: Count, price: Price, now: int, fee: Price, is_taker: bool) -> OrderFilled:
        """Fill ``count`` of ``order`` at ``price``; a resting order that is done leaves the book."""
        count = min(count, order.remaining)
        order.remaining -= count
        if order.remaining <= 0:
            self.orders.pop(order.client_order_id, None)
        self._trade_seq += 1
        return OrderFilled(
            ts_ns=now, client_order_id=order.client_order_id, ticker=order.ticker, order_id=order.order_id,
            trade_id=f"{self.id_prefix}-trade-{self._trade_seq}", side=order.side, price=price, count=count, fee=fee,
            is_taker=is_taker,
        )


def _rejected(coid: str, ticker: str, now: int, action: str, code: str, message: str) -> OrderRejected:
    return OrderRejected(ts_ns=now, client_order_id=coid, ticker=ticker, code=code, message=message, action=action)
