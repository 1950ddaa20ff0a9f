"""Order groups: the rolling 15 s filled-contracts breaker (API.md §5)."""

from __future__ import annotations

import pytest
from mmframe_sim.engine import ExchangeError, OrderGroupUpdated, OrderStatus

from tests.sim.sim_engine_helpers import IOC, ask, bid, build_exchange, of_type


def _group_events(events):
    return [e.event_type for e in of_type(events, OrderGroupUpdated)]


def test_order_group_when_fills_exceed_limit_cancels_its_orders_and_blocks_new_ones():
    x, _, events = build_exchange()
    group = x.create_order_group("alice", 500).order_group_id
    first = x.create_order("alice", bid("M", 40, 4, order_group_id=group)).order.order_id
    other = x.create_order("alice", bid("M", 30, 10, order_group_id=group)).order.order_id
    outside = x.create_order("alice", bid("M", 20, 1)).order.order_id
    x.create_order("bob", ask("M", 40, 4, time_in_force=IOC))  # 4 filled: not over 5
    assert x.order_group("alice", group).triggered is False
    assert x.order_group("alice", group).rolling_filled == 400
    x.create_order("bob", ask("M", 30, 2, time_in_force=IOC))  # 6 > 5: trigger
    view = x.order_group("alice", group)
    assert view.triggered is True and view.order_ids == ()
    assert x.get_order("alice", other).status is OrderStatus.CANCELED
    assert x.get_order("alice", first).status is OrderStatus.EXECUTED
    assert x.get_order("alice", outside).status is OrderStatus.RESTING
    with pytest.raises(ExchangeError, match="order_group_triggered"):
        x.create_order("alice", bid("M", 30, 1, order_group_id=group))
    x.reset_order_group("alice", group)
    assert x.order_group("alice", group).rolling_filled == 0
    x.create_order("alice", bid("M", 30, 1, order_group_id=group))
    assert _group_events(events) == ["created", "triggered", "reset"]


def test_order_group_when_taker_order_trips_it_remainder_is_canceled():
    x, _, _ = build_exchange()
    group = x.create_order_group("alice", 300).order_group_id
    x.create_order("bob", ask("M", 40, 2))
    x.create_order("carol", ask("M", 41, 2))
    x.create_order("bob", ask("M", 42, 5))
    result = x.create_order("alice", bid("M", 42, 9, order_group_id=group))
    assert result.fill_count == 400  # the fill that crossed the limit stands, then it stops
    assert result.order.status is OrderStatus.CANCELED


def test_order_group_when_window_rolls_past_15s_old_fills_drop_out():
    x, clock, _ = build_exchange()
    group = x.create_order_group("alice", 500).order_group_id
    x.create_order("bob", ask("M", 40, 20))
    x.create_order("alice", bid("M", 40, 4, order_group_id=group, time_in_force=IOC))
    clock.advance(15)
    x.create_order("alice", bid("M", 40, 4, order_group_id=group, time_in_force=IOC))
    view = x.order_group("alice", group)
    assert (view.triggered, view.rolling_filled) == (False, 400)


def test_order_group_when_triggered_manually_or_limit_lowered_cancels_orders():
    x, _, events = build_exchange()
    g1 = x.create_order_group("alice", 1000).order_group_id
    o1 = x.create_order("alice", bid("M", 30, 1, order_group_id=g1)).order.order_id
    x.trigger_order_group("alice", g1)
    assert x.get_order("alice", o1).status is OrderStatus.CANCELED

    g2 = x.create_order_group("alice", 1000).order_group_id
    x.create_order("bob", ask("M", 40, 3))
    x.create_order("alice", bid("M", 40, 3, order_group_id=g2, time_in_force=IOC))
    o2 = x.create_order("alice", bid("M", 30, 1, order_group_id=g2)).order.order_id
    x.set_order_group_limit("alice", g2, 200)  # below the 3 filled in the window
    assert x.get_order("alice", o2).status is OrderStatus.CANCELED
    assert x.order_group("alice", g2).triggered
    assert _group_events(events)[-2:] == ["limit_updated", "triggered"]


def test_order_group_when_deleted_cancels_orders_and_disappears():
    x, _, _ = build_exchange()
    group = x.create_order_group("alice", 1000).order_group_id
    oid = x.create_order("alice", bid("M", 30, 1, order_group_id=group)).order.order_id
    assert [g.order_group_id for g in x.order_groups("alice")] == [group]
    x.delete_order_group("alice", group)
    assert x.get_order("alice", oid).status is OrderStatus.CANCELED
    assert x.order_groups("alice") == []
    with pytest.raises(ExchangeError, match="not_found"):
        x.order_group("alice", group)


def test_order_group_when_limit_out_of_range_or_other_users_group_is_rejected():
    x, _, _ = build_exchange()
    with pytest.raises(ExchangeError, match="bad_request"):
        x.create_order_group("alice", 0)
    with pytest.raises(ExchangeError, match="bad_request"):
        x.create_order_group("alice", 1_000_001 * 100)
    group = x.create_order_group("alice", 100).order_group_id
    with pytest.raises(ExchangeError, match="not_found"):
        x.create_order("bob", bid("M", 30, 1, order_group_id=group))
