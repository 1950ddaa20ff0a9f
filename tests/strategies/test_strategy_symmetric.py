"""The ``symmetric`` strategy: exact quotes on known books, config errors, and never-crossing properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_strategies.symmetric import SPEC, SymmetricStrategy

from mmframe.api import BookSide, ConfigError, Level, Quote, TickGrid
from mmframe.domain.grid import PriceRange
from tests.strategies.strategy_views import NOW_NS, TICKER, MarketState, market, resting

D = Decimal
TAPERED = TickGrid([PriceRange(0, 1000, 10), PriceRange(1000, 9000, 100), PriceRange(9000, 10_000, 10)])
DECI_CENT = TickGrid.uniform(10)


def strategy(**config: Any) -> SymmetricStrategy:
    return SymmetricStrategy({"spread": D("0.04"), "size": 10, **config})


def book_48_52(**kwargs: Any) -> MarketState:
    # YES bid 0.48 x 10, NO bid 0.48 x 10 -> YES ask 0.52 x 10; mid 0.50.
    return market([(4800, 1000)], [(4800, 1000)], **kwargs)


def test_symmetric_when_book_is_48_52_quotes_around_the_mid() -> None:
    assert strategy().quote(book_48_52()) == Quote(TICKER, (Level(4800, 1000),), (Level(5200, 1000),))


def test_symmetric_when_levels_are_set_spaces_them_with_level_size() -> None:
    quote = strategy(levels=3, level_spacing=D("0.02"), level_size=5).quote(book_48_52())
    assert quote.bids == (Level(4800, 1000), Level(4600, 500), Level(4400, 500))
    assert quote.asks == (Level(5200, 1000), Level(5400, 500), Level(5600, 500))


def test_symmetric_when_mid_is_between_ticks_rounds_bids_down_and_asks_up() -> None:
    # bid 0.48, ask 0.51: mid 0.4950; 0.4750 -> 0.47 and 0.5150 -> 0.52.
    quote = strategy().quote(market([(4800, 1000)], [(4900, 1000)]))
    assert (quote.bids[0].price, quote.asks[0].price) == (4700, 5200)


def test_symmetric_when_reference_is_microprice_centres_on_it() -> None:
    # bid 0.48 x 30, ask 0.52 x 10: microprice = (4800*10 + 5200*30) / 40 = 5100.
    quote = strategy(reference="microprice").quote(market([(4800, 3000)], [(4800, 1000)]))
    assert (quote.bids[0].price, quote.asks[0].price) == (4900, 5300)


def test_symmetric_when_reference_is_fair_value_centres_on_it_and_stays_passive() -> None:
    view = market([(4800, 1000)], [(4800, 1000)])
    view.fair_value = 5600
    quote = strategy(spread=D("0.02"), reference="fair_value").quote(view)
    # 0.55 would take the 0.52 ask: post-only keeps the bid one tick under it.
    assert quote.bids == (Level(5100, 1000),)
    assert quote.asks == (Level(5700, 1000),)


def test_symmetric_when_fair_value_is_missing_pulls_the_market() -> None:
    assert strategy(reference="fair_value").quote(book_48_52()).is_empty


def test_symmetric_when_book_is_invalid_pulls_the_market() -> None:
    view = book_48_52()
    view.book.invalidate()
    assert strategy().quote(view) == Quote.empty(TICKER)


def test_symmetric_when_book_is_locked_pulls_the_market() -> None:
    # YES bid 0.50 and NO bid 0.50 -> YES ask 0.50: locked.
    assert strategy().quote(market([(5000, 1000)], [(5000, 1000)])).is_empty


def test_symmetric_when_book_is_one_sided_and_reference_is_mid_pulls_the_market() -> None:
    assert strategy().quote(market([(4800, 1000)], [])).is_empty


def test_symmetric_when_long_shifts_the_quote_down_by_the_skew() -> None:
    view = book_48_52(position=1000)  # long 10 contracts
    quote = strategy(skew_per_contract=D("0.001")).quote(view)
    assert (quote.bids[0].price, quote.asks[0].price) == (4700, 5100)


def test_symmetric_when_short_beyond_the_bound_shifts_up_by_max_skew() -> None:
    view = book_48_52(position=-10_000)  # short 100 contracts -> 0.10, capped at 0.03
    quote = strategy(skew_per_contract=D("0.001"), max_skew=D("0.03")).quote(view)
    assert (quote.bids[0].price, quote.asks[0].price) == (5100, 5500)


def test_symmetric_when_long_shrinks_bid_sizes_only() -> None:
    view = book_48_52(position=1000)  # long 10: shrink 10 x 0.05 = 50%
    quote = strategy(size_skew_per_contract=D("0.05")).quote(view)
    assert quote.bids == (Level(4800, 500),)
    assert quote.asks == (Level(5200, 1000),)


def test_symmetric_when_size_skew_reaches_the_bound_drops_the_growing_side() -> None:
    view = book_48_52(position=-5000)
    quote = strategy(size_skew_per_contract=D("0.05")).quote(view)
    assert quote.bids == (Level(4800, 1000),)
    assert quote.asks == ()


def test_symmetric_when_reference_moves_less_than_tolerance_keeps_the_previous_one() -> None:
    strat = strategy(refresh_tolerance=D("0.015"))
    assert strat.quote(book_48_52()).bids[0].price == 4800
    moved = market([(4800, 1000)], [(4600, 1000)])  # mid 0.51
    assert strat.quote(moved).bids[0].price == 4800
    far = market([(4900, 1000)], [(4500, 1000)])  # mid 0.52: moved 0.02 >= tolerance
    assert strat.quote(far).bids[0].price == 5000


@pytest.mark.parametrize(
    ("join", "ticks", "expected"),
    [
        ("none", 1, (4900, 5100)),
        ("join", 1, (4500, 5500)),
        ("improve", 1, (4600, 5400)),
        ("improve", 2, (4700, 5300)),
    ],
)
def test_symmetric_when_join_mode_is_set_backs_off_to_the_touch(
    join: str, ticks: int, expected: tuple[int, int]
) -> None:
    view = market([(4500, 1000)], [(4500, 1000)])  # 0.45 / 0.55
    quote = strategy(spread=D("0.02"), join=join, max_improve_ticks=ticks).quote(view)
    assert (quote.bids[0].price, quote.asks[0].price) == expected


def test_symmetric_when_joining_ignores_our_own_resting_order() -> None:
    view = market([(4500, 1000), (4400, 300)], [(4500, 1000)])
    view.working_orders = [resting(BookSide.BID, 4500, 1000)]
    quote = strategy(spread=D("0.02"), join="join").quote(view)
    assert quote.bids[0].price == 4400


def test_symmetric_when_order_is_older_than_max_age_leaves_its_level_out() -> None:
    view = book_48_52()
    view.working_orders = [
        resting(BookSide.BID, 4800, 1000, created_ns=NOW_NS - 31 * 10**9),
        resting(BookSide.ASK, 5200, 1000, created_ns=NOW_NS - 29 * 10**9),
    ]
    quote = strategy(max_order_age_s=30).quote(view)
    assert quote.bids == ()
    assert quote.asks == (Level(5200, 1000),)


def test_symmetric_when_grid_is_deci_cent_quotes_on_it() -> None:
    quote = strategy(spread=D("0.0045"), min_spread=0).quote(book_48_52(grid=DECI_CENT))
    assert (quote.bids[0].price, quote.asks[0].price) == (4970, 5030)


def test_symmetric_when_grid_is_tapered_near_zero_uses_the_fine_ticks() -> None:
    # bid 0.050, ask 0.070 (NO bid 0.93): mid 0.06; 0.06 -/+ 0.015 -> 0.045 and 0.075.
    view = market([(500, 1000)], [(9300, 1000)], grid=TAPERED)
    quote = strategy(spread=D("0.03"), levels=2, level_spacing=D("0.005")).quote(view)
    assert quote.bids == (Level(450, 1000), Level(400, 1000))
    assert quote.asks == (Level(750, 1000), Level(800, 1000))


def test_symmetric_when_market_is_a_wide_paper_market_uses_its_payout_and_grid() -> None:
    payout = 1000 * 10_000  # $1000
    view = market(
        [(1_000_000, 100)], [(payout - 1_000_200, 100)], grid=TickGrid.uniform(1, top=payout), payout=payout
    )
    quote = strategy(spread=D("0.5"), min_spread=0, size=1).quote(view)
    # mid $100.01, +/- $0.25
    assert quote == Quote(TICKER, (Level(997_600, 100),), (Level(1_002_600, 100),))


def test_symmetric_when_quote_near_the_grid_edge_drops_levels_off_the_grid() -> None:
    view = market([(200, 1000)], [(9600, 1000)])  # 0.02 / 0.04, mid 0.03
    quote = strategy(levels=3).quote(view)
    assert quote.bids == (Level(100, 1000),)
    assert quote.asks == (Level(500, 1000), Level(600, 1000), Level(700, 1000))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"spread": D("0.00005")}, "spread"),
        ({"size": D("1.005")}, "size"),
        ({"sprad": D("0.04")}, "sprad"),
        ({"levels": 0}, "levels"),
        ({"join": "always"}, "join"),
        ({"size": D("0.5"), "size_increment": 1}, "size_increment"),
    ],
)
def test_symmetric_when_config_is_invalid_raises_naming_the_field(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        strategy(**config)


def test_symmetric_when_updating_params_applies_them() -> None:
    strat = strategy()
    strat.update_params({"spread": D("0.06"), "size": 5})
    assert strat.quote(book_48_52()) == Quote(TICKER, (Level(4700, 500),), (Level(5300, 500),))


def test_symmetric_when_updating_a_fixed_or_invalid_param_refuses_and_keeps_the_old_ones() -> None:
    strat = strategy()
    with pytest.raises(ConfigError, match="size_increment"):
        strat.update_params({"size_increment": 2})
    with pytest.raises(ConfigError, match="spread"):
        strat.update_params({"size": 5, "spread": D("-1")})
    assert strat.params.size == 1000


def test_symmetric_spec_declares_schema_defaults_and_updatable_fields() -> None:
    props = SPEC.config_schema["properties"]
    assert all("default" in field and "description" in field for field in props.values())
    assert SPEC.updatable <= set(props)
    assert isinstance(SPEC.factory(dict(SPEC.example), None), SymmetricStrategy)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------------

GRIDS = [TickGrid.linear_cent(), DECI_CENT, TAPERED]


@st.composite
def random_market(draw: st.DrawFn) -> MarketState:
    grid = draw(st.sampled_from(GRIDS))
    prices = st.integers(grid.min_price, grid.max_price).map(lambda p: grid.round_down(p) or grid.min_price)
    sizes = st.integers(1, 5000)
    yes = draw(st.lists(st.tuples(prices, sizes), max_size=4, unique_by=lambda lv: lv[0]))
    no = draw(st.lists(st.tuples(prices, sizes), max_size=4, unique_by=lambda lv: lv[0]))
    view = market(yes, no, grid=grid, position=draw(st.integers(-50_000, 50_000)))
    view.fair_value = draw(st.one_of(st.none(), st.integers(-500, 10_500)))
    return view


configs = st.fixed_dictionaries(
    {
        "spread": st.integers(1, 3000).map(lambda u: D(u) / 10_000),
        "min_spread": st.integers(0, 500).map(lambda u: D(u) / 10_000),
        "levels": st.integers(1, 4),
        "level_spacing": st.integers(1, 500).map(lambda u: D(u) / 10_000),
        "reference": st.sampled_from(["mid", "microprice", "fair_value"]),
        "skew_per_contract": st.integers(0, 100).map(lambda u: D(u) / 10_000),
        "max_skew": st.integers(0, 2000).map(lambda u: D(u) / 10_000),
        "size_skew_per_contract": st.integers(0, 100).map(lambda u: D(u) / 1000),
        "join": st.sampled_from(["none", "join", "improve"]),
        "max_improve_ticks": st.integers(0, 5),
    }
)


@settings(max_examples=300, deadline=None)
@given(view=random_market(), config=configs)
def test_symmetric_never_quotes_crossed_off_grid_or_out_of_range(
    view: MarketState, config: dict[str, Any]
) -> None:
    quote = SymmetricStrategy({"size": 10, **config}).quote(view)
    grid = view.info.grid  # type: ignore[union-attr]
    book = view.book
    for level in (*quote.bids, *quote.asks):
        assert grid.is_valid(level.price)
        assert level.size > 0 and level.size % 100 == 0
    assert all(a.price > b.price for a, b in zip(quote.bids, quote.bids[1:], strict=False))
    assert all(a.price < b.price for a, b in zip(quote.asks, quote.asks[1:], strict=False))
    best_bid, best_ask = book.best_bid(), book.best_ask()
    if quote.bids and best_ask is not None:
        assert quote.bids[0].price < best_ask
    if quote.asks and best_bid is not None:
        assert quote.asks[0].price > best_bid
    if quote.bids and quote.asks:
        assert quote.bids[0].price < quote.asks[0].price


def test_symmetric_when_our_bid_makes_the_touch_centres_on_the_others_mid() -> None:
    # Others: 0.46 bid / 0.54 ask (mid 0.50). Our own bid at 0.48 improves the bid side: the book's mid
    # is 0.51, but a quote centred there would chase itself; the others' mid stays 0.50.
    view = market([(4600, 1000), (4800, 1000)], [(4600, 1000)])
    view.working_orders = (resting(BookSide.BID, 4800, 1000),)

    quote = strategy().quote(view)

    assert quote.bids[0].price == 4800 and quote.asks[0].price == 5200


def _moved_bid_view() -> MarketState:
    """Others 0.46 / 0.54; our bid rests at 0.48 and the book shows it there."""
    view = market([(4600, 1000), (4800, 1000)], [(4600, 1000)])
    view.working_orders = (resting(BookSide.BID, 4800, 1000),)
    return view


def test_symmetric_when_amend_answer_beats_its_book_deltas_keeps_the_reference() -> None:
    # The REST answer moved our bid to 0.50 in the tracker; the book still shows it at 0.48 (its
    # deltas are on their way). Counted as someone else's, that 0.48 would make the others' mid
    # 0.51 and the quote would chase our own order. The reference is held at 0.50.
    s = strategy()
    view = _moved_bid_view()
    assert s.quote(view).asks[0].price == 5200
    view.working_orders = (resting(BookSide.BID, 5000, 1000),)

    quote = s.quote(view)

    assert quote.asks[0].price == 5200


def test_symmetric_when_book_catches_up_with_the_amend_quotes_fresh_again() -> None:
    s = strategy()
    view = _moved_bid_view()
    s.quote(view)
    view.working_orders = (resting(BookSide.BID, 5000, 1000),)
    s.quote(view)
    # The deltas arrive: our size leaves 0.48 and shows at 0.50; others moved their ask to 0.56.
    view.book.apply_snapshot([(4600, 1000), (5000, 1000)], [(4400, 1000)], ts_ns=NOW_NS)

    quote = s.quote(view)

    assert quote.asks[0].price == 5300  # others' mid (0.46 + 0.56) / 2 = 0.51


def test_symmetric_when_book_disagrees_longer_than_the_hold_quotes_fresh() -> None:
    s = strategy()
    view = _moved_bid_view()
    s.quote(view)
    view.working_orders = (resting(BookSide.BID, 5000, 1000),)
    s.quote(view)
    view.now_ns = NOW_NS + 500_000_000  # the tracker may be wrong for good: do not freeze the quote

    quote = s.quote(view)

    assert quote.asks[0].price == 5300  # the book's 0.48 now counts as others': mid 0.51


def test_symmetric_when_an_order_change_is_in_flight_keeps_the_reference() -> None:
    s = strategy()
    view = _moved_bid_view()
    s.quote(view)
    amending = resting(BookSide.BID, 4800, 1000)
    amending.pending_change, amending.pending_price = True, 5000
    view.working_orders = (amending,)
    view.book.apply_snapshot([(4600, 1000), (5000, 1000)], [(4600, 1000)], ts_ns=NOW_NS)  # moved first

    quote = s.quote(view)

    assert quote.asks[0].price == 5200


def test_symmetric_when_the_book_never_showed_our_orders_does_not_hold() -> None:
    # A synthetic (backtest) book never contains our orders: nothing to disagree about.
    s = strategy()
    view = market([(4600, 1000)], [(4600, 1000)])
    view.working_orders = (resting(BookSide.BID, 4800, 1000),)
    s.quote(view)
    view.book.apply_snapshot([(4800, 500)], [(4400, 1000)], ts_ns=NOW_NS)  # less than our size

    quote = s.quote(view)

    assert quote.asks[0].price == 5400  # fresh, not held at 0.50: (0.48 + 0.56) / 2 = 0.52
