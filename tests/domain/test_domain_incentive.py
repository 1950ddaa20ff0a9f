"""The others' mid (our resting orders taken out of the book) and the estimated Liquidity Incentive
Program score of our resting orders: worked examples and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.book import OrderBook
from mmframe.domain.incentive import (
    DEFAULT_TERMS,
    IncentiveTerms,
    incentive_score,
    multiplier_bps,
    side_score,
)
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.others import others_best, others_mid
from mmframe.domain.quote import BookSide

BID, ASK = BookSide.BID, BookSide.ASK


def book(yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> OrderBook:
    """``no`` at NO prices (a YES ask at p rests as a NO bid at 1 - p)."""
    b = OrderBook("M")
    b.apply_snapshot(yes, no, ts_ns=1)
    return b


def order(side: BookSide, price: int, size: int, status: OrderStatus = OrderStatus.RESTING, n: int = 0) -> WorkingOrder:
    return WorkingOrder(f"c{n}-{side}-{price}", "M", side, price, size, status=status)


# --- the others' mid ---------------------------------------------------------------------------


def test_others_mid_when_our_bid_improves_the_book_uses_the_others_best_bid() -> None:
    b = book([(4500, 1000), (4600, 200)], [(5000, 1000)])  # YES ask 0.50
    assert b.mid() == 4800
    assert others_mid(b, [order(BID, 4600, 200)]) == 4750


def test_others_mid_when_others_share_our_level_keeps_it() -> None:
    b = book([(4600, 500)], [(5000, 1000)])
    assert others_mid(b, [order(BID, 4600, 200)]) == 4800


def test_others_mid_when_our_ask_is_alone_at_the_touch_uses_the_next_ask() -> None:
    b = book([(4500, 1000)], [(5000, 1000), (5300, 100)])  # asks 0.50 and 0.47 (ours)
    assert others_best(b, [order(ASK, 4700, 100)], ASK) == 5000
    assert others_mid(b, [order(ASK, 4700, 100)]) == 4750


def test_others_mid_when_a_pending_new_order_may_not_rest_yet_does_not_subtract_it() -> None:
    b = book([(4500, 1000), (4600, 200)], [(5000, 1000)])
    assert others_mid(b, [order(BID, 4600, 200, OrderStatus.PENDING_NEW)]) == 4800


def test_others_mid_when_only_we_make_a_side_or_the_book_is_invalid_is_none() -> None:
    b = book([(4600, 200)], [(5000, 1000)])
    assert others_mid(b, [order(BID, 4600, 200)]) is None
    b.invalidate()
    assert others_mid(b, []) is None


# --- the incentive score -----------------------------------------------------------------------


def test_multiplier_is_one_at_the_best_and_discounted_per_cent_away() -> None:
    assert [multiplier_bps(d, 5000) for d in range(4)] == [10_000, 5000, 2500, 1250]
    assert multiplier_bps(3, 10_000) == 10_000
    assert multiplier_bps(1, 0) == 0


def test_incentive_score_at_the_best_counts_our_full_size() -> None:
    b = book([(4500, 1000), (4600, 200)], [(5000, 1000)])
    assert incentive_score(b, [order(BID, 4600, 200)]) == 200


def test_incentive_score_one_cent_behind_is_discounted() -> None:
    b = book([(4500, 300), (4600, 100)], [(5000, 1000)])
    terms = IncentiveTerms(target_size=10_000, discount_bps=5000)
    assert incentive_score(b, [order(BID, 4500, 300)], terms) == 150  # 3 contracts x 0.5


def test_incentive_score_beyond_the_target_size_counts_nothing() -> None:
    b = book([(4500, 300), (4600, 1000)], [(5000, 1000)])  # the others fill the 10-contract target at 0.46
    terms = IncentiveTerms(target_size=1000, discount_bps=5000)
    assert incentive_score(b, [order(BID, 4500, 300)], terms) == 0


def test_incentive_score_at_the_level_that_reaches_the_target_shares_it_pro_rata() -> None:
    b = book([(4600, 400)], [(5000, 1000)])  # 4 contracts at the best, 1 of them ours
    terms = IncentiveTerms(target_size=200, discount_bps=5000)
    assert incentive_score(b, [order(BID, 4600, 100)], terms) == 50  # 2 of 4 count; our quarter of them


def test_incentive_score_adds_both_sides() -> None:
    b = book([(4600, 100)], [(5000, 100), (5300, 500)])  # asks 0.47 (ours 100 + 400), 0.50
    orders = [order(BID, 4600, 100), order(ASK, 4700, 100, n=1)]
    assert incentive_score(b, orders, DEFAULT_TERMS) == 200
    assert side_score(b, orders, ASK, DEFAULT_TERMS) == 100


def test_incentive_terms_when_out_of_range_refuse() -> None:
    with pytest.raises(ValueError, match="target"):
        IncentiveTerms(target_size=0, discount_bps=5000)
    with pytest.raises(ValueError, match="discount"):
        IncentiveTerms(target_size=100, discount_bps=10_001)


levels = st.lists(st.tuples(st.integers(1, 99).map(lambda c: c * 100), st.integers(1, 5000)), max_size=5,
                  unique_by=lambda level: level[0])


@settings(max_examples=300, deadline=None)
@given(yes=levels, no=levels, picks=st.lists(st.tuples(st.booleans(), st.integers(0, 4), st.integers(1, 100)),
                                             max_size=4),
       target=st.integers(1, 20_000), discount=st.integers(0, 10_000))
def test_incentive_score_never_exceeds_our_resting_size_or_the_target(
    yes: list[tuple[int, int]], no: list[tuple[int, int]], picks: list[tuple[bool, int, int]], target: int,
    discount: int,
) -> None:
    b = book(yes, no)
    orders = []
    for n, (is_bid, index, percent) in enumerate(picks):
        side_levels = b.bids() if is_bid else b.asks()
        if index < len(side_levels):
            price, size = side_levels[index]
            orders.append(order(BID if is_bid else ASK, price, max(1, size * percent // 100), n=n))
    mine: dict[tuple[BookSide, int], int] = {}
    for o in orders:  # the book never shows less than ours: keep each level's own total within it
        mine[(o.side, o.price)] = mine.get((o.side, o.price), 0) + o.remaining
    if any(total > b.size_at(side, price) for (side, price), total in mine.items()):
        return
    terms = IncentiveTerms(target_size=target, discount_bps=discount)
    for side in (BID, ASK):
        score = side_score(b, orders, side, terms)
        assert 0 <= score <= min(target, sum(o.remaining for o in orders if o.side is side))
    assert incentive_score(b, orders, terms) <= sum(o.remaining for o in orders)
    mid = others_mid(b, orders)
    if mid is not None:
        assert 0 < mid < 10_000
