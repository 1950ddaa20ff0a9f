"""The order tracker: lifecycle, races between fills and amends/cancels, duplicates, unknown ids."""

from __future__ import annotations

import pytest

from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder
from mmframe.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
    TradeReported,
)
from mmframe.domain.orders import OrderStatus, OrderTracker, WorkingOrder
from mmframe.domain.quote import BookSide

T = "KXHIGHNY-26NOV27-T60"


def _fill(cid: str, count: int, trade_id: str = "t1", ts: int = 5) -> OrderFilled:
    return OrderFilled(
        ts_ns=ts,
        client_order_id=cid,
        ticker=T,
        order_id="o1",
        trade_id=trade_id,
        side=BookSide.BID,
        price=5000,
        count=count,
        fee=0,
        is_taker=False,
    )


def _resting(size: int = 1000) -> OrderTracker:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=size), 1)
    assert tracker.apply(OrderAccepted(ts_ns=2, client_order_id="a", ticker=T, order_id="o1"))
    return tracker


def test_tracker_when_create_submitted_then_pending_new_and_live() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.ASK, price=6000, size=500), 7)
    order = tracker.get("a")
    assert order is not None
    assert order.status is OrderStatus.PENDING_NEW
    assert (order.side, order.price, order.remaining, order.created_ns) == (BookSide.ASK, 6000, 500, 7)
    assert tracker.working(T) == [order]
    assert tracker.live() == [order]
    assert tracker.working("OTHER") == []


def test_tracker_when_accepted_then_resting_with_order_id() -> None:
    tracker = _resting()
    order = tracker.get("a")
    assert order is not None
    assert order.status is OrderStatus.RESTING
    assert order.order_id == "o1"
    assert order.updated_ns == 2


def test_tracker_when_fills_then_partially_filled_then_executed() -> None:
    tracker = _resting()
    assert tracker.apply(_fill("a", 400, "t1"))
    order = tracker.get("a")
    assert order is not None
    assert (order.status, order.remaining, order.filled) == (OrderStatus.PARTIALLY_FILLED, 600, 400)
    assert tracker.apply(_fill("a", 600, "t2"))
    assert order.status is OrderStatus.EXECUTED
    assert tracker.working(T) == []
    assert tracker.get("a") is order  # finished orders stay known


def test_tracker_when_duplicate_fill_then_ignored() -> None:
    tracker = _resting()
    assert tracker.apply(_fill("a", 400, "t1"))
    assert not tracker.apply(_fill("a", 400, "t1"))
    order = tracker.get("a")
    assert order is not None and order.filled == 400


def test_tracker_when_unknown_id_then_returns_false() -> None:
    tracker = _resting()
    assert not tracker.apply(_fill("nope", 100))
    assert not tracker.apply(OrderCanceled(ts_ns=1, client_order_id="nope", ticker=T))
    assert not tracker.apply(TradeReported(ts_ns=1, ticker=T, price=1, count=1, taker_side=BookSide.BID))
    tracker.submitted(CancelOrder(client_order_id="nope", ticker=T), 3)  # ignored, no error


def test_tracker_when_fill_before_accept_then_accept_keeps_partial_fill() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=1000), 1)
    assert tracker.apply(_fill("a", 300))
    assert tracker.apply(OrderAccepted(ts_ns=2, client_order_id="a", ticker=T, order_id="o1", remaining=1000))
    order = tracker.get("a")
    assert order is not None
    assert (order.status, order.remaining) == (OrderStatus.PARTIALLY_FILLED, 700)
    assert not tracker.apply(OrderAccepted(ts_ns=3, client_order_id="a", ticker=T, order_id="o1"))


def test_tracker_when_create_rejected_then_rejected_and_not_live() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=100), 1)
    assert tracker.apply(
        OrderRejected(ts_ns=2, client_order_id="a", ticker=T, code="invalid_price", message="x")
    )
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.REJECTED
    assert tracker.live() == []
    assert not tracker.apply(OrderAccepted(ts_ns=3, client_order_id="a", ticker=T, order_id="o1"))


def test_tracker_when_cancel_submitted_then_pending_cancel_until_canceled() -> None:
    tracker = _resting()
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 3)
    order = tracker.get("a")
    assert order is not None
    assert order.status is OrderStatus.PENDING_CANCEL
    assert order.status.is_pending and order.is_busy
    assert tracker.apply(OrderCanceled(ts_ns=4, client_order_id="a", ticker=T))
    assert order.status is OrderStatus.CANCELED
    assert not tracker.apply(OrderCanceled(ts_ns=5, client_order_id="a", ticker=T))  # duplicate


def test_tracker_when_cancel_rejected_then_previous_state_restored() -> None:
    tracker = _resting()
    assert tracker.apply(_fill("a", 100))
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 3)
    rejected = OrderRejected(ts_ns=4, client_order_id="a", ticker=T, code="x", message="y", action="cancel")
    assert tracker.apply(rejected)
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.PARTIALLY_FILLED
    assert not tracker.apply(rejected)


def test_tracker_when_fill_during_pending_cancel_then_applied_and_still_pending() -> None:
    tracker = _resting()
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 3)
    assert tracker.apply(_fill("a", 100))
    order = tracker.get("a")
    assert order is not None
    assert (order.status, order.remaining) == (OrderStatus.PENDING_CANCEL, 900)
    assert tracker.apply(_fill("a", 900, "t2"))
    assert order.status is OrderStatus.EXECUTED


