"""`AccountStream`: the account's WebSocket channels -> the runtime's events.

``fill`` -> `OrderFilled` under the order's current client id (after amends, the tracker's);
``user_order`` -> the acceptance of a create seen here before its REST answer, and cancels the venue
made; ``market_position`` -> `PositionReported`; ``order_group_updates`` -> `OrderGroupTriggered`.
Fills are published as they come: a fill reported twice (here and by a REST reconciliation) is
booked once by the runtime, which drops repeated trade ids.
"""

from __future__ import annotations

import dataclasses

from mmframe.api import OrderFilled, OrderGroupTriggered, OrderStatus
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import MalformedMessageError
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.shared import Shared
from mmframe_kalshi.models import Order
from mmframe_kalshi.parsing import Frame

ACCOUNT_CHANNELS = ("fill", "user_orders", "market_positions")
ACCOUNT_FRAMES = ("fill", "user_order", "market_position", "order_group_updates")


class AccountStream:
    """Translates account frames (a `KalshiSession` frame listener)."""

    def __init__(self, shared: Shared, outcomes: Outcomes) -> None:
        self._shared = shared
        self._outcomes = outcomes
        self.last_fill_ns = 0
        """The newest fill seen (exchange time): a reconciliation reads fills from there on."""

    def on_frame(self, frame: Frame, received_ns: int) -> None:
        try:
            if frame.type == "fill":
                self.fill(parsing.fill(frame.msg, received_ns))
            elif frame.type == "user_order":
                self._user_order(parsing.user_order(frame.msg))
            elif frame.type == "market_position":
                event = parsing.market_position(frame.msg, received_ns)
                if event.ticker in self._shared.markets:
                    self._shared.publish(event)
            elif frame.type == "order_group_updates":
                self._group_update(parsing.order_group_update(frame.msg))
        except MalformedMessageError as exc:
            self._shared.malformed += 1
            self._shared.repeats.log(("malformed", frame.type), "malformed Kalshi %s frame dropped: %s", frame.type, exc)

    def fill(self, fill: OrderFilled) -> None:
        """Publish ``fill`` with the client id the tracker knows its order by now."""
        shared = self._shared
        if fill.ticker not in shared.markets:
            return
        order = shared.orders.by_order_id(fill.order_id) if fill.order_id else None
        if order is not None and order.client_order_id != fill.client_order_id:
            fill = dataclasses.replace(fill, client_order_id=order.client_order_id)
        self.last_fill_ns = max(self.last_fill_ns, fill.ts_ns)
        shared.publish(fill)
        if order is not None and not order.status.is_live:
            self._outcomes.finished(order)

    def _user_order(self, update: Order) -> None:
        orders = self._shared.orders
        order = orders.by_order_id(update.order_id) or (
            orders.get(update.client_order_id) if update.client_order_id else None
        )
        if order is None:
            return
        if self._outcomes.awaiting_acceptance(order):
            # Our create, seen here before its REST answer (or after an unknown outcome).
            if update.status in ("resting", "executed"):
                remaining = update.remaining if update.is_resting else 0
                self._outcomes.accepted(order.client_order_id, order.ticker, update.order_id, remaining, update.filled)
            return
        if update.status == "canceled" and order.status.is_live:
            requested = order.status is OrderStatus.PENDING_CANCEL
            self._outcomes.closed(order, "canceled" if requested else "canceled by the venue")
        elif update.status == "executed":
            self._outcomes.finished(order)

    def _group_update(self, update: parsing.OrderGroupUpdate) -> None:
        shared = self._shared
        if update.order_group_id != shared.order_group_id or update.event_type != "triggered":
            return
        shared.group_triggered = True
        limit = shared.options.contracts_limit or 0
        shared.publish(
            OrderGroupTriggered(
                ts_ns=shared.now_ns(),
                order_group_id=update.order_group_id,
                detail=(
                    f"Kalshi order group {update.order_group_id} triggered: more than "
                    f"{limit / 100:g} contracts filled within 15 s; its resting orders were cancelled"
                ),
            )
        )
