"""Order entry and matching rules of the simulated exchange (API.md §4, §7)."""

from __future__ import annotations

import pytest
from mmframe_sim.engine import (
    AmendRequest,
    BookLevelChanged,
    ExchangeError,
    FillExecuted,
    OrderStatus,
    OrderUpdated,
    PositionUpdated,
    SelfTradePrevention,
    Side,
    TickerChanged,
    TradeExecuted,
)

from tests.sim.sim_engine_helpers import CONTRACT, DOLLAR, FOK, IOC, ask, bid, build_exchange, of_type


def _raises(code: str, status: int = 400):
    return pytest.raises(ExchangeError, match=code)


def test_order_when_nothing_crosses_rests_and_locks_collateral():
    x, _, events = build_exchange()
    result = x.create_order("alice", bid("M", 50, 10))
    assert result.order.status is OrderStatus.RESTING
    assert result.fill_count == 0 and result.remaining_count == 10 * CONTRACT
    assert x.orderbook("M").yes == ((5000, 1000),)
    # $5.00 cost + $0.175 worst-case taker fee + 1 cent rounding allowance
    assert x.balance("alice").available == 1_000 * DOLLAR - 51_850
    delta = of_type(events, BookLevelChanged)[0]
    assert (delta.leg, delta.price, delta.delta, delta.size, delta.user_id) == (
        "yes",
        5000,
        1000,
        1000,
        "alice",
    )


def test_order_when_crossing_fills_at_resting_price_with_yes_plus_no_one_dollar():
    x, _, events = build_exchange()
    x.create_order("alice", bid("M", 50, 10))
    result = x.create_order("bob", ask("M", 40, 10, time_in_force=IOC))
    assert result.order.status is OrderStatus.EXECUTED
    assert result.fill_count == 1000 and result.average_fill_price == 500_000
    fills = [e.fill for e in of_type(events, FillExecuted)]
    assert {(f.user_id, f.price, f.no_price, f.is_taker, f.post_position) for f in fills} == {
        ("alice", 5000, 5000, False, 1000),
        ("bob", 5000, 5000, True, -1000),
    }
    assert [f.fee for f in fills if f.is_taker] == [1750]  # 0.07 x 10 x 0.5 x 0.5 = $0.175
    trade = of_type(events, TradeExecuted)[0].trade
    assert (trade.price, trade.no_price, trade.count, trade.taker_side) == (5000, 5000, 1000, Side.ASK)
    # the taker's cash change (-5.175) is floored to the cent: $5.18
    assert x.balance("bob").available == 1_000 * DOLLAR - 51_800
    assert x.balance("alice").available == 1_000 * DOLLAR - 50_000
    assert x.orderbook("M").yes == ()
    assert x.total_money() == x.total_deposits()


def test_order_when_bid_crosses_several_levels_fills_best_first_then_rests_remainder():
    x, _, _ = build_exchange()
    x.create_order("alice", ask("M", 45, 2))
    x.create_order("alice", ask("M", 43, 3))
    x.create_order("carol", ask("M", 47, 5))
    result = x.create_order("bob", bid("M", 46, 10))
    fills = x.fills("bob")
    assert [(f.price, f.count) for f in reversed(fills)] == [(4300, 300), (4500, 200)]
    assert result.order.status is OrderStatus.RESTING and result.remaining_count == 500
    book = x.orderbook("M")
    assert book.yes == ((4600, 500),)
    assert book.no == ((5300, 500),)  # the 47c ask rests as a 53c NO bid


def test_order_when_same_price_fills_in_time_priority():
    x, _, _ = build_exchange()
    first = x.create_order("alice", bid("M", 30, 5)).order.order_id
    second = x.create_order("carol", bid("M", 30, 5)).order.order_id
    x.create_order("bob", ask("M", 30, 7, time_in_force=IOC))
    assert x.get_order("alice", first).status is OrderStatus.EXECUTED
    assert x.get_order("carol", second).remaining == 300


