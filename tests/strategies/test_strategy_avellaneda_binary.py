"""``avellaneda-stoikov`` on binary markets: T to the close without a cap, σ in log-odds converted
through p(1−p), k fitted with a prior and bounds, the losing side stopped at the inventory limit,
and widening or flattening before the close. Exact clocks; hypothesis for the invariants."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_strategies._estimators import log_odds
from mmframe_strategies.avellaneda_stoikov import AvellanedaStoikovStrategy

from mmframe.api import NANOS_PER_SECOND, BookSide, Level, OrderFilled, Quote, TickGrid
from tests.strategies.strategy_views import NOW_NS, TICKER, MarketState, market
from tests.strategies.test_strategy_avellaneda_stoikov import paper_market, strategy

D = Decimal
S = NANOS_PER_SECOND


def cent_market(bid: int, ask: int, *, position: int = 0, close_in_s: int = 86_400) -> MarketState:
    """A cent-grid binary market with 100 contracts each side at ``bid``/``ask`` (price units)."""
    return market(
        [(bid, 10_000)], [(10_000 - ask, 10_000)], grid=TickGrid.linear_cent(), position=position,
        close_ts_ns=NOW_NS + close_in_s * S,
    )


# --- T: the close, uncapped ---------------------------------------------------------------------


def test_avellaneda_stoikov_when_the_close_is_beyond_horizon_seconds_uses_all_the_time_left() -> None:
    # T - t = 2 (not capped at horizon_seconds = 1): spread = 0.1*4*2 + 20 ln(1 + 0.1/1.5) = 2.090784.
    quote = strategy(horizon_seconds=1).quote(paper_market(close_in_s=2))
    assert quote == Quote(TICKER, (Level(989_546, 100),), (Level(1_010_454, 100),))


def test_avellaneda_stoikov_inventory_term_grows_with_the_time_to_close() -> None:
    config = {"gamma": 1, "k": 100, "sigma": D("0.0001"), "time_unit_seconds": 1, "horizon_seconds": 60}
    near = AvellanedaStoikovStrategy(config).quote(cent_market(4000, 6000, position=1000, close_in_s=100))
    far = AvellanedaStoikovStrategy(config).quote(cent_market(4000, 6000, position=1000, close_in_s=10_000))
    # r = s - q·γσ²(T-t): 10 contracts, σ² = 1e-8: 100 s moves r 1e-5, 10,000 s moves it 1e-3.
    assert far.bids[0].price < near.bids[0].price


# --- GLFT at the time left -------------------------------------------------------------------


def _glft_closed_form(q: float) -> tuple[float, float]:
    """The paper market's asymptotic GLFT bid and ask (γ 0.1, σ² 4, k 1.5, A 140, lot 1)."""
    c1 = math.log1p(0.1 / 1.5) / 0.1
    c2 = math.sqrt(0.1 * 4 / (2 * 140 * 1.5) * (1 + 0.1 / 1.5) ** (1 + 1.5 / 0.1))
    return 100 - c1 - (2 * q + 1) / 2 * c2, 100 + c1 - (2 * q - 1) / 2 * c2


def test_glft_finite_far_from_the_close_approaches_the_closed_form() -> None:
    quote = strategy(model="glft", max_inventory=10).quote(paper_market(position=300, close_in_s=200))
    bid, ask = _glft_closed_form(3)
    assert quote.bids[0].price / 10_000 == pytest.approx(bid, abs=0.01)
    assert quote.asks[0].price / 10_000 == pytest.approx(ask, abs=0.01)


def test_glft_finite_at_the_close_has_no_inventory_skew_left() -> None:
    quote = strategy(model="glft", max_inventory=10).quote(paper_market(position=300, close_in_s=0))
    c1 = math.log1p(0.1 / 1.5) / 0.1  # 0.645385: both sides at the intensity term only
    assert (quote.bids[0].price, quote.asks[0].price) == (
        math.floor((100 - c1) * 10_000), math.ceil((100 + c1) * 10_000)
    )


def test_glft_finite_skew_grows_with_the_time_left() -> None:
    near = strategy(model="glft", max_inventory=10).quote(paper_market(position=300, close_in_s=0.05))
    far = strategy(model="glft", max_inventory=10).quote(paper_market(position=300, close_in_s=5))
    assert far.bids[0].price < near.bids[0].price and far.asks[0].price < near.asks[0].price


def test_glft_finite_at_the_inventory_bound_quotes_only_the_reducing_side() -> None:
    quote = strategy(model="glft", max_inventory=2).quote(paper_market(position=200, close_in_s=5))
    assert quote.bids == () and quote.asks


