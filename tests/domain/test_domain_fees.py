"""Kalshi fees: exact quadratic formula, rounding to $0.0001 and to the cent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.fees import (
    FeeType,
    OrderFees,
    fee_cents_rounded,
    fill_fee,
    maker_fee,
    taker_fee,
    trade_fee,
)


def test_taker_fee_when_ten_contracts_at_fifty_cents_is_exact_seventeen_and_a_half_cents() -> None:
    assert taker_fee(5000, 1000) == 1750  # $0.175


def test_fill_fee_when_taker_whole_cents_then_ceil_to_cent() -> None:
    assert fill_fee(5000, 1000, is_taker=True, fee_type=FeeType.QUADRATIC) == 1800  # $0.18


def test_fill_fee_when_maker_fee_series_whole_cents_then_ceil_to_cent() -> None:
    assert maker_fee(5000, 1000, FeeType.QUADRATIC_WITH_MAKER_FEES) == 438  # $0.04375 -> $0.0438
    assert fill_fee(5000, 1000, is_taker=False, fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES) == 500  # $0.05


def test_maker_fee_when_quadratic_series_is_zero() -> None:
    assert maker_fee(5000, 1000, FeeType.QUADRATIC) == 0
    assert fill_fee(5000, 1000, is_taker=False, fee_type=FeeType.QUADRATIC) == 0


def test_maker_fee_when_combo_series_is_half_of_taker_rate() -> None:
    assert maker_fee(5000, 1000, FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES) == 875  # 0.035 x 10 x 0.25


def test_fill_fee_when_sub_penny_price_then_rounds_to_price_unit() -> None:
    # 10 @ $0.555: 0.07 x 10 x 0.555 x 0.445 = 0.17287... -> $0.1729
    assert fill_fee(5550, 1000, is_taker=True, fee_type=FeeType.QUADRATIC) == 1729
    # 0.5 contract @ $0.50: 0.00875 -> $0.0088
    assert fill_fee(5000, 50, is_taker=True, fee_type=FeeType.QUADRATIC) == 88


def test_taker_fee_when_fee_multiplier_then_scales() -> None:
    assert taker_fee(5000, 1000, multiplier_bps=20_000) == 3500
    assert taker_fee(5000, 1000, multiplier_bps=0) == 0


def test_fee_cents_rounded_when_one_contract_at_extreme_price_then_at_least_a_cent() -> None:
    assert fee_cents_rounded(100, 100, is_taker=True, fee_type=FeeType.QUADRATIC) == 100  # $0.000693 -> $0.01
    assert taker_fee(100, 100) == 7  # $0.000693 -> $0.0007


@pytest.mark.parametrize(("price", "count"), [(-1, 100), (10_001, 100), (5000, -1)])
def test_taker_fee_when_out_of_range_raises_clear_error(price: int, count: int) -> None:
    with pytest.raises(ValueError, match=r"fee (price|count)"):
        taker_fee(price, count)


def test_fill_fee_when_fee_type_given_as_string_accepts_kalshi_name() -> None:
    fee = fill_fee(5000, 1000, is_taker=False, fee_type="quadratic_with_maker_fees")  # type: ignore[arg-type]
    assert fee == 500


@settings(deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10**7), st.sampled_from([5_000, 10_000, 15_000]))
def test_taker_fee_when_any_fill_is_exact_ceiling_of_formula(price: int, count: int, mult: int) -> None:
    exact = Fraction(7, 100) * Fraction(count, 100) * Fraction(price, 10_000) * (1 - Fraction(price, 10_000))
    exact *= Fraction(mult, 10_000)
    units = exact * 10_000
    fee = taker_fee(price, count, mult)
    assert fee - 1 < units <= fee
    cents = fee_cents_rounded(price, count, is_taker=True, fee_type=FeeType.QUADRATIC, multiplier_bps=mult)
    assert cents % 100 == 0 and cents - 100 < units <= cents


# --- the venue's per-order charge (API.md §9, OrderFees) -------------------------------------------

CENT_MICRO = 10_000


def test_order_fees_when_subpenny_price_fills_in_three_lots_charges_what_one_fill_would() -> None:
    fees = OrderFees()
    # Buy 3 at $0.055 as three 1-lot taker matches: trade fee $0.0037 each (0.07 x 0.055 x 0.945 up).
    trade = taker_fee(550, 100)
    assert trade == 37
    charged = [fees.charge("o1", -100 * 550, trade) for _ in range(3)]
    assert charged == [5_000, 5_000, 5_000]  # each balance change floored: -$0.0587 -> -$0.06
    single = OrderFees().charge("o2", -300 * 550, taker_fee(550, 300))
    assert sum(charged) == single == 15_000  # what one fill of 3 costs: -$0.176 -> -$0.18
    assert fees.pending() == {"o1": 3 * 1300}


def test_order_fees_when_rounding_reaches_a_cent_refunds_it_on_that_fill() -> None:
    fees = OrderFees()
    # 3 then 7 contracts at $0.50: trade fees $0.0525 and $0.1225, whole-cent revenue.
    assert fees.charge("o", -300 * 5000, 525) == 6 * CENT_MICRO  # $0.0075 rounding
    assert fees.charge("o", -700 * 5000, 1225) == 12 * CENT_MICRO  # $0.0075 more, a cent refunded
    assert fees.pending() == {"o": 5000}
    assert fees.charge("other", -100 * 5000, 175) == 2 * CENT_MICRO  # another order: its own accumulator


def test_order_fees_when_an_order_is_restored_after_a_restart_continues_its_accumulator() -> None:
    before = OrderFees()
    before.charge("o", -300 * 5000, 525)
    after = OrderFees()
    after.restore(before.pending())
    assert after.charge("o", -700 * 5000, 1225) == before.charge("o", -700 * 5000, 1225)


def test_order_fees_when_direct_member_precision_floors_to_the_hundredth_of_a_cent() -> None:
    fees = OrderFees(precision_micro=100)
    assert fees.charge("o", -100 * 550, 37) == 3_700  # nothing to round: the trade fee itself


@pytest.mark.parametrize(("precision", "fee"), [(0, 0), (10_000, -1)])
def test_order_fees_when_bad_input_refuses_it(precision: int, fee: int) -> None:
    with pytest.raises(ValueError, match=r"precision|negative"):
        OrderFees(precision_micro=precision).charge("o", 0, fee)


def test_trade_fee_when_taker_or_maker_is_the_fee_rounded_to_the_price_unit() -> None:
    assert trade_fee(5000, 1000, is_taker=True, fee_type=FeeType.QUADRATIC) == 1750
    assert trade_fee(5000, 1000, is_taker=False, fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES) == 438
    assert trade_fee(5000, 1000, is_taker=False, fee_type=FeeType.QUADRATIC) == 0


_fills = st.lists(
    st.tuples(st.sampled_from([1, -1]), st.integers(1, 9_999), st.integers(1, 10_000), st.booleans()),
    min_size=1, max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_fills, st.sampled_from([100, 10_000]))
def test_order_fees_when_an_order_fills_in_parts_charges_the_floor_of_its_total_balance_change(
    fills: list[tuple[int, int, int, bool]], precision: int
) -> None:
    # The venue's rule over an order's fills, written independently: after every fill the balance
    # has moved by floor(sum of revenues - sum of trade fees) to the account precision.
    fees = OrderFees(precision_micro=precision)
    revenue = trade = charged = 0
    for sign, price, count, taker in fills:
        fee = taker_fee(price, count) if taker else maker_fee(price, count, FeeType.QUADRATIC_WITH_MAKER_FEES)
        cash = -sign * count * price
        charged += fees.charge("o", cash, fee)
        revenue += cash
        trade += fee * 100
        balance = (revenue - trade) // precision * precision
        assert revenue - charged == balance
        assert 0 <= charged - trade < precision  # never less than the trade fees, under one unit more
        assert 0 <= fees.pending().get("o", 0) < precision