def test_order_when_ioc_partially_fills_cancels_the_rest():
    x, _, _ = build_exchange()
    x.create_order("alice", ask("M", 60, 4))
    result = x.create_order("bob", bid("M", 60, 10, time_in_force=IOC))
    assert result.order.status is OrderStatus.CANCELED
    assert (result.fill_count, result.remaining_count) == (400, 0)
    assert x.orderbook("M").yes == ()
    assert x.balance("bob").locked == 0


def test_order_when_fill_or_kill_cannot_fill_completely_is_canceled_unfilled():
    x, _, _ = build_exchange()
    x.create_order("alice", ask("M", 60, 4))
    result = x.create_order("bob", bid("M", 60, 5, time_in_force=FOK))
    assert result.order.status is OrderStatus.CANCELED and result.fill_count == 0
    assert x.orderbook("M").no == ((4000, 400),)
    done = x.create_order("bob", bid("M", 60, 4, time_in_force=FOK))
    assert done.order.status is OrderStatus.EXECUTED and done.fill_count == 400


def test_order_when_post_only_would_cross_is_rejected():
    x, _, _ = build_exchange()
    x.create_order("alice", ask("M", 55, 1))
    with pytest.raises(ExchangeError) as err:
        x.create_order("bob", bid("M", 55, 1, post_only=True))
    assert (err.value.http_status, err.value.code, err.value.details) == (
        400,
        "invalid_order",
        "post only cross",
    )
    assert err.value.body() == {
        "error": {
            "code": "invalid_order",
            "message": "post only order would cross",
            "details": "post only cross",
        }
    }
    assert x.create_order("bob", bid("M", 54, 1, post_only=True)).order.status is OrderStatus.RESTING


def test_order_when_reduce_only_without_ioc_is_rejected():
    x, _, _ = build_exchange()
    with _raises("invalid_order"):
        x.create_order("alice", ask("M", 50, 1, reduce_only=True))


def test_order_when_reduce_only_is_capped_to_the_position_and_rejected_without_one():
    x, _, _ = build_exchange()
    with _raises("invalid_order"):
        x.create_order("alice", ask("M", 50, 1, reduce_only=True, time_in_force=IOC))
    x.create_order("bob", ask("M", 50, 3))
    x.create_order("alice", bid("M", 50, 3, time_in_force=IOC))  # alice long 3 YES
    x.create_order("carol", bid("M", 50, 10))
    result = x.create_order("alice", ask("M", 50, 10, reduce_only=True, time_in_force=IOC))
    assert result.fill_count == 300
    assert x.positions("alice")[0].position == 0


def test_order_when_selling_held_contracts_needs_no_cash_collateral():
    x, _, _ = build_exchange(balance_dollars=10)
    x.create_order("bob", ask("M", 90, 10))
    x.create_order("alice", bid("M", 90, 10, time_in_force=IOC))  # alice pays $9 + fee, holds 10 YES
    before = x.balance("alice")
    x.create_order("alice", ask("M", 95, 10))  # closing: only the fee allowance is locked
    after = x.balance("alice")
    assert after.locked - before.locked < 1 * DOLLAR
    with _raises("insufficient_balance"):
        x.create_order("alice", ask("M", 95, 20))  # these would open 20 NO at $0.05: too much


def test_order_when_balance_too_low_is_rejected_with_insufficient_balance():
    x, _, _ = build_exchange(balance_dollars=1)
    with pytest.raises(ExchangeError) as err:
        x.create_order("alice", bid("M", 50, 10))
    assert (err.value.http_status, err.value.code) == (400, "insufficient_balance")
    assert x.balance("alice").locked == 0 and x.orders("alice") == []


def test_order_when_self_trade_taker_at_cross_cancels_incoming_remainder():
    x, _, _ = build_exchange()
    x.create_order("bob", ask("M", 40, 2))
    own = x.create_order("alice", ask("M", 41, 5)).order.order_id
    result = x.create_order(
        "alice", bid("M", 45, 10, self_trade_prevention_type=SelfTradePrevention.TAKER_AT_CROSS)
    )
    assert result.fill_count == 200  # the fill before reaching its own order stands
    assert result.order.status is OrderStatus.CANCELED
    assert x.get_order("alice", own).status is OrderStatus.RESTING


