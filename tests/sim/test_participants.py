"""Synthetic participants and scenarios: reproducible, liquid, adversely selecting, settling."""

from __future__ import annotations

import pytest
from mmframe_sim.engine import (
    EventSpec,
    Exchange,
    MarketSpec,
    MarketStatus,
    ParticipantConfig,
    SeriesSpec,
    Side,
)
from mmframe_sim.participants import INFORMED_USER, NOISE_USER
from mmframe_sim.scenario import (
    BULK_ACTIVITY,
    ScenarioError,
    bulk_scenario,
    load_scenario,
    parse_scenario,
    standard_scenario,
)

from mmframe.api import TestClock
from tests.sim.sim_engine_helpers import ask

SMALL = """name: small
seed: 5
participants:
  noise:
    rate_per_minute: 30
series:
  - ticker: S
    fee_type: quadratic_with_maker_fees
markets:
  - ticker: S-1
    event: S-E
    series: S
    initial_probability: 0.4
    close_offset_seconds: 120
    settlement_timer_seconds: 10
"""


def _run(exchange: Exchange, clock: TestClock, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1)
        exchange.advance()


def _trade_tape(seed: int | None, seconds: int = 300):
    clock = TestClock()
    exchange = standard_scenario().build(clock, seed=seed)
    _run(exchange, clock, seconds)
    return [
        (t.ticker, t.price, t.count, t.taker_side, t.ts_ns) for t in exchange.trades()
    ], exchange.fair_values()


def test_participants_when_same_seed_replay_identically_and_other_seed_differs():
    tape, fair = _trade_tape(11)
    assert tape  # the standard scenario trades within five minutes
    assert _trade_tape(11) == (tape, fair)
    assert _trade_tape(12)[0] != tape


def test_participants_when_running_keep_a_two_sided_book_with_room_inside():
    clock = TestClock()
    exchange = standard_scenario().build(clock)
    _run(exchange, clock, 120)
    for market in exchange.markets():
        book = exchange.orderbook(market.ticker)
        assert book.yes and book.no, market.ticker
        best_bid, best_ask = book.yes[-1][0], 10_000 - book.no[-1][0]
        assert best_ask - best_bid >= 300, (market.ticker, best_bid, best_ask)  # room to quote inside
        assert market.volume > 0
    assert exchange.total_money() == exchange.total_deposits()


def test_participants_when_a_quote_is_mispriced_informed_traders_take_it():
    clock = TestClock()
    config = ParticipantConfig(liquidity_levels=0, noise_rate_per_minute=0, informed_rate_per_minute=30)
    exchange = Exchange(clock, seed=3, participants=config)
    exchange.add_series(SeriesSpec("S"))
    exchange.add_event(EventSpec("E", "S"))
    exchange.add_market(MarketSpec("M", "E"))
    exchange.open_account("alice")
    exchange.set_fair_value("M", 0.80)
    exchange.create_order("alice", ask("M", 60, 10))  # 20c under fair: a stale quote
    _run(exchange, clock, 60)
    [position] = exchange.positions("alice")
    assert position.position < 0
    assert exchange.positions(INFORMED_USER)[0].position == -position.position


def test_participants_when_noise_trades_they_cross_the_spread_with_ioc():
    clock = TestClock()
    exchange = parse_scenario(SMALL).build(clock)
    _run(exchange, clock, 60)
    fills = exchange.fills(NOISE_USER)
    assert fills and all(f.is_taker for f in fills)
    assert {f.side for f in fills} == {Side.BID, Side.ASK}


def test_scenario_when_market_closes_it_settles_by_fair_value_and_conserves_money():
    clock = TestClock()
    exchange = parse_scenario(SMALL).build(clock)
    _run(exchange, clock, 135)
    market = exchange.market("S-1")
    assert market.status is MarketStatus.FINALIZED and market.result in ("yes", "no")
    assert all(p.position == 0 for p in exchange.all_positions("S-1"))
    assert exchange.resting_orders("S-1") == []
    assert exchange.total_money() == exchange.total_deposits()


