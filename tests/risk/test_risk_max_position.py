"""``max-position``: sizes are clipped so no sequence of fills breaches the limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_risk._quotes import side_orders, worst_case_size
from mmframe_risk.max_position import MaxPositionRule

from mmframe.api import BookSide, ConfigError, OrderStatus, VerdictKind
from tests.risk.risk_views import MarketState, market, order, portfolio_of, quote

BID, ASK = BookSide.BID, BookSide.ASK


def check(rule: MaxPositionRule, q, view: MarketState, *others: MarketState):  # type: ignore[no-untyped-def]
    return rule.check(q, view, portfolio_of(view, *others))


def test_max_position_when_quote_fits_passes() -> None:
    rule = MaxPositionRule({"per_market": 20})
    verdict = check(rule, quote([(4800, 1000)], [(5200, 1000)]), market())
    assert verdict.kind is VerdictKind.PASS


def test_max_position_when_bids_exceed_the_limit_clips_the_far_levels_first() -> None:
    rule = MaxPositionRule({"per_market": 15})
    verdict = check(rule, quote([(4800, 1000), (4700, 1000)], [(5200, 1000)]), market())
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(4800, 1000), (4700, 500)], [(5200, 1000)])
    assert "max-position" in verdict.reason and "15.00" in verdict.reason


def test_max_position_when_long_clips_bids_and_lets_asks_reach_the_short_limit() -> None:
    rule = MaxPositionRule({"per_market": 15})
    view = market(position=1000)
    verdict = check(rule, quote([(4800, 1000)], [(5200, 2500), (5300, 1000)]), view)
    assert verdict.quote == quote([(4800, 500)], [(5200, 2500)])


def test_max_position_when_position_is_past_a_lowered_limit_quotes_no_bids() -> None:
    rule = MaxPositionRule({"per_market": 15})
    verdict = check(rule, quote([(4800, 1000)], [(5200, 1000)]), market(position=2000))
    assert verdict.quote == quote([], [(5200, 1000)])


def test_max_position_when_a_live_order_rests_at_another_price_counts_it_until_it_is_gone() -> None:
    rule = MaxPositionRule({"per_market": 15})
    view = market()
    view.working_orders = [order(BID, 4600, 1000)]
    verdict = check(rule, quote([(4800, 1000)]), view)
    assert verdict.quote == quote([(4800, 500)])


def test_max_position_when_an_order_is_being_cancelled_counts_it() -> None:
    rule = MaxPositionRule({"per_market": 15})
    view = market()
    view.working_orders = [order(BID, 4800, 1000, OrderStatus.PENDING_CANCEL)]
    verdict = check(rule, quote([(4800, 1000)]), view)
    assert verdict.quote == quote([(4800, 500)])


def test_max_position_when_the_live_order_is_the_quoted_level_does_not_count_it_twice() -> None:
    rule = MaxPositionRule({"per_market": 15})
    view = market()
    view.working_orders = [order(BID, 4800, 1000)]
    assert check(rule, quote([(4800, 1000)]), view).kind is VerdictKind.PASS


def test_max_position_when_an_amend_in_flight_may_raise_the_size_counts_the_larger_size() -> None:
    rule = MaxPositionRule({"per_market": 15})
    view = market()
    amending = order(BID, 4700, 500)
    amending.pending_change, amending.pending_price, amending.pending_size = True, 4800, 1000
    view.working_orders = [amending]
    verdict = check(rule, quote([(4900, 1000)]), view)
    assert verdict.quote == quote([(4900, 500)])


def test_max_position_when_total_is_set_leaves_this_market_what_the_others_do_not_use() -> None:
    rule = MaxPositionRule({"per_market": 50, "total": 100})
    other = market(position=8000)
    other.ticker = other.position.ticker = "OTHER"
    other.working_orders = [order(BID, 4000, 500, ticker="OTHER")]
    # The other market can reach 80 + 5 contracts long: 15 are left for this one.
    verdict = check(rule, quote([(4800, 2000)], [(5200, 2000)]), market(), other)
    assert verdict.quote == quote([(4800, 1500)], [(5200, 1500)])


def test_max_position_when_clipping_rounds_down_to_whole_contracts() -> None:
    rule = MaxPositionRule({"per_market": Decimal("10.5")})
    verdict = check(rule, quote([(4800, 2000)]), market())
    assert verdict.quote == quote([(4800, 1000)])


def test_max_position_when_limit_has_too_many_decimals_raises() -> None:
    with pytest.raises(ConfigError, match="per_market"):
        MaxPositionRule({"per_market": Decimal("1.001")})


def test_max_position_when_updating_the_limit_applies_it() -> None:
    rule = MaxPositionRule({"per_market": 100})
    rule.update_params({"per_market": 5})
    assert check(rule, quote([(4800, 1000)]), market()).quote == quote([(4800, 500)])


STATUSES = [
    OrderStatus.PENDING_NEW,
    OrderStatus.RESTING,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.PENDING_CANCEL,
]
prices = st.integers(40, 60).map(lambda c: c * 100)


@st.composite
def scenario(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    limit = draw(st.integers(0, 100)) * 100
    position = draw(st.integers(-120, 120)) * 100
    view = market(position=position)
    orders = []
    for n, (side, price, size, status, changing) in enumerate(
        draw(
            st.lists(
                st.tuples(
                    st.sampled_from([BID, ASK]),
                    prices,
                    st.integers(1, 3000),
                    st.sampled_from(STATUSES),
                    st.booleans(),
                ),
                max_size=6,
            )
        )
    ):
        made = order(side, price, size, status, n=n)
        made.pending_change = changing
        if changing:  # an amend or decrease in flight, possibly to a larger size
            made.pending_size = draw(st.integers(0, 3000))
        orders.append(made)
    view.working_orders = orders
    levels = st.lists(st.tuples(prices, st.integers(1, 5000)), max_size=4, unique_by=lambda lv: lv[0])
    bids = sorted(draw(levels), reverse=True)
    asks = sorted(draw(levels))
    return limit, view, quote(bids, asks)


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_max_position_never_lets_position_plus_what_could_fill_exceed_the_limit(case) -> None:  # type: ignore[no-untyped-def]
    limit, view, q = case
    verdict = MaxPositionRule({"per_market": limit // 100}).check(q, view, portfolio_of(view))
    out = verdict.quote if verdict.kind is VerdictKind.ADJUST else q
    assert verdict.kind in (VerdictKind.PASS, VerdictKind.ADJUST)
    position = view.position.position
    bid_orders = side_orders(view.working_orders, view.ticker, BID)
    ask_orders = side_orders(view.working_orders, view.ticker, ASK)
    # Once the reconciler is done: position + quoted bids within the limit (asks: short side).
    if out.bids:
        assert position + sum(lv.size for lv in out.bids) <= limit
    if out.asks:
        assert sum(lv.size for lv in out.asks) - position <= limit
    # While it works: the quote adds nothing beyond what could already fill, or stays within the limit.
    before_bids, after_bids = worst_case_size((), bid_orders), worst_case_size(out.bids, bid_orders)
    assert after_bids == before_bids or position + after_bids <= limit
    before_asks, after_asks = worst_case_size((), ask_orders), worst_case_size(out.asks, ask_orders)
    assert after_asks == before_asks or after_asks - position <= limit
    # And it never adds size a side did not ask for.
    asked = {(lv.price, lv.size) for lv in (*q.bids, *q.asks)}
    assert all(any(p == lv.price and s >= lv.size for p, s in asked) for lv in (*out.bids, *out.asks))
