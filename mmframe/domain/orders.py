"""Working orders and their lifecycle, keyed by ``client_order_id``."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mmframe.domain.money import Count, Price
from mmframe.domain.quote import BookSide


class OrderStatus(enum.StrEnum):
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
        return self in (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL) 


_LIVE = frozenset(
    {OrderStatus.PENDING_NEW, OrderStatus.RESTING, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL}
)


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


class OrderTracker:
    """Our working orders by ``client_order_id``, moved through their lifecycle by order events.

    Safe under races: a fill for an order being amended or cancelled is applied to whichever
    client id the venue names (old or new); events for unknown or finished orders are ignored and
    reported by returning False.
    """

    def __init__(self) -> None:
        raise NotImplementedError

    def submitted(self, action: object, ts_ns: int) -> None:
        """Record an action handed to the executor (CreateOrder adds a pending order; amend,
        decrease and cancel mark the order pending)."""
        raise NotImplementedError

    def apply(self, event: object) -> bool:
        """Apply an `OrderEvent` (accepted, rejected, amended, decreased, canceled, filled)."""
        raise NotImplementedError

    def adopt(self, order: WorkingOrder) -> None:
        """Track an order that already rests on the venue (startup reconciliation)."""
        raise NotImplementedError

    def get(self, client_order_id: str) -> WorkingOrder | None:
        raise NotImplementedError

    def working(self, ticker: str) -> list[WorkingOrder]:
        """Live orders in ``ticker``."""
        raise NotImplementedError

    def live(self) -> list[WorkingOrder]:
        """Every live order."""
        raise NotImplementedError