def test_order_when_self_trade_maker_cancels_resting_own_order_and_keeps_matching():
    x, _, _ = build_exchange()
    own = x.create_order("alice", ask("M", 41, 5)).order.order_id
    x.create_order("bob", ask("M", 42, 5))
    result = x.create_order("alice", bid("M", 45, 5, self_trade_prevention_type=SelfTradePrevention.MAKER))
    assert x.get_order("alice", own).status is OrderStatus.CANCELED
    assert result.fill_count == 500 and result.average_fill_price == 420_000


def test_order_when_client_order_id_reused_is_409_even_after_cancel():
    x, clock, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 10, 1, client_order_id="abc-1")).order.order_id
    with pytest.raises(ExchangeError) as err:
        x.create_order("alice", bid("M", 11, 1, client_order_id="abc-1"))
    assert (err.value.http_status, err.value.code) == (409, "order_already_exists")
    x.cancel_order("alice", oid)
    with _raises("order_already_exists"):
        x.create_order("alice", bid("M", 11, 1, client_order_id="abc-1"))
    x.create_order("bob", bid("M", 11, 1, client_order_id="abc-1"))  # ids are per user
    clock.advance(601)
    assert (
        x.create_order("alice", bid("M", 11, 1, client_order_id="abc-1")).order.status is OrderStatus.RESTING
    )


def test_order_when_client_order_id_malformed_is_bad_request():
    x, _, _ = build_exchange()
    with _raises("bad_request"):
        x.create_order("alice", bid("M", 10, 1, client_order_id="no spaces allowed"))


@pytest.mark.parametrize(
    ("ticker", "price_cents", "valid"),
    [
        ("M", 50, True),
        ("M", 50.5, False),
        ("M", 0, False),
        ("M", 100, False),
        ("D", 55.5, True),
        ("D", 55.55, False),
        ("T", 5.5, True),
        ("T", 55.5, False),
        ("T", 95.1, True),
    ],
)
def test_order_price_when_off_the_market_grid_is_invalid_price(ticker, price_cents, valid):
    x, _, _ = build_exchange()
    if valid:
        x.create_order("alice", bid(ticker, price_cents, 1))
    else:
        with _raises("invalid_price"):
            x.create_order("alice", bid(ticker, price_cents, 1))


def test_order_when_fractional_count_on_whole_contract_market_is_invalid_order():
    x, _, _ = build_exchange()
    with _raises("invalid_order"):
        x.create_order("alice", bid("M", 50, 1.5))
    assert x.create_order("alice", bid("D", 50, 1.5)).remaining_count == 150
    with _raises("invalid_order"):
        x.create_order("alice", bid("M", 50, 0))


def test_order_when_market_unknown_is_404():
    x, _, _ = build_exchange()
    with pytest.raises(ExchangeError) as err:
        x.create_order("alice", bid("NOPE", 50, 1))
    assert (err.value.http_status, err.value.code) == (404, "not_found")


def test_cancel_when_resting_returns_reduced_by_and_releases_collateral():
    x, _, events = build_exchange()
    oid = x.create_order("alice", bid("M", 50, 10, client_order_id="c1")).order.order_id
    x.create_order("bob", ask("M", 50, 4, time_in_force=IOC))
    result = x.cancel_order("alice", oid)
    assert result.reduced_by == 600 and result.order.status is OrderStatus.CANCELED
    assert x.balance("alice").locked == 0
    last_delta = of_type(events, BookLevelChanged)[-1]
    assert (last_delta.delta, last_delta.size, last_delta.client_order_id) == (-600, 0, "c1")
    with _raises("invalid_order"):
        x.cancel_order("alice", oid)


def test_cancel_when_order_belongs_to_someone_else_is_404():
    x, _, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 50, 1)).order.order_id
    with _raises("not_found"):
        x.cancel_order("bob", oid)
    with _raises("not_found"):
        x.get_order("bob", oid)


def test_cancel_all_when_user_has_orders_in_several_markets_cancels_only_theirs():
    x, _, _ = build_exchange()
    x.create_order("alice", bid("M", 40, 1))
    x.create_order("alice", bid("MF", 40, 1))
    x.create_order("bob", bid("M", 41, 1))
    assert len(x.cancel_all("alice", ticker="M")) == 1
    assert len(x.cancel_all("alice")) == 1
    assert [o.user_id for o in x.resting_orders()] == ["bob"]


