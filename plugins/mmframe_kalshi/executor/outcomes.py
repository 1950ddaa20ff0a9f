"""`Outcomes`: the venue's answers to our requests -> the runtime's order events.

Each answer is translated into an event (accepted, rejected, amended, decreased, canceled) and
published; the runtime's order tracker applies it. What an answer needs to know about the order it
concerns (its current client id, what has filled) is read from the tracker at that moment. The only
state touched here is request state: creates whose outcome is unknown, cancels deferred until their
create is acknowledged, and which orders keep a pre-made amend signature.
"""

from __future__ import annotations

from collections.abc import Callable

from mmframe.api import (
    AmendOrder,
    CancelOrder,
    Count,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderRejected,
    OrderStatus,
    WorkingOrder,
)
from mmframe_kalshi.errors import KalshiError, OutcomeUnknownError, WriteRefused
from mmframe_kalshi.executor.shared import Shared, logger
from mmframe_kalshi.models import OrderAmendedResult, OrderPlaced
from mmframe_kalshi.rest import CreateOrderRequest

GATE_CLOSED = "gate_closed"
"""`OrderRejected.code` of a create or amend the runtime's gate refused right before it was written."""


class Outcomes:
    """Publishes order events for the venue's answers.

    ``cancel_later(action)`` queues a cancel (a create cancelled in flight, now acknowledged);
    ``unknown_outcome()`` is told when a create's outcome became unknown (start settling it).
    """

    def __init__(
        self,
        shared: Shared,
        *,
        cancel_later: Callable[[CancelOrder], None],
        unknown_outcome: Callable[[], None],
    ) -> None:
        self._shared = shared
        self._cancel_later = cancel_later
        self._unknown_outcome = unknown_outcome

    # --- creates ------------------------------------------------------------------------------

    def created(self, request: CreateOrderRequest, result: OrderPlaced) -> None:
        """The venue's answer to one create (or what settling it found)."""
        cid = request.client_order_id
        pending = self._shared.pending
        error = result.error
        if isinstance(error, OutcomeUnknownError):
            logger.warning("create %s outcome unknown; will reconcile: %s", cid, error)
            pending.unknown[cid] = request.ticker
            self._unknown_outcome()
            return
        if error is not None:
            pending.deferred_cancels.discard(cid)
            pending.unknown.pop(cid, None)
            if isinstance(error, WriteRefused):
                self.rejected(cid, request.ticker, GATE_CLOSED, "not sent: the gate closed or the action aged", "create")
            else:
                self.rejected(cid, request.ticker, error.code or type(error).__name__, error.message, "create")
            return
        self.accepted(cid, request.ticker, result.order_id, result.remaining, result.filled)

    def accepted(self, client_order_id: str, ticker: str, order_id: str, remaining: Count, filled: Count) -> None:
        """The venue holds our create as ``order_id`` (from its REST answer, a WebSocket update seen
        first, or settling an unknown outcome). ``filled`` is the venue's count, already taken out
        of ``remaining``."""
        shared = self._shared
        pending = shared.pending
        known = shared.orders.get(client_order_id)
        pending.unknown.pop(client_order_id, None)
        if known is not None and known.order_id == order_id and not self.awaiting_acceptance(known):
            return  # already accepted (the WebSocket and the REST answer both told us)
        seen_filled = known.filled if known is not None else 0
        if remaining > 0:
            shared.rest.presign_order(order_id)  # its next amend goes out without signing
        shared.publish(
            OrderAccepted(
                ts_ns=shared.now_ns(),
                client_order_id=client_order_id,
                ticker=ticker,
                order_id=order_id,
                remaining=remaining,
                filled=filled,
            )
        )
        if remaining <= 0:
            pending.deferred_cancels.discard(client_order_id)
            if filled == 0 and seen_filled == 0:
                self.canceled(client_order_id, ticker, "not resting")
        elif client_order_id in pending.deferred_cancels:
            # Cancelled while the create was in flight: now that it rests, cancel it.
            pending.deferred_cancels.discard(client_order_id)
            self._cancel_later(CancelOrder(client_order_id=client_order_id, ticker=ticker))

    def awaiting_acceptance(self, order: WorkingOrder) -> bool:
        """Whether the runtime has not yet heard that the venue holds ``order``'s create (a fill may
        already have named its venue id), or a cancel waits for that."""
        return (
            order.order_id is None
            or order.status is OrderStatus.PENDING_NEW
            or order.client_order_id in self._shared.pending.deferred_cancels
        )

    def not_placed(self, client_order_id: str, ticker: str) -> None:
        """Settling a create whose outcome was unknown found no such order on the venue."""
        pending = self._shared.pending
        pending.unknown.pop(client_order_id, None)
        pending.deferred_cancels.discard(client_order_id)
        self.rejected(client_order_id, ticker, "not_placed", "create outcome settled: not on the venue", "create")

    # --- amends and decreases -----------------------------------------------------------------

    def amended(self, action: AmendOrder, order_id: str, result: OrderAmendedResult) -> None:
        """The venue applied ``action`` to the order it knew as ``order_id``."""
        remaining = action.size if result.remaining is None else result.remaining
        # An amend answer's fill_count may count only what the amend itself crossed (API.md does not
        # say), so it is not passed on as the order's filled total; the venue audit covers the rest.
        self.amend_applied(action, order_id, result.order_id or order_id, remaining)

    def amend_applied(self, action: AmendOrder, old_order_id: str, order_id: str, remaining: Count) -> None:
        shared = self._shared
        rest = shared.rest
        if order_id != old_order_id or remaining <= 0:
            rest.forget_order(old_order_id)
        if order_id != old_order_id and remaining > 0:
            rest.presign_order(order_id)
        shared.publish(
            OrderAmended(
                ts_ns=shared.now_ns(),
                client_order_id=action.client_order_id,
                ticker=action.ticker,
                new_client_order_id=action.new_client_order_id,
                price=action.price,
                remaining=remaining,
                order_id=order_id if order_id != old_order_id else None,
            )
        )

    def decreased(self, order: WorkingOrder, remaining: Count) -> None:
        shared = self._shared
        if remaining <= 0 and order.order_id is not None:
            shared.rest.forget_order(order.order_id)
        shared.publish(
            OrderDecreased(
                ts_ns=shared.now_ns(), client_order_id=order.client_order_id, ticker=order.ticker, remaining=remaining
            )
        )

    # --- cancels and closes -------------------------------------------------------------------

    def closed(self, order: WorkingOrder, reason: str) -> None:
        """``order`` no longer rests on the venue (cancelled by us or by the venue)."""
        if order.order_id is not None:
            self._shared.rest.forget_order(order.order_id)
        if order.status.is_live:
            self.canceled(order.client_order_id, order.ticker, reason)

    def already_closed(self, order: WorkingOrder, client_order_id: str) -> None:
        """A cancel for an order the tracker knows is closed: it is as cancelled as it gets. Reported
        cancelled unless it traded out (its fills said so already)."""
        if order.remaining > 0 or order.filled == 0:
            self.canceled(client_order_id, order.ticker, "already closed")

    def finished(self, order: WorkingOrder) -> None:
        """``order`` traded out or closed: stop keeping amend signatures ready for it."""
        if order.order_id is not None:
            self._shared.rest.forget_order(order.order_id)

    def canceled(self, client_order_id: str, ticker: str, reason: str) -> None:
        shared = self._shared
        shared.publish(
            OrderCanceled(ts_ns=shared.now_ns(), client_order_id=client_order_id, ticker=ticker, reason=reason)
        )

    # --- rejects ------------------------------------------------------------------------------

    def failed(self, client_order_id: str, ticker: str, error: KalshiError, action: str) -> None:
        """A request for ``action`` failed with ``error`` (a refusal by the gate included)."""
        if isinstance(error, WriteRefused):
            self.rejected(client_order_id, ticker, GATE_CLOSED, "not sent: the gate closed or the action aged", action)
        else:
            self.rejected(client_order_id, ticker, error.code or "error", error.message, action)

    def rejected(self, client_order_id: str, ticker: str, code: str, message: str, action: str) -> None:
        shared = self._shared
        shared.publish(
            OrderRejected(
                ts_ns=shared.now_ns(),
                client_order_id=client_order_id,
                ticker=ticker,
                code=code,
                message=message,
                action=action,
            )
        )
