"""The ``avellaneda-stoikov`` strategy: the paper's formulas on a wide paper market and on Kalshi
grids, the GLFT option, the σ and k estimators, and never-crossing properties."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_strategies._estimators import FillIntensity, MidVariance
from mmframe_strategies.avellaneda_stoikov import SPEC, AvellanedaStoikovStrategy

from mmframe.api import NANOS_PER_SECOND, BookSide, ConfigError, Level, OrderFilled, Quote, TickGrid
from mmframe.domain.grid import PriceRange
from tests.strategies.strategy_views import NOW_NS, TICKER, MarketState, market

D = Decimal
PAYOUT = 1000 * 10_000  # a paper market: $0..$1000 in $0.0001 steps
PAPER_GRID = TickGrid.uniform(1, top=PAYOUT)
PAPER = {"gamma": D("0.1"), "k": D("1.5"), "sigma": 2, "A": 140, "horizon": "close", "horizon_seconds": 1}
TAPERED = TickGrid([PriceRange(0, 1000, 10), PriceRange(1000, 9000, 100), PriceRange(9000, 10_000, 10)])


def paper_market(mid: int = 1_000_000, position: int = 0, close_in_s: float = 1.0) -> MarketState:
    """A paper market with YES bid mid-$5 and YES ask mid+$5, wide enough not to constrain the model."""
    return market(
        [(mid - 50_000, 100)],
        [(PAYOUT - mid - 50_000, 100)],
        grid=PAPER_GRID,
        payout=PAYOUT,
        position=position,
        close_ts_ns=NOW_NS + int(close_in_s * NANOS_PER_SECOND),
    )


def strategy(**config: Any) -> AvellanedaStoikovStrategy:
    return AvellanedaStoikovStrategy({**PAPER, **config})


def test_avellaneda_stoikov_when_flat_at_t0_quotes_the_papers_spread_around_the_mid() -> None:
    # spread = 0.1*4*1 + 20*ln(1 + 0.1/1.5) = 1.690784; half 0.845392 -> 99.154608 / 100.845392.
    assert strategy().quote(paper_market()) == Quote(TICKER, (Level(991_546, 100),), (Level(1_008_454, 100),))


def test_avellaneda_stoikov_when_long_moves_the_reservation_price_down() -> None:
    # q = 3: r = 100 - 3*0.1*4*1 = 98.8.
    quote = strategy().quote(paper_market(position=300))
    assert (quote.bids[0].price, quote.asks[0].price) == (979_546, 996_454)


@pytest.mark.parametrize("position", [-500, 0, 300])
def test_avellaneda_stoikov_when_skew_is_off_quotes_the_same_spread_on_the_mid_whatever_the_position(
    position: int,
) -> None:
    # The paper's symmetric benchmark: the flat quote (99.154608 / 100.845392) at any inventory.
    quote = strategy(skew=False).quote(paper_market(position=position))
    assert quote == Quote(TICKER, (Level(991_546, 100),), (Level(1_008_454, 100),))


def test_avellaneda_stoikov_when_half_the_horizon_is_left_shrinks_the_inventory_terms() -> None:
    # T - t = 0.5: r = 100 + 2*0.1*4*0.5 = 100.4; half = 0.1 + 0.645392 = 0.745392.
    quote = strategy().quote(paper_market(position=-200, close_in_s=0.5))
    assert (quote.bids[0].price, quote.asks[0].price) == (996_546, 1_011_454)


def test_avellaneda_stoikov_when_past_the_close_keeps_only_the_intensity_spread() -> None:
    quote = strategy().quote(paper_market(position=500, close_in_s=-1))
    assert (quote.bids[0].price, quote.asks[0].price) == (993_546, 1_006_454)


def test_avellaneda_stoikov_when_time_unit_is_minutes_scales_t_minus_t() -> None:
    # 30 s left with a 60 s unit is T - t = 0.5, as above.
    quote = strategy(time_unit_seconds=60, horizon_seconds=3600).quote(
        paper_market(position=-200, close_in_s=30)
    )
    assert (quote.bids[0].price, quote.asks[0].price) == (996_546, 1_011_454)


def test_avellaneda_stoikov_when_model_is_glft_uses_the_closed_form_quotes() -> None:
    gl = 0.1
    c1 = math.log1p(gl / 1.5) / gl
    c2 = math.sqrt(0.1 * 4 / (2 * 140 * 1.5) * (1 + gl / 1.5) ** (1 + 1.5 / gl))
    quote = strategy(model="glft").quote(paper_market(position=200))
    assert quote.bids[0].price == math.floor((100 - c1 - 2.5 * c2) * 10_000)
    assert quote.asks[0].price == math.ceil((100 + c1 - 1.5 * c2) * 10_000)
    assert (quote.bids[0].price, quote.asks[0].price) == (992_253, 1_005_679)


def test_avellaneda_stoikov_when_inventory_is_at_the_bound_quotes_only_the_reducing_side() -> None:
    quote = strategy(model="glft", glft_solution="asymptotic", max_inventory=2).quote(paper_market(position=200))
    assert quote.bids == ()
    assert quote.asks[0].price == 1_005_679


def test_avellaneda_stoikov_when_size_shape_is_set_shrinks_the_growing_side() -> None:
    # q = 2, eta = 0.5: bid size 10*e^-1 = 3.67 -> 3 contracts.
    quote = strategy(size=10, size_shape=D("0.5")).quote(paper_market(position=200))
    assert (quote.bids[0].size, quote.asks[0].size) == (300, 1000)


def test_avellaneda_stoikov_on_a_cent_grid_rounds_outward_and_stays_passive() -> None:
    # Kalshi 0.48/0.52, sigma 0.01, gamma 1, k 100, rolling 1000 s: r = 0.50, half = 0.05 + 0.00995.
    config = {"gamma": 1, "k": 100, "sigma": D("0.01"), "horizon": "rolling", "horizon_seconds": 1000}
    quote = AvellanedaStoikovStrategy(config).quote(market([(4800, 1000)], [(4800, 1000)]))
    assert quote == Quote(TICKER, (Level(4400, 100),), (Level(5600, 100),))


def test_avellaneda_stoikov_when_inventory_pushes_through_the_book_stays_one_tick_inside() -> None:
    config = {"gamma": 1, "k": 100, "sigma": D("0.01"), "horizon": "rolling", "horizon_seconds": 1000}
    quote = AvellanedaStoikovStrategy(config).quote(market([(4800, 1000)], [(4800, 1000)], position=-2000))
    # r = 0.50 + 20*0.1 = 2.50: the bid would cross the 0.52 ask -> 0.51; the ask clamps to the grid top.
    assert quote.bids == (Level(5100, 100),)
    assert quote.asks == (Level(9900, 100),)


def test_avellaneda_stoikov_near_zero_clamps_the_bid_to_the_grid_minimum() -> None:
    config = {"gamma": 1, "k": 100, "sigma": D("0.01"), "horizon": "rolling", "horizon_seconds": 1000}
    quote = AvellanedaStoikovStrategy(config).quote(market([(200, 1000)], [(9600, 1000)], grid=TAPERED))
    # s = 0.03, half 0.06: bid -0.03 -> 0.001 (grid min); ask 0.09 on the 0.001 tier.
    assert quote == Quote(TICKER, (Level(10, 100),), (Level(900, 100),))


def test_avellaneda_stoikov_when_allow_cross_is_set_may_reach_through_the_book() -> None:
    config = {"gamma": 1, "k": 100, "sigma": D("0.01"), "horizon": "rolling", "horizon_seconds": 1000}
    quote = AvellanedaStoikovStrategy({**config, "allow_cross": True}).quote(
        market([(4800, 1000)], [(4800, 1000)], position=-300)
    )
    # r = 0.50 + 3*0.1 = 0.80: bid 0.7400 crosses the 0.52 ask.
    assert quote.bids == (Level(7400, 100),)


def test_avellaneda_stoikov_when_book_is_invalid_or_locked_pulls_the_market() -> None:
    view = paper_market()
    view.book.invalidate()
    assert strategy().quote(view).is_empty
    assert strategy().quote(market([(5000, 100)], [(5000, 100)])).is_empty


def test_avellaneda_stoikov_when_sigma_is_estimated_uses_the_cold_start_then_the_estimate() -> None:
    strat = strategy(
        sigma=0, sigma_model="price", sigma_initial=D("0.5"), sigma_floor=D("0.1"), sigma_min_moves=4,
        sigma_halflife_seconds=10**6,
    )
    view = paper_market()
    strat.quote(view)
    assert strat.sigma2(TICKER) == pytest.approx(0.25)
    # The mid moves +-$0.02 every second: a variance rate of 0.0004 $^2 per second.
    for second, mid in enumerate([1_000_200, 1_000_000, 1_000_200, 1_000_000], start=1):
        view = paper_market(mid)
        view.now_ns = NOW_NS + second * NANOS_PER_SECOND
        strat.quote(view)
    assert strat.sigma2(TICKER) == pytest.approx(0.1**2)  # 0.0004 is under the floor
    strat.update_params({"sigma_floor": 0})
    assert strat.sigma2(TICKER) == pytest.approx(0.0004, rel=1e-3)


def test_mid_variance_when_sampled_irregularly_measures_change_squared_per_time() -> None:
    estimator = MidVariance(halflife_ns=1e18, unit_ns=NANOS_PER_SECOND)
    estimator.update(10_000, 0)
    estimator.update(10_100, 1 * NANOS_PER_SECOND)  # +0.01 after 1 s
    estimator.update(10_100, 4 * NANOS_PER_SECOND)  # nothing for 3 s
    estimator.update(10_000, 4 * NANOS_PER_SECOND)  # same instant: measured at the next time
    estimator.update(10_000, 5 * NANOS_PER_SECOND)  # -0.01 within the last 1 s
    assert estimator.variance(min_moves=2) == pytest.approx(2 * 0.0001 / 5)
    assert estimator.variance(min_moves=3) is None


def test_fill_intensity_when_fills_follow_two_depths_recovers_k_and_a() -> None:
    # Exposure 100 time units at 0.105 and at 0.305 (bin centres); A e^(-k d) with k = 5, A = 50.
    fit = FillIntensity(bin_width=0.01)
    fit.expose(0.1, 100)
    fit.expose(0.3, 100)
    for depth in (0.105, 0.305):
        for _ in range(round(100 * 50 * math.exp(-5 * depth))):
            fit.fill(depth)
    fit.fit()
    assert fit.k == pytest.approx(5, rel=0.01)
    assert fit.a == pytest.approx(50, rel=0.02)


def test_fill_intensity_when_one_depth_only_leaves_k_unknown() -> None:
    fit = FillIntensity(bin_width=0.01)
    fit.expose(0.1, 100)
    fit.fill(0.1)
    fit.fit()
    assert fit.k is None


def test_avellaneda_stoikov_when_estimating_k_refits_from_fills_at_quoted_depths() -> None:
    strat = strategy(estimate_k=True, k_min_fills=2, model="glft", k_prior_fills=0)
    view = paper_market()
    # Flat, then long 10 (deeper bids, shallower asks), then flat: exposure at three depths.
    for second, position in enumerate([0, 1000, 0]):
        view = paper_market(position=position)
        view.now_ns = NOW_NS + second * NANOS_PER_SECOND
        strat.quote(view)
    fill = OrderFilled(
        ts_ns=NOW_NS,
        client_order_id="c",
        ticker=TICKER,
        order_id="o",
        trade_id="t",
        side=BookSide.BID,
        price=990_000,
        count=100,
        fee=0,
        is_taker=False,
    )
    for _ in range(2):
        strat.on_fill(fill, view)
    k, a = strat.intensity(TICKER)
    assert (k, a) != (1.5, 140.0)  # refit from two fills
    assert k > 0 and a > 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"gamma": 0}, "gamma"),
        ({"size": D("0.001")}, "size"),
        ({"model": "hjb"}, "model"),
        ({"horizon": "forever"}, "horizon"),
        ({"gama": 1}, "gama"),
    ],
)
def test_avellaneda_stoikov_when_config_is_invalid_raises_naming_the_field(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        strategy(**config)


def test_avellaneda_stoikov_when_updating_gamma_applies_it_and_refuses_fixed_fields() -> None:
    strat = strategy()
    strat.update_params({"gamma": D("0.01")})
    assert strat.params.gamma == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="model"):
        strat.update_params({"model": "glft"})


def test_avellaneda_stoikov_spec_declares_schema_defaults_and_updatable_fields() -> None:
    props = SPEC.config_schema["properties"]
    assert all("default" in field and "description" in field for field in props.values())
    assert SPEC.updatable <= set(props)
    assert isinstance(SPEC.factory(dict(SPEC.example), None), AvellanedaStoikovStrategy)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------------

GRIDS = [TickGrid.linear_cent(), TickGrid.uniform(10), TAPERED]


@st.composite
def random_market(draw: st.DrawFn) -> MarketState:
    grid = draw(st.sampled_from(GRIDS))
    prices = st.integers(grid.min_price, grid.max_price).map(lambda p: grid.round_down(p) or grid.min_price)
    yes = draw(st.lists(st.tuples(prices, st.integers(1, 5000)), max_size=3, unique_by=lambda lv: lv[0]))
    no = draw(st.lists(st.tuples(prices, st.integers(1, 5000)), max_size=3, unique_by=lambda lv: lv[0]))
    close = NOW_NS + draw(st.integers(-10, 10_000)) * NANOS_PER_SECOND
    view = market(yes, no, grid=grid, position=draw(st.integers(-100_000, 100_000)), close_ts_ns=close)
    view.fair_value = draw(st.one_of(st.none(), st.integers(0, 10_000)))
    return view


configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["as", "glft"]),
        "gamma": st.sampled_from([D("0.001"), D("0.1"), D("1"), D("50")]),
        "k": st.sampled_from([D("0.5"), D("10"), D("200")]),
        "sigma": st.sampled_from([D("0"), D("0.001"), D("0.05"), D("2")]),
        "horizon": st.sampled_from(["close", "fixed", "rolling"]),
        "reference": st.sampled_from(["mid", "microprice", "fair_value"]),
        "size_shape": st.sampled_from([D("0"), D("0.1")]),
        "max_inventory": st.sampled_from([0, 50]),
    }
)


@settings(max_examples=300, deadline=None)
@given(view=random_market(), config=configs)
def test_avellaneda_stoikov_never_quotes_crossed_off_grid_or_out_of_range(
    view: MarketState, config: dict[str, Any]
) -> None:
    quote = AvellanedaStoikovStrategy({"size": 10, **config}).quote(view)
    grid = view.info.grid  # type: ignore[union-attr]
    for level in (*quote.bids, *quote.asks):
        assert grid.is_valid(level.price)
        assert level.size > 0 and level.size % 100 == 0
    assert len(quote.bids) <= 1 and len(quote.asks) <= 1
    best_bid, best_ask = view.book.best_bid(), view.book.best_ask()
    if quote.bids and best_ask is not None:
        assert quote.bids[0].price < best_ask
    if quote.asks and best_bid is not None:
        assert quote.asks[0].price > best_bid
    if quote.bids and quote.asks:
        assert quote.bids[0].price < quote.asks[0].price