def test_amend_when_size_decreases_keeps_queue_priority():
    x, _, _ = build_exchange()
    first = x.create_order("alice", bid("M", 30, 5)).order.order_id
    x.create_order("carol", bid("M", 30, 5))
    x.amend_order("alice", first, AmendRequest("M", Side.BID, 3000, 300))
    assert x.queue_position("alice", first) == 0
    x.create_order("bob", ask("M", 30, 3, time_in_force=IOC))
    assert x.get_order("alice", first).status is OrderStatus.EXECUTED


def test_amend_when_price_changes_loses_priority_and_can_trade():
    x, _, _ = build_exchange()
    first = x.create_order("alice", bid("M", 30, 5)).order.order_id
    x.create_order("carol", bid("M", 31, 5))
    x.amend_order("alice", first, AmendRequest("M", Side.BID, 3100, 500))
    assert x.queue_position("alice", first) == 500
    x.create_order("bob", ask("M", 60, 2))
    result = x.amend_order("alice", first, AmendRequest("M", Side.BID, 6000, 500))
    assert (result.fill_count, result.remaining_count, result.average_fill_price) == (200, 300, 600_000)
    assert x.orderbook("M").yes == ((3100, 500), (6000, 300))


def test_amend_when_count_is_total_including_filled():
    x, _, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 50, 10)).order.order_id
    x.create_order("bob", ask("M", 50, 4, time_in_force=IOC))
    result = x.amend_order("alice", oid, AmendRequest("M", Side.BID, 5000, 700))
    assert (result.fill_count, result.remaining_count) == (400, 300)
    with _raises("invalid_order"):
        x.amend_order("alice", oid, AmendRequest("M", Side.BID, 5000, 300))
    with _raises("invalid_order"):
        x.amend_order("alice", oid, AmendRequest("M", Side.ASK, 5000, 700))


def test_amend_when_updated_client_order_id_given_renames_the_order():
    x, _, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 50, 1, client_order_id="a1")).order.order_id
    x.amend_order(
        "alice",
        oid,
        AmendRequest("M", Side.BID, 4900, 100, client_order_id="a1", updated_client_order_id="a2"),
    )
    assert x.get_order("alice", oid).client_order_id == "a2"
    with _raises("order_already_exists"):
        x.create_order("alice", bid("M", 40, 1, client_order_id="a2"))


def test_decrease_when_reduce_by_or_to_keeps_priority_and_zero_cancels():
    x, _, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 20, 10)).order.order_id
    x.create_order("carol", bid("M", 20, 10))
    assert x.decrease_order("alice", oid, reduce_by=300).reduced_by == 300
    assert x.decrease_order("alice", oid, reduce_to=500).order.remaining == 500
    assert x.queue_position("alice", oid) == 0
    with _raises("bad_request"):
        x.decrease_order("alice", oid, reduce_by=100, reduce_to=100)
    with _raises("bad_request"):
        x.decrease_order("alice", oid)
    result = x.decrease_order("alice", oid, reduce_to=0)
    assert result.order.status is OrderStatus.CANCELED and result.reduced_by == 500


def test_order_when_expiration_time_passes_is_canceled():
    x, clock, events = build_exchange()
    expiry_s = clock.now_ns() // 1_000_000_000 + 30
    oid = x.create_order("alice", bid("M", 50, 1, expiration_time_s=expiry_s)).order.order_id
    clock.advance(29)
    x.advance()
    assert x.get_order("alice", oid).status is OrderStatus.RESTING
    clock.advance(1)
    x.advance()
    assert x.get_order("alice", oid).status is OrderStatus.CANCELED
    assert of_type(events, OrderUpdated)[-1].order.status is OrderStatus.CANCELED
    with _raises("invalid_order"):
        x.create_order("alice", bid("M", 50, 1, expiration_time_s=expiry_s))  # in the past now
    with _raises("invalid_order"):
        x.create_order("alice", bid("M", 50, 1, expiration_time_s=expiry_s + 100, time_in_force=IOC))


