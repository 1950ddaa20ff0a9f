"""Properties of the rules that reshape quotes (min-spread, price-band, max-order-size): whatever
they are given, what they return stays on the grid, ordered, uncrossed, and never larger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_risk.max_order_size import MaxOrderSizeRule
from mmframe_risk.min_spread import MinSpreadRule
from mmframe_risk.price_band import PriceBandRule

from mmframe.api import Level, Quote, TickGrid, VerdictKind
from mmframe.domain.grid import PriceRange
from tests.risk.risk_views import TICKER, market, portfolio_of

TAPERED = TickGrid([PriceRange(0, 1000, 10), PriceRange(1000, 9000, 100), PriceRange(9000, 10_000, 10)])
GRIDS = [TickGrid.linear_cent(), TickGrid.uniform(10), TAPERED]
dollars = st.integers(0, 9_999).map(lambda u: Decimal(u) / 10_000)  # prices and spreads are below $1


@st.composite
def case(draw: st.DrawFn) -> tuple[TickGrid, Quote]:
    grid = draw(st.sampled_from(GRIDS))
    on_grid = st.integers(grid.min_price, grid.max_price).map(lambda p: grid.round_down(p) or grid.min_price)
    cut = draw(on_grid)
    bids = sorted({p for p in draw(st.lists(on_grid, max_size=4)) if p < cut}, reverse=True)
    asks = sorted({p for p in draw(st.lists(on_grid, max_size=4)) if p > cut})
    size = st.integers(1, 5000).map(lambda s: s * 100)
    return grid, Quote(
        TICKER, tuple(Level(p, draw(size)) for p in bids), tuple(Level(p, draw(size)) for p in asks)
    )


rules = st.one_of(
    st.builds(lambda m: MinSpreadRule({"min_spread": m}), dollars.filter(lambda d: d > 0)),
    st.builds(
        lambda band, mid, action: PriceBandRule(
            {"min_price": band[0], "max_price": band[1], "max_distance_from_mid": mid, "action": action}
        ),
        st.tuples(dollars, dollars).map(sorted),  # min_price <= max_price (a config check)
        dollars,
        st.sampled_from(["clip", "block"]),
    ),
    st.builds(
        lambda size, cap: MaxOrderSizeRule({"max_size": size, "max_notional": cap}),
        st.integers(1, 60),
        dollars,
    ),
)


@settings(max_examples=300, deadline=None)
@given(case(), rules)
def test_quote_shaping_rules_keep_quotes_on_grid_ordered_uncrossed_and_no_larger(c: Any, rule: Any) -> None:
    grid, quote = c
    view = market([(4800, 1000)], [(4800, 1000)], grid=grid)
    verdict = rule.check(quote, view, portfolio_of(view))
    assert verdict.kind is not VerdictKind.HALT
    if verdict.kind is not VerdictKind.ADJUST:
        return
    out = verdict.quote
    for level in (*out.bids, *out.asks):
        assert grid.is_valid(level.price)
        assert level.size > 0
    assert all(a.price > b.price for a, b in zip(out.bids, out.bids[1:], strict=False))
    assert all(a.price < b.price for a, b in zip(out.asks, out.asks[1:], strict=False))
    if out.bids and out.asks:
        assert out.bids[0].price < out.asks[0].price
    largest = max((lv.size for lv in (*quote.bids, *quote.asks)), default=0)
    assert all(lv.size <= largest for lv in (*out.bids, *out.asks))
    if isinstance(rule, MinSpreadRule) and out.spread is not None:
        assert out.spread >= rule.params.min_spread