# --- σ in log-odds ------------------------------------------------------------------------------


def _feed(strat: AvellanedaStoikovStrategy, mids: list[int], *, spread: int = 200) -> None:
    """Quote a cent market whose mid (price units) takes each value in turn, one per 10 s."""
    for step, mid in enumerate(mids):
        view = cent_market(mid - spread // 2, mid + spread // 2)
        view.now_ns = NOW_NS + step * 10 * S
        strat.quote(view)


def test_avellaneda_stoikov_log_odds_sigma_is_converted_through_p_one_minus_p() -> None:
    config = {"sigma": 0, "sigma_min_moves": 1, "sigma_sample_seconds": 10, "sigma_floor": 0,
              "sigma_halflife_seconds": 30_000_000, "time_unit_seconds": 10}
    at_half = AvellanedaStoikovStrategy(config)
    _feed(at_half, [5000, 5200, 5400])
    # Increments in log-odds at 10 s: x(0.52) - x(0.50), x(0.54) - x(0.52); one pair over 2 units.
    d1, d2 = log_odds(0.52) - log_odds(0.50), log_odds(0.54) - log_odds(0.52)
    x_variance = (math.pi / 2 * d1 * d2 + d1 * d2) / 2
    assert at_half.sigma2(TICKER) == pytest.approx((0.54 * 0.46) ** 2 * x_variance)


def test_avellaneda_stoikov_log_odds_sigma_shrinks_toward_the_edges() -> None:
    config = {"sigma": 0, "sigma_min_moves": 1, "sigma_floor": 0, "sigma_halflife_seconds": 30_000_000}
    middle = AvellanedaStoikovStrategy(config)
    edge = AvellanedaStoikovStrategy(config)
    # The same log-odds path at 50¢ and at ~5¢: in dollars the edge moves far less.
    xs = [0.0, 0.1, 0.0, 0.1, 0.2]
    _feed(middle, [round(10_000 / (1 + math.exp(-x))) for x in xs], spread=2)
    _feed(edge, [round(10_000 / (1 + math.exp(-(x - 3)))) for x in xs], spread=2)
    assert edge.sigma2(TICKER) < middle.sigma2(TICKER) / 20


def test_avellaneda_stoikov_before_enough_moves_uses_sigma_initial() -> None:
    strat = AvellanedaStoikovStrategy({"sigma": 0, "sigma_initial": D("0.02"), "sigma_min_moves": 5})
    _feed(strat, [5000, 5100, 5000])
    assert strat.sigma2(TICKER) == pytest.approx(0.02**2)


# --- k: fitted with a prior and bounds ----------------------------------------------------------


def _fitted(**config: Any) -> tuple[float, float]:
    strat = strategy(estimate_k=True, k_min_fills=2, model="glft", **config)
    for second, position in enumerate([0, 1000, 0]):
        view = paper_market(position=position)
        view.now_ns = NOW_NS + second * S
        strat.quote(view)
    fill = OrderFilled(ts_ns=NOW_NS, client_order_id="c", ticker=TICKER, order_id="o", trade_id="t",
                       side=BookSide.BID, price=990_000, count=100, fee=0, is_taker=False)
    for _ in range(2):
        strat.on_fill(fill, view)
    return strat.intensity(TICKER)


def test_avellaneda_stoikov_k_fit_is_shrunk_toward_the_configured_k_by_the_prior() -> None:
    k_fit, a_fit = _fitted(k_prior_fills=0, k_min=D("0.001"), k_max=1_000_000)
    k, a = _fitted(k_prior_fills=2, k_min=D("0.001"), k_max=1_000_000)
    # Two fills against a prior worth two: the geometric mean of the fit and the configured 1.5.
    assert k == pytest.approx(math.sqrt(k_fit * 1.5))
    assert a == pytest.approx((a_fit + 140) / 2)


def test_avellaneda_stoikov_k_fit_stays_within_its_bounds() -> None:
    k_fit, _ = _fitted(k_prior_fills=0, k_min=D("0.001"), k_max=1_000_000)
    bound = D(str(round(k_fit / 2, 4))) if k_fit > 0.002 else D("0.001")
    k, _ = _fitted(k_prior_fills=0, k_min=D("0.001"), k_max=bound)
    assert k == pytest.approx(float(bound))


def test_avellaneda_stoikov_when_k_min_is_above_k_max_refuses() -> None:
    with pytest.raises(Exception, match="k_min"):
        AvellanedaStoikovStrategy({"k_min": 10, "k_max": 5})


# --- before the close ---------------------------------------------------------------------------

CLOSE = {"gamma": 1, "k": 100, "sigma": D("0.0001"), "time_unit_seconds": 1, "close_window_seconds": 1000,
         "size": 10}


def test_avellaneda_stoikov_when_widening_before_close_moves_both_quotes_out_linearly() -> None:
    strat = AvellanedaStoikovStrategy({**CLOSE, "close_behaviour": "widen", "close_widen": D("0.04")})
    outside = strat.quote(cent_market(4000, 6000, close_in_s=2000))
    halfway = strat.quote(cent_market(4000, 6000, close_in_s=500))
    # Half-way through the window: 0.02 more per side (2 cents on the cent grid).
    assert halfway.bids[0].price == outside.bids[0].price - 200
    assert halfway.asks[0].price == outside.asks[0].price + 200


def test_avellaneda_stoikov_when_flattening_before_close_quotes_only_the_reducing_side() -> None:
    strat = AvellanedaStoikovStrategy({**CLOSE, "close_behaviour": "flatten"})
    long = strat.quote(cent_market(4000, 6000, position=400, close_in_s=100))
    assert long == Quote(TICKER, (), (Level(4100, 400),))  # one tick above the best bid, sized to 4
    short = strat.quote(cent_market(4000, 6000, position=-2500, close_in_s=100))
    assert short == Quote(TICKER, (Level(5900, 1000),), ())  # at most `size`
    assert strat.quote(cent_market(4000, 6000, close_in_s=100)).is_empty  # flat: nothing
    before = strat.quote(cent_market(4000, 6000, position=400, close_in_s=5000))
    assert before.bids and before.asks  # outside the window: both sides


def test_avellaneda_stoikov_when_close_behaviour_is_none_ignores_the_window() -> None:
    strat = AvellanedaStoikovStrategy({**CLOSE, "close_behaviour": "none", "close_widen": D("0.04")})
    assert strat.quote(cent_market(4000, 6000, close_in_s=10)) == strat.quote(cent_market(4000, 6000, close_in_s=10))
    assert strat.quote(cent_market(4000, 6000, close_in_s=10)).bids


# --- invariants ---------------------------------------------------------------------------------


@st.composite
def binary_market(draw: st.DrawFn) -> MarketState:
    bid = draw(st.integers(1, 98)) * 100
    ask = draw(st.integers(bid // 100 + 1, 99)) * 100
    view = cent_market(bid, ask, position=draw(st.integers(-200, 200)) * 100,
                       close_in_s=draw(st.integers(-60, 30 * 86_400)))
    view.now_ns = NOW_NS
    return view


binary_configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["as", "glft"]),
        "gamma": st.sampled_from([D("0.01"), D("0.5"), D("5")]),
        "k": st.sampled_from([D("5"), D("40"), D("400")]),
        "sigma": st.sampled_from([D("0"), D("0.001"), D("0.05")]),
        "time_unit_seconds": st.sampled_from([1, 3600]),
        "size": st.sampled_from([1, 10, 25]),
        "max_inventory": st.sampled_from([0, 10, 50, 150]),
        "close_behaviour": st.sampled_from(["none", "widen", "flatten"]),
        "close_window_seconds": st.sampled_from([60, 3600]),
    }
)


