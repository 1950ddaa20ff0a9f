"""The order tracker: lifecycle, races between fills and amends/cancels, duplicates, unknown ids."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert tracker.get("a") == WorkingOrder(
        "a", T, BookSide.BID, 5000, 0, OrderStatus.CANCELED, "o1", created_ns=1, updated_ns=4
    )
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


def test_tracker_when_cancelled_before_accept_and_create_rejected_then_rejected() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=100), 1)
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 2)
    assert tracker.apply(OrderRejected(ts_ns=3, client_order_id="a", ticker=T, code="x", message="y"))
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.REJECTED
    assert tracker.live() == []


def test_tracker_when_cancelled_before_accept_then_accept_and_cancel_rejection_leave_it_resting() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="a", ticker=T, side=BookSide.BID, price=5000, size=100), 1)
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 2)
    assert tracker.apply(OrderAccepted(ts_ns=3, client_order_id="a", ticker=T, order_id="o1"))
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.PENDING_CANCEL
    rejected = OrderRejected(ts_ns=4, client_order_id="a", ticker=T, code="x", message="y", action="cancel")
    assert tracker.apply(rejected)
    assert tracker.get("a") == WorkingOrder(
        "a", T, BookSide.BID, 5000, 100, OrderStatus.RESTING, "o1", created_ns=1, updated_ns=4
    )


def test_tracker_when_filled_while_cancel_pending_and_cancel_rejected_then_partially_filled() -> None:
    tracker = _resting()
    tracker.submitted(CancelOrder(client_order_id="a", ticker=T), 3)
    assert tracker.apply(_fill("a", 100))
    rejected = OrderRejected(ts_ns=6, client_order_id="a", ticker=T, code="x", message="y", action="cancel")
    assert tracker.apply(rejected)
    order = tracker.get("a")
    assert order is not None and order.status is OrderStatus.PARTIALLY_FILLED


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
    if fill_id == "a":
        assert order is not None and order.remaining == 800 and order.pending_change
    else:  # the venue named the amended id: the amend took effect (800), then 200 filled
        assert order is not None and order.remaining == 600 and not order.pending_change
    acknowledged = tracker.apply(
        OrderAmended(
            ts_ns=4, client_order_id="a", ticker=T, new_client_order_id="b", price=5100, remaining=800
        )
    )
    assert acknowledged == (fill_id == "a")  # already applied when the fill named "b"
    assert tracker.apply(_fill(fill_id, 100, "t2"))  # after it
    # A fill named by the new id happened after the amend took effect, so it came out of the amended
    # size (and the late acknowledgement's remaining is older news); a fill by the old id happened
    # before, and the acknowledged remaining is taken as the venue's word.
    expected_remaining = 500 if fill_id == "b" else 700
    assert (order.client_order_id, order.remaining, order.filled) == ("b", expected_remaining, 300)


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


# --- property: any interleaving of actions and venue events keeps the tracker consistent -------

_steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "create",
                "amend",
                "decrease",
                "cancel",
                "accept",
                "fill",
                "amended",
                "decreased",
                "canceled",
                "reject",
            ]
        ),
        st.integers(0, 3),  # which order (by creation index)
        st.integers(1, 600),  # a size or count
        st.booleans(),  # name the order by its first id (else by its newest id)
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_steps)
def test_tracker_when_random_events_then_state_stays_consistent(
    steps: list[tuple[str, int, int, bool]],
) -> None:
    tracker = OrderTracker()
    names: list[list[str]] = []  # every client id each order was given, oldest first
    fills: dict[int, int] = {}
    serial = itertools.count()
    for ts, (kind, index, amount, by_first) in enumerate(steps):
        if kind == "create":
            cid = f"c{len(names)}"
            names.append([cid])
            tracker.submitted(
                CreateOrder(client_order_id=cid, ticker=T, side=BookSide.BID, price=5000, size=500), ts
            )
            continue
        if index >= len(names):
            continue
        ids = names[index]
        cid = ids[0] if by_first else ids[-1]
        if kind == "amend":
            new = f"{ids[0]}-{next(serial)}"
            ids.append(new)
            tracker.submitted(
                AmendOrder(
                    client_order_id=cid,
                    new_client_order_id=new,
                    ticker=T,
                    side=BookSide.BID,
                    price=5100,
                    size=amount,
                ),
                ts,
            )
        elif kind == "decrease":
            tracker.submitted(DecreaseOrder(client_order_id=cid, ticker=T, size=amount), ts)
        elif kind == "cancel":
            tracker.submitted(CancelOrder(client_order_id=cid, ticker=T), ts)
        elif kind == "accept":
            tracker.apply(OrderAccepted(ts_ns=ts, client_order_id=cid, ticker=T, order_id=f"o{index}"))
        elif kind == "fill":
            if tracker.apply(_fill(cid, amount, trade_id=f"t{ts}", ts=ts)):
                fills[index] = fills.get(index, 0) + amount
        elif kind == "amended":
            tracker.apply(
                OrderAmended(
                    ts_ns=ts,
                    client_order_id=ids[-2] if len(ids) > 1 else cid,
                    ticker=T,
                    new_client_order_id=ids[-1],
                    price=5100,
                    remaining=amount,
                )
            )
        elif kind == "decreased":
            tracker.apply(OrderDecreased(ts_ns=ts, client_order_id=cid, ticker=T, remaining=amount))
        elif kind == "canceled":
            tracker.apply(OrderCanceled(ts_ns=ts, client_order_id=cid, ticker=T))
        else:
            action = ("create", "amend", "decrease", "cancel")[amount % 4]
            tracker.apply(
                OrderRejected(ts_ns=ts, client_order_id=cid, ticker=T, code="x", message="y", action=action)
            )

    live = tracker.live()
    assert {id(o) for o in live} == {id(o) for o in tracker.working(T)}
    assert len({o.client_order_id for o in live}) == len(live)
    for index, ids in enumerate(names):
        order = tracker.get(ids[0])
        assert order is not None
        assert order.remaining >= 0
        assert order.filled == fills.get(index, 0)
        assert order.status.is_live == any(o is order for o in live)
        assert order.client_order_id in ids
        assert tracker.get(order.client_order_id) is order
        if not order.status.is_live:
            assert not order.pending_change and order.pending_price is None
        if order.status in (OrderStatus.RESTING, OrderStatus.PARTIALLY_FILLED):
            assert order.remaining > 0


def test_tracker_when_fill_arrives_after_an_ack_that_already_counted_it_subtracts_it_once() -> None:
    # The create filled 4 contracts at once; the venue answered remaining 6 / filled 4 before the
    # fill's own event arrived. A later partial fill of 2 must leave 4 resting, not mark it executed.
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="c", ticker=T, side=BookSide.BID, price=5000, size=1000), 1)
    tracker.apply(
        OrderAccepted(ts_ns=2, client_order_id="c", ticker=T, order_id="o1", remaining=600, filled=400)
    )

    tracker.apply(_fill("c", 400, "t1"))
    order = tracker.get("c")
    assert order is not None and order.remaining == 600 and order.status.is_live
    tracker.apply(_fill("c", 200, "t2"))

    assert order.remaining == 400 and order.status.is_live and order.filled == 600


def test_tracker_when_fill_arrives_before_an_ack_with_filled_count_remaining_is_exact() -> None:
    tracker = OrderTracker()
    tracker.submitted(CreateOrder(client_order_id="c", ticker=T, side=BookSide.BID, price=5000, size=1000), 1)
    tracker.apply(_fill("c", 400, "t1"))

    tracker.apply(
        OrderAccepted(ts_ns=2, client_order_id="c", ticker=T, order_id="o1", remaining=600, filled=400)
    )
    tracker.apply(_fill("c", 100, "t2"))

    order = tracker.get("c")
    assert order is not None and order.remaining == 500 and order.filled == 500


def test_tracker_when_live_orders_change_tells_its_watchers_the_ticker() -> None:
    tracker = OrderTracker()
    heard: list[str] = []
    tracker.watch(heard.append)
    tracker.submitted(CreateOrder(client_order_id="c1", ticker=T, side=BookSide.BID, price=5000, size=1000), 1)
    tracker.apply(OrderAccepted(ts_ns=2, client_order_id="c1", ticker=T, order_id="o1"))
    tracker.submitted(DecreaseOrder(client_order_id="c1", ticker=T, size=500), 3)
    tracker.apply(OrderDecreased(ts_ns=4, client_order_id="c1", ticker=T, remaining=500))
    tracker.apply(_fill("c1", 500))
    tracker.adopt(WorkingOrder("c2", "OTHER", BookSide.ASK, 6000, 100, OrderStatus.RESTING))
    assert heard == [T, T, T, T, T, "OTHER"]
    tracker.apply(_fill("c1", 100, trade_id="t2"))  # finished: ignored, nothing changed
    assert heard == [T, T, T, T, T, "OTHER"]
