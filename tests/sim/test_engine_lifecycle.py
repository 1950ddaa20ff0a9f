"""Market lifecycle, settlement and engine-level faults (API.md §10)."""

from __future__ import annotations

import pytest
from mmframe_sim.engine import (
    BookCleared,
    ExchangeError,
    MarketLifecycleChanged,
    MarketSpec,
    MarketStatus,
    OrderStatus,
)

from mmframe.api import NANOS_PER_SECOND
from tests.sim.sim_engine_helpers import DOLLAR, IOC, MICRO_DOLLAR, ask, bid, build_exchange, of_type


def _lifecycle(events, ticker):
    return [e.event_type for e in of_type(events, MarketLifecycleChanged) if e.ticker == ticker]


def test_market_when_before_open_time_is_initialized_then_active():
    x, clock, events = build_exchange()
    now = clock.now_ns()
    x.add_market(
        MarketSpec(
            "LATER", "EV", open_ts_ns=now + 60 * NANOS_PER_SECOND, close_ts_ns=now + 120 * NANOS_PER_SECOND
        )
    )
    assert x.market("LATER").status is MarketStatus.INITIALIZED
    assert x.markets(status="unopened")[0].ticker == "LATER"
    with pytest.raises(ExchangeError, match="market_closed"):
        x.create_order("alice", bid("LATER", 50, 1))
    clock.advance(60)
    assert x.market("LATER").status is MarketStatus.ACTIVE
    assert _lifecycle(events, "LATER") == ["created"]


def test_market_when_close_time_passes_cancels_orders_determines_and_settles():
    x, clock, events = build_exchange()
    now = clock.now_ns()
    x.add_market(MarketSpec("S", "EV", close_ts_ns=now + 10 * NANOS_PER_SECOND, settlement_timer_seconds=30))
    x.create_order("alice", bid("S", 40, 10))
    x.create_order("bob", ask("S", 40, 4, time_in_force=IOC))  # alice +4 YES at 0.40, bob +4 NO at 0.60
    resting = x.create_order("carol", bid("S", 30, 5)).order.order_id
    x.set_fair_value("S", 0.999)
    clock.advance(10)
    x.advance()
    state = x.market("S")
    assert state.status is MarketStatus.DETERMINED
    assert x.get_order("carol", resting).status is OrderStatus.CANCELED
    assert x.orderbook("S").yes == ()
    with pytest.raises(ExchangeError, match="market_closed"):
        x.create_order("alice", bid("S", 40, 1))
    result = state.result
    clock.advance(30)
    x.advance()
    assert x.market("S").status is MarketStatus.FINALIZED
    assert _lifecycle(events, "S") == ["created", "determined", "settled"]
    winner, loser = ("alice", "bob") if result == "yes" else ("bob", "alice")
    [settled] = x.settlements(winner)
    assert (settled.market_result, settled.revenue) == (result, 4 * MICRO_DOLLAR)
    assert x.settlements(loser)[0].revenue == 0
    assert x.positions(winner)[0].position == 0
    assert x.market("S").open_interest == 0
    assert x.total_money() == x.total_deposits()


def test_settlement_when_result_yes_pays_one_dollar_per_yes_contract_and_realises_pnl():
    x, _, _ = build_exchange()
    x.create_order("alice", bid("M", 30, 10))
    x.create_order("bob", ask("M", 30, 10, time_in_force=IOC))
    before = x.balance("alice").available
    x.determine_market("M", "yes")
    x.settle_market("M")
    assert x.balance("alice").available == before + 10 * DOLLAR
    position = x.positions("alice")[0]
    assert (position.position, position.realized_pnl) == (0, 7 * MICRO_DOLLAR)
    assert x.positions("bob")[0].realized_pnl == -7 * MICRO_DOLLAR
    assert x.markets(status="settled")[0].ticker == "M"
    with pytest.raises(ExchangeError):
        x.settle_market("M")


def test_market_when_deactivated_cancels_resting_orders_and_rejects_new_ones():
    x, _, events = build_exchange()
    oid = x.create_order("alice", bid("M", 40, 1)).order.order_id
    x.deactivate_market("M")
    assert x.market("M").status is MarketStatus.INACTIVE
    assert x.get_order("alice", oid).status is OrderStatus.CANCELED
    assert of_type(events, BookCleared)[-1].ticker == "M"
    with pytest.raises(ExchangeError, match="market_closed"):
        x.create_order("alice", bid("M", 40, 1))
    x.activate_market("M")
    assert _lifecycle(events, "M")[-2:] == ["deactivated", "activated"]
    x.create_order("alice", bid("M", 40, 1))


def test_market_when_close_time_moved_out_reopens_and_emits_close_date_updated():
    x, clock, events = build_exchange()
    x.close_market("M")
    assert x.market("M").status is MarketStatus.CLOSED
    x.set_close_time("M", clock.now_ns() + 3600 * NANOS_PER_SECOND)
    assert x.market("M").status is MarketStatus.ACTIVE
    assert _lifecycle(events, "M")[-2:] == ["close_date_updated", "close_date_updated"]


def test_markets_listing_when_filtered_by_event_series_and_tickers():
    x, _, _ = build_exchange()
    assert [m.ticker for m in x.markets(series_ticker="SERF")] == ["MF"]
    assert [m.ticker for m in x.markets(event_ticker="EV")] == ["M", "D", "T"]
    assert [m.ticker for m in x.markets(tickers=["T", "M"])] == ["T", "M"]
    with pytest.raises(ExchangeError, match="bad_request"):
        x.markets(status="bogus")
    with pytest.raises(ExchangeError, match="not_found"):
        x.market("NOPE")


def test_market_ticker_state_when_trading_tracks_top_of_book_volume_and_open_interest():
    x, _, _ = build_exchange()
    x.create_order("alice", bid("M", 40, 10))
    x.create_order("bob", ask("M", 45, 5))
    x.create_order("carol", ask("M", 40, 3, time_in_force=IOC))
    state = x.market("M")
    assert (state.yes_bid, state.yes_bid_size, state.yes_ask, state.yes_ask_size) == (4000, 700, 4500, 500)
    assert (state.last_price, state.volume, state.open_interest) == (4000, 300, 300)
    x.create_order("carol", bid("M", 45, 3, time_in_force=IOC))  # carol closes her NO, bob opens NO
    assert (x.market("M").open_interest, x.market("M").volume) == (300, 600)
    assert x.positions("carol")[0].position == 0