def test_order_when_exchange_paused_place_rejected_cancel_allowed():
    x, _, _ = build_exchange()
    keep = x.create_order("alice", bid("M", 40, 1)).order.order_id
    gone = x.create_order("alice", bid("M", 41, 1, cancel_order_on_pause=True)).order.order_id
    x.set_trading_active(False)
    assert x.exchange_status().trading_active is False
    assert x.get_order("alice", gone).status is OrderStatus.CANCELED
    with _raises("trading_is_paused"):
        x.create_order("alice", bid("M", 40, 1))
    with _raises("trading_is_paused"):
        x.amend_order("alice", keep, AmendRequest("M", Side.BID, 3900, 100))
    x.cancel_order("alice", keep)
    x.set_trading_active(True)
    x.create_order("alice", bid("M", 40, 1))


def test_batch_create_when_one_item_fails_returns_error_in_its_slot():
    x, _, _ = build_exchange()
    results = x.create_orders("alice", [bid("M", 40, 1), bid("M", 40.5, 1), bid("M", 41, 1)])
    assert [type(r).__name__ for r in results] == ["OrderResult", "ExchangeError", "OrderResult"]
    assert results[1].code == "invalid_price"  # type: ignore[union-attr]
    cancels = x.cancel_orders("alice", [results[0].order.order_id, "nope"])  # type: ignore[union-attr]
    assert [type(r).__name__ for r in cancels] == ["CancelResult", "ExchangeError"]


def test_orders_listing_when_filtered_is_newest_first():
    x, _, _ = build_exchange()
    a = x.create_order("alice", bid("M", 40, 1)).order.order_id
    b = x.create_order("alice", bid("MF", 40, 1)).order.order_id
    c = x.create_order("alice", bid("M", 41, 1)).order.order_id
    x.cancel_order("alice", c)
    assert [o.order_id for o in x.orders("alice")] == [c, b, a]
    assert [o.order_id for o in x.orders("alice", ticker="M", status="resting")] == [a]
    assert [o.order_id for o in x.orders("alice", event_tickers=["EVF"])] == [b]
    with _raises("bad_request"):
        x.orders("alice", status="pending")


def test_events_when_a_trade_happens_include_positions_and_one_ticker_update():
    x, _, events = build_exchange()
    x.create_order("alice", bid("M", 50, 3, client_order_id="mine"))
    events.clear()
    x.create_order("bob", ask("M", 50, 2, time_in_force=IOC))
    positions = {e.position.user_id: e.position.position for e in of_type(events, PositionUpdated)}
    assert positions == {"alice": 200, "bob": -200}
    [ticker] = of_type(events, TickerChanged)
    assert (ticker.last_price, ticker.yes_bid, ticker.yes_bid_size, ticker.volume, ticker.open_interest) == (
        5000,
        5000,
        100,
        200,
        200,
    )
    [delta] = of_type(events, BookLevelChanged)
    assert (delta.user_id, delta.client_order_id, delta.delta) == ("alice", "mine", -200)
    updates = [e.order for e in of_type(events, OrderUpdated)]
    assert {(o.user_id, o.status) for o in updates} == {
        ("alice", OrderStatus.RESTING),
        ("bob", OrderStatus.EXECUTED),
    }


def test_fills_and_trades_queries_when_filtered_return_newest_first():
    x, clock, _ = build_exchange()
    oid = x.create_order("alice", bid("M", 50, 3)).order.order_id
    x.create_order("bob", ask("M", 50, 1, time_in_force=IOC))
    clock.advance(5)
    x.create_order("bob", ask("M", 50, 1, time_in_force=IOC))
    x.create_order("carol", bid("MF", 50, 1))
    x.create_order("bob", ask("MF", 50, 1, time_in_force=IOC))
    assert [f.ticker for f in x.fills("bob")] == ["MF", "M", "M"]
    assert len(x.fills("alice", order_id=oid)) == 2
    start_s = clock.now_ns() // 1_000_000_000
    assert len(x.fills("bob", min_ts_s=start_s)) == 2
    assert [t.ticker for t in x.trades(ticker="M")] == ["M", "M"]
    assert len(x.trades(max_ts_s=start_s - 1)) == 1