@settings(max_examples=300, deadline=None)
@given(views=st.lists(binary_market(), min_size=1, max_size=4), config=binary_configs)
def test_avellaneda_stoikov_binary_quotes_stay_inside_zero_one_uncrossed_and_stop_the_losing_side(
    views: list[MarketState], config: dict[str, Any]
) -> None:
    strat = AvellanedaStoikovStrategy(config)
    for step, view in enumerate(views):
        view.now_ns = NOW_NS + step * 7 * S  # a σ estimate builds across the steps
        quote = strat.quote(view)
        for level in (*quote.bids, *quote.asks):
            assert 0 < level.price < 10_000 and level.price % 100 == 0 and level.size > 0
        best_bid, best_ask = view.book.best_bid(), view.book.best_ask()
        if quote.bids:
            assert best_ask is None or quote.bids[0].price < best_ask
        if quote.asks:
            assert best_bid is None or quote.asks[0].price > best_bid
        if quote.bids and quote.asks:
            assert quote.bids[0].price < quote.asks[0].price
        position, bound = view.position.position, config["max_inventory"] * 100
        if bound:
            assert not quote.bids or position + quote.bids[0].size <= bound
            assert not quote.asks or position - quote.asks[0].size >= -bound
            if position >= bound:
                assert not quote.bids  # the losing side is stopped at the limit
            if position <= -bound:
                assert not quote.asks
