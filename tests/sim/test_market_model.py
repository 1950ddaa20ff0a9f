"""The market model that can beat a market maker: news swept by informed traders, makers that follow
the tape and keep their queue place, price-sensitive noise, a fair value that converges to the
outcome and settles -- all seeded, all on the exchange's injected clock, scored from the truth log."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mmframe_sim.engine import EventSpec, Exchange, MarketSpec, MarketStatus, ParticipantConfig, SeriesSpec
from mmframe_sim.fair_model import MAX_FAIR, MIN_FAIR, NewsConfig, news_jump
from mmframe_sim.makers import CompetitorConfig
from mmframe_sim.participants import COMPETITOR_USER, COUNTERPARTY_CLASS, LIQUIDITY_USER, NEWS_USER
from mmframe_sim.probe import run_probe
from mmframe_sim.scenario import ScenarioError, news_scenario, parse_scenario, standard_scenario

from mmframe.api import NANOS_PER_SECOND, TestClock
from tests.sim.sim_engine_helpers import DOLLAR, IOC, ask, bid

QUIET = ParticipantConfig(liquidity_levels=0, noise_rate_per_minute=0, informed_rate_per_minute=0)
"""No background traders: each test turns on only what it looks at."""


def _exchange(config: ParticipantConfig, *, close_s: float = 0, seed: int = 3) -> tuple[Exchange, TestClock]:
    clock = TestClock()
    x = Exchange(clock, seed=seed, participants=config)
    x.add_series(SeriesSpec("S"))
    x.add_event(EventSpec("E", "S"))
    close = clock.now_ns() + int(close_s * NANOS_PER_SECOND) if close_s else 0
    x.add_market(MarketSpec("M", "E", close_ts_ns=close, settlement_timer_seconds=5))
    for user in ("alice", "bob"):
        x.open_account(user, balance=10_000 * DOLLAR)
    return x, clock


def _run(x: Exchange, clock: TestClock, seconds: float, step: float = 0.1) -> None:
    for _ in range(round(seconds / step)):
        clock.advance(step)
        x.advance()


@given(st.floats(MIN_FAIR, MAX_FAIR), st.floats(0.01, 0.5), st.floats(0.0, 1.0, exclude_max=True))
def test_news_jump_when_cut_at_the_bounds_stays_inside_and_moves_zero_on_average(p: float, size: float, u: float) -> None:
    assert MIN_FAIR - 1e-12 <= news_jump(p, size, u) <= MAX_FAIR + 1e-12
    grid = [news_jump(p, size, i / 2000) - p for i in range(2000)]  # u uniform on [0, 1)
    assert sum(grid) / len(grid) == pytest.approx(0.0, abs=size / 1000)


def test_news_when_fair_value_jumps_informed_traders_sweep_a_stale_quote_after_their_delay() -> None:
    news = NewsConfig(rate_per_hour=120, min_jump=0.2, max_jump=0.2, traders=1, min_delay_ms=100, max_delay_ms=300)
    x, clock = _exchange(dataclasses.replace(QUIET, news=news))
    x.create_order("alice", bid("M", 45, 10))
    x.create_order("alice", ask("M", 55, 10))
    _run(x, clock, 120)
    [jump, *_] = x.truth.news("M")
    assert 0.15 < abs(jump.after - jump.before) <= 0.2  # 20c at p = 0.5, made in log-odds
    fills = x.truth.fills(COUNTERPARTY_CLASS, users={"alice"})
    assert fills, "the stale side was not swept"
    first = fills[0]
    assert first.counterparty == NEWS_USER and first.counterparty_class == "informed"
    assert 100 * 1_000_000 <= first.ts_ns - jump.ts_ns <= 300 * 1_000_000
    assert first.fair == pytest.approx(jump.after, abs=0.01)  # at the new fair value (plus its 1 s diffusion)
    assert (first.side.value == "ask") == (jump.after > jump.before)


def test_converging_fair_value_when_market_closes_ends_at_the_outcome_and_settlement_pays_cash() -> None:
    x, clock = _exchange(dataclasses.replace(QUIET, converge=True), close_s=1800)
    x.create_order("alice", bid("M", 50, 10))
    x.create_order("bob", ask("M", 50, 10))
    cash = x.balance("alice").available
    _run(x, clock, 1800 + 10, step=1)
    market = x.market("M")
    assert market.status is MarketStatus.FINALIZED
    series = x.truth.fair_series("M")
    assert series[-1][1] in (0.0, 1.0)
    assert market.result == ("yes" if series[-1][1] == 1.0 else "no")
    assert x.balance("alice").available - cash == (10 * DOLLAR if market.result == "yes" else 0)
    mid_life = [p for t, p in series if t < series[0][0] + 600 * NANOS_PER_SECOND]
    assert all(MIN_FAIR <= p <= MAX_FAIR for p in mid_life)


def test_tape_following_makers_when_fair_value_moves_lag_it_and_keep_their_queue_place() -> None:
    config = dataclasses.replace(QUIET, liquidity_levels=1, liquidity_half_spread=0.02, liquidity_size=20,
                                 liquidity_estimate_weight=0.2, competitors=CompetitorConfig(size=5))
    x, clock = _exchange(config)
    _run(x, clock, 10)
    before = {o.order_id: (o.side, o.price) for o in x.resting_orders("M")}
    assert {(o.side.value, o.price) for o in x.resting_orders("M") if o.user_id == COMPETITOR_USER} == {
        ("bid", 4900), ("ask", 5000)}  # a cent wide around 0.50
    x.set_fair_value("M", 0.8)  # nobody traded: the makers do not know
    _run(x, clock, 10)
    after = {o.order_id: (o.side, o.price) for o in x.resting_orders("M")}
    assert after == before  # same orders, same prices: nothing re-placed, queue places kept
    x.create_order("alice", bid("M", 60, 40, time_in_force=IOC))  # an informed-looking buyer lifts the offers
    _run(x, clock, 10)
    asks = [o.price for o in x.resting_orders("M") if o.side.value == "ask" and o.user_id == LIQUIDITY_USER]
    assert asks and 5200 < min(asks) < 8000  # moved towards the trades, not to the hidden 0.80


def test_price_sensitive_noise_when_quote_is_wider_fills_less() -> None:
    def filled(half_spread_cents: int) -> int:
        x, clock = _exchange(dataclasses.replace(QUIET, noise_rate_per_minute=60, noise_tolerance=0.02), seed=9)
        x.create_order("alice", bid("M", 50 - half_spread_cents, 1000))
        x.create_order("alice", ask("M", 50 + half_spread_cents, 1000))
        _run(x, clock, 600, step=1)
        return sum(f.count for f in x.fills("alice"))

    tight, wide = filled(1), filled(4)
    assert tight > 2 * wide > 0


def test_news_scenario_when_same_seed_replays_identically_and_seed_override_varies() -> None:
    def tape(seed: int | None) -> list[tuple[object, ...]]:
        clock = TestClock()
        x = news_scenario().build(clock, seed=seed)
        _run(x, clock, 300, step=1)
        return [(f.ticker, f.ts_ns, f.price, f.count, f.counterparty_class, f.fair)
                for f in x.truth.fills(COUNTERPARTY_CLASS)]

    first = tape(None)
    assert first and first == tape(None)
    assert tape(4) != first
    classes = {c for *_, c, _ in first}
    assert {"maker_background", "maker_competitor", "noise"} <= classes


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("news:\n    min_jump: 0.3\n    max_jump: 0.1", "min_jump"),
        ("competitors:\n    estimate_weight: 0", "estimate_weight"),
        ("liquidity:\n    estimate_weight: 1.5", "estimate_weight"),
        ("noise:\n    tolerance: -0.01", "tolerance"),
    ],
)
def test_scenario_when_a_market_model_knob_is_invalid_names_the_file(section: str, message: str) -> None:
    text = f"name: bad\nparticipants:\n  {section}\nseries:\n  - ticker: S\nmarkets:\n  - ticker: M\n    event: E\n    series: S\n"
    with pytest.raises(ScenarioError, match=rf"bad\.yaml.*{message}"):
        parse_scenario(text, "bad.yaml")


def test_standard_scenario_when_loaded_turns_on_none_of_the_new_knobs() -> None:
    p = standard_scenario().participants
    assert p is not None and not p.converge and p.news is None and p.competitors is None
    assert p.liquidity_estimate_weight is None and p.noise_tolerance == 0


def test_news_scenario_when_a_fixed_two_cent_quoter_ignores_jumps_it_loses_to_informed_flow() -> None:
    """The must-show: the simulator can punish. A ±2c quoter (10 lots, at most 20 a market) on the
    news scenario, two simulated hours with the clock advanced by hand, markets settled at close."""
    results = [run_probe(news_scenario(), seed, hours=2.0) for seed in (1, 2, 3, 4)]
    for r in results:
        assert r.unsettled_markets == 0
        assert r.share("informed") > 0.2, r
        assert r.edge_cents * r.contracts / 100 * 10_000 - r.fees < 0, r  # spread + adverse selection - fees
    assert sum(r.pnl for r in results) < 0, [r.pnl for r in results]


def test_load_exchange_when_given_a_shipped_name_builds_that_scenario() -> None:
    from mmframe_sim.serve import load_exchange

    exchange, _, balance = load_exchange("news", TestClock(), 5)
    assert [m.ticker for m in exchange.markets()] == ["SIM-NEWS-VOTE", "SIM-NEWS-CEO", "SIM-NEWSF-RATE"]
    assert balance == 100_000 * DOLLAR
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_exchange("no-such-scenario", TestClock(), None)