def test_standard_scenario_when_loaded_lists_four_markets_with_grids_and_fee_types():
    scenario = standard_scenario()
    tickers = [m.spec.ticker for m in scenario.markets]
    assert tickers == ["SIM-RAIN-NYC", "SIM-FED-DEC", "SIM-BTC-100K", "SIM-ELECT-A"]
    assert {s.fee_type.value for s in scenario.series} == {"quadratic", "quadratic_with_maker_fees"}
    assert {m.spec.price_level_structure for m in scenario.markets} == {
        "linear_cent",
        "deci_cent",
        "tapered_deci_cent",
    }
    assert scenario.participants is not None


def test_scenario_when_faults_scripted_pauses_and_deactivates_on_time():
    text = (
        SMALL
        + """
faults:
  - at_seconds: 10
    action: pause_trading
    duration_seconds: 5
  - at_seconds: 20
    action: deactivate_market
    ticker: S-1
    duration_seconds: 10
  - at_seconds: 30
    action: drop_websockets
"""
    )
    scenario = parse_scenario(text)
    assert [f.action for f in scenario.server_faults()] == ["drop_websockets"]
    clock = TestClock()
    exchange = scenario.build(clock)
    _run(exchange, clock, 11)
    assert exchange.exchange_status().trading_active is False
    _run(exchange, clock, 5)
    assert exchange.exchange_status().trading_active is True
    _run(exchange, clock, 5)
    assert exchange.market("S-1").status is MarketStatus.INACTIVE
    _run(exchange, clock, 10)
    assert exchange.market("S-1").status is MarketStatus.ACTIVE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL.replace("    series: S\n", ""), "event S-E is not listed"),
        (SMALL.replace("fee_type: quadratic_with_maker_fees", "fee_type: cheap"), "line 8"),
        (SMALL.replace("initial_probability: 0.4", "initial_probability: 1.5"), "strictly between 0 and 1"),
        (SMALL.replace("seed: 5", "seed: five"), "line 2"),
        (SMALL + "faults:\n  - at_seconds: 1\n    action: close_market\n", "needs a listed ticker"),
    ],
)
def test_scenario_when_invalid_reports_what_and_where(text, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "bad.yaml")


def test_scenario_when_file_missing_says_so(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")
    path = tmp_path / "ok.yaml"
    path.write_text(SMALL)
    assert load_scenario(path).name == "small"


@pytest.mark.parametrize("activity", sorted(BULK_ACTIVITY))
def test_bulk_scenario_when_generated_lists_that_many_markets_with_that_activity(tmp_path, activity):
    path = tmp_path / "bulk.yaml"
    tickers = bulk_scenario(path, 200, activity)
    scenario = load_scenario(path)
    assert [m.spec.ticker for m in scenario.markets] == tickers
    assert len(set(tickers)) == 200 and all(t.startswith("SIM-BULK-") for t in tickers)
    refresh_s, noise, informed = BULK_ACTIVITY[activity]
    assert scenario.participants is not None
    assert scenario.participants.liquidity_refresh_seconds == refresh_s
    assert (scenario.participants.noise_rate_per_minute, scenario.participants.informed_rate_per_minute) == (
        noise, informed)
    exchange = scenario.build(TestClock())
    assert exchange.market(tickers[-1]).status is MarketStatus.ACTIVE


def test_bulk_scenario_when_no_markets_or_unknown_activity_refuses(tmp_path):
    with pytest.raises(ValueError, match="at least one market"):
        bulk_scenario(tmp_path / "bulk.yaml", 0)
    with pytest.raises(ValueError, match="unknown activity 'frantic'; known: busy, lively, quiet"):
        bulk_scenario(tmp_path / "bulk.yaml", 3, "frantic")
