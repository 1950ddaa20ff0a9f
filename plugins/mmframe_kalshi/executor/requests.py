"""Order actions -> Kalshi request terms (pure functions of the action, the order as the runtime's
tracker knows it, and the executor's options)."""

from __future__ import annotations

from typing import Any

from mmframe.api import AmendOrder, Count, CreateOrder, WorkingOrder
from mmframe_kalshi.executor.shared import ExecutorOptions
from mmframe_kalshi.rest import CreateOrderRequest


def create_request(action: CreateOrder, options: ExecutorOptions, order_group_id: str | None) -> CreateOrderRequest:
    """The V2 create for ``action``, in the executor's order group."""
    return CreateOrderRequest(
        ticker=action.ticker,
        side=action.side,
        price=action.price,
        count=action.size,
        client_order_id=action.client_order_id,
        time_in_force="immediate_or_cancel" if action.immediate_or_cancel else "good_till_canceled",
        post_only=action.post_only and not action.immediate_or_cancel,
        reduce_only=action.reduce_only,
        self_trade_prevention_type=options.self_trade_prevention,
        order_group_id=order_group_id,
        cancel_order_on_pause=options.cancel_order_on_pause or None,
    )


def venue_filled(order: WorkingOrder) -> Count:
    """How much of ``order`` the venue has counted as filled, as far as we know: the fills seen, or
    the filled total the venue last reported with a remaining count, whichever is larger."""
    return max(order.filled, order.venue_filled or 0)


def amend_terms(order: WorkingOrder, action: AmendOrder) -> dict[str, Any]:
    """The amend request's terms. Kalshi's amend ``count`` is the order's new total: what it has
    filled plus the remaining size wanted."""
    return {
        "ticker": action.ticker,
        "side": action.side,
        "price": action.price,
        "total_count": venue_filled(order) + action.size,
        "client_order_id": action.client_order_id,
        "updated_client_order_id": action.new_client_order_id,
    }
