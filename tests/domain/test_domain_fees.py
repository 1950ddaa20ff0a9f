"""Kalshi fees: exact quadratic formula, rounding to $0.0001 and to the cent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.fees import FeeType, fee_cents_rounded, fill_fee, maker_fee, taker_fee


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