def test_tracker_when_amend_applied_then_order_known_by_new_id() -> None:
    tracker = _resting()
    amend = AmendOrder(
        client_order_id="a", new_client_order_id="b", ticker=T, side=BookSide.BID, price=5100, size=800
    )
    tracker.submitted(amend, 3)
    order = tracker.get("a")
    assert order is not None and order.pending_change and order.is_busy
    assert tracker.apply(
        OrderAmended(
            ts_ns=4, client_order_id="a", ticker=T, new_client_order_id="b", price=5100, remaining=800
        )
    )
    assert tracker.get("b") is order
    assert tracker.get("a") is order
    assert (order.client_order_id, order.price, order.remaining) == ("b", 5100, 800)
    assert not order.pending_change
    assert [o.client_order_id for o in tracker.working(T)] == ["b"]
    duplicate = OrderAmended(
        ts_ns=5, client_order_id="a", ticker=T, new_client_order_id="b", price=5100, remaining=800
    )
    assert not tracker.apply(duplicate)


@pytest.mark.parametrize("fill_id", ["a", "b"])
def test_tracker_when_fill_races_amend_then_applied_by_old_or_new_id(fill_id: str) -> None:
    tracker = _resting()
    amend = AmendOrder(
        client_order_id="a", new_client_order_id="b", ticker=T, side=BookSide.BID, price=5100, size=800
    )
    tracker.submitted(amend, 3)
    assert tracker.apply(_fill(fill_id, 200))  # before the amend's answer
    order = tracker.get("a")
    assert order is not None and order.remaining == 800 and order.pending_change
    assert tracker.apply(
        OrderAmended(
            ts_ns=4, client_order_id="a", ticker=T, new_client_order_id="b", price=5100, remaining=800
        )
    )
    assert tracker.apply(_fill(fill_id, 100, "t2"))  # after it
    assert (order.client_order_id, order.remaining, order.filled) == ("b", 700, 300)


def test_tracker_when_amend_rejected_then_change_cleared_and_old_state_kept() -> None:
    tracker = _resting()
    amend = AmendOrder(
        client_order_id="a", new_client_order_id="b", ticker=T, side=BookSide.BID, price=5100, size=800
    )
    tracker.submitted(amend, 3)
    assert tracker.apply(
        OrderRejected(ts_ns=4, client_order_id="a", ticker=T, code="x", message="y", action="amend")
    )
    order = tracker.get("a")
    assert order is not None
    assert (order.client_order_id, order.price, order.remaining, order.pending_change) == (
        "a",
        5000,
        1000,
        False,
    )
    assert tracker.get("b") is None
    assert not tracker.apply(_fill("b", 100))


def test_tracker_when_decrease_applied_then_remaining_shrinks() -> None:
    tracker = _resting()
    tracker.submitted(DecreaseOrder(client_order_id="a", ticker=T, size=400), 3)
    order = tracker.get("a")
    assert order is not None and order.pending_change
    assert tracker.apply(OrderDecreased(ts_ns=4, client_order_id="a", ticker=T, remaining=400))
    assert (order.remaining, order.pending_change, order.status) == (400, False, OrderStatus.RESTING)
    assert not tracker.apply(OrderDecreased(ts_ns=5, client_order_id="a", ticker=T, remaining=400))


def test_tracker_when_decrease_rejected_then_restored() -> None:
    tracker = _resting()
    tracker.submitted(DecreaseOrder(client_order_id="a", ticker=T, size=400), 3)
    rejected = OrderRejected(ts_ns=4, client_order_id="a", ticker=T, code="x", message="y", action="decrease")
    assert tracker.apply(rejected)
    order = tracker.get("a")
    assert order is not None and (order.remaining, order.pending_change) == (1000, False)


def test_tracker_when_decreased_to_zero_then_canceled() -> None:
    tracker = _resting()
    tracker.submitted(DecreaseOrder(client_order_id="a", ticker=T, size=0), 3)
    assert tracker.apply(OrderDecreased(ts_ns=4, client_order_id="a", ticker=T, remaining=0))
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.CANCELED


def test_tracker_when_order_adopted_then_live() -> None:
    tracker = OrderTracker()
    order = WorkingOrder("x", T, BookSide.ASK, 7000, 500, status=OrderStatus.RESTING, order_id="o9")
    tracker.adopt(order)
    assert tracker.working(T) == [order]
    tracker.submitted(CancelOrder(client_order_id="x", ticker=T), 1)
    assert order.status is OrderStatus.PENDING_CANCEL


def test_tracker_when_create_retried_with_same_id_then_one_order() -> None:
    tracker = OrderTracker()
    create = CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=100)
    tracker.submitted(create, 1)
    tracker.submitted(create, 2)
    assert len(tracker.live()) == 1


def test_tracker_when_not_an_action_submitted_raises() -> None:
    with pytest.raises(TypeError, match="not an order action"):
        OrderTracker().submitted("cancel everything", 1)


def test_tracker_when_many_orders_finish_then_old_ones_forgotten() -> None:
    tracker = OrderTracker()
    for i in range(10_050):
        tracker.submitted(
            CreateOrder(client_order_id=f"c{i}", ticker=T, side=BookSide.BID, price=100, size=1), i
        )
        tracker.apply(OrderCanceled(ts_ns=i, client_order_id=f"c{i}", ticker=T))
    assert tracker.get("c0") is None
    assert tracker.get("c10049") is not None
