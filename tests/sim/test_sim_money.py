"""The simulator's own money and fee code against hand-computed values from API.md §3 and §9.

Expected values are worked out by hand from the formulas in API.md (and the fee-rounding worked examples
of docs:/getting_started/fee_rounding that API.md §9 cites), never from the client's code.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mmframe_sim.fees import BPS, FeeType, charge_fill, maker_fee, taker_fee, trade_fee
from mmframe_sim.money import (
    CENT_MICROS,
    MoneyError,
    cost_micros,
    format_count,
    format_micros,
    format_micros_short,
    format_price,
    parse_count,
    parse_dollars,
    parse_price,
    per_contract_micros,
)

# --- parsing and formatting (API.md §3) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0.040590", 40_590),  # 0.41 contract at $0.099
        ("0.017486", 17_486),
        ("0.523333", 523_333),
        ("0.000125", 125),
        ("0.017500", 17_500),
        ("0.5", 500_000),
        ("0.56", 560_000),
        ("1", 1_000_000),
        ("2.500000", 2_500_000),
        ("-0.026666", -26_666),
        ("123456.000001", 123_456_000_001),
        ("0.000000", 0),
    ],
)
def test_parse_dollars_when_fixed_point_string_gives_exact_micros(text: str, micros: int) -> None:
    assert parse_dollars(text) == micros


@pytest.mark.parametrize(
    "text",
    ["0.1234567", "", "abc", ".5", "1.", "1e-3", " 0.5", "0.5 ", "+0.5", "--1", "0x10", "0,5", "½",
     "\u0661.\u0665", "NaN", "Infinity", "1_000.00"],
)
def test_parse_dollars_when_malformed_or_over_six_decimals_refuses(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_dollars(text)


@pytest.mark.parametrize("value", [0.5, 1, None, b"0.5", ["0.5"]])
def test_parse_dollars_when_not_a_string_refuses(value: object) -> None:
    with pytest.raises(MoneyError, match="must be a decimal string"):
        parse_dollars(value)


@pytest.mark.parametrize(
    ("text", "price"),
    [("0.56", 5_600), ("0.5600", 5_600), ("0.515000", 5_150), ("0.017500", 175), ("0.001", 10), ("1", 10_000)],
)
def test_parse_price_when_whole_centicents_gives_price_units(text: str, price: int) -> None:
    assert parse_price(text) == price


@pytest.mark.parametrize(("text", "why"), [("0.51505", "finer than"), ("-0.5", "negative"), ("0.5x", "not a decimal")])
def test_parse_price_when_finer_than_centicent_or_negative_refuses(text: str, why: str) -> None:
    with pytest.raises(MoneyError, match=why):
        parse_price(text)


@pytest.mark.parametrize(("text", "count"), [("10", 1_000), ("10.5", 1_050), ("10.00", 1_000), ("0.01", 1)])
def test_parse_count_when_zero_to_two_decimals_gives_count_units(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["10.001", "-1", "1e2", "", "10.000"])
def test_parse_count_when_over_two_decimals_or_negative_refuses(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_count(text)


@pytest.mark.parametrize(
    ("fmt", "units", "text"),
    [
        (format_price, 5_200, "0.5200"),
        (format_price, 0, "0.0000"),
        (format_price, 10_000, "1.0000"),
        (format_price, -5, "-0.0005"),
        (format_micros, 17_500, "0.017500"),
        (format_micros, 40_590, "0.040590"),
        (format_micros, -26_666, "-0.026666"),
        (format_micros, 2_500_000, "2.500000"),
        (format_micros, 0, "0.000000"),
        (format_micros, -1, "-0.000001"),
        (format_micros_short, 520_000, "0.5200"),
        (format_micros_short, 17_500, "0.0175"),
        (format_micros_short, 523_333, "0.523333"),
        (format_micros_short, 17_486, "0.017486"),
        (format_count, 1_000, "10.00"),
        (format_count, 1, "0.01"),
        (format_count, -1_000, "-10.00"),
    ],
)
def test_format_when_units_given_writes_kalshi_strings(fmt: Callable[[int], str], units: int, text: str) -> None:
    assert fmt(units) == text


def test_cost_and_average_when_fractional_and_uneven_are_exact_then_rounded_half_up() -> None:
    assert cost_micros(990, 41) == 40_590  # 0.41 contract at $0.099 = $0.040590
    assert per_contract_micros(cost_micros(5_200, 200) + cost_micros(5_300, 100), 300) == 523_333
    assert per_contract_micros(cost_micros(5_200, 100) + cost_micros(5_300, 200), 300) == 526_667
    assert per_contract_micros(122_400, 700) == 17_486  # $0.1224 of fees over 7 contracts
    with pytest.raises(ValueError):
        per_contract_micros(1, 0)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_when_micros_formatted_parse_back_exactly(micros: int) -> None:
    assert parse_dollars(format_micros(micros)) == micros
    assert parse_dollars(format_micros_short(micros)) == micros


@given(st.from_regex(r"-?(0|[1-9][0-9]{0,9})\.[0-9]{6}", fullmatch=True).filter(lambda s: s != "-0.000000"))
def test_money_when_canonical_string_parsed_formats_back_identically(text: str) -> None:
    assert format_micros(parse_dollars(text)) == text


@given(st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,6})?", fullmatch=True))
def test_money_when_any_valid_string_parsed_equals_exact_decimal(text: str) -> None:
    assert parse_dollars(text) == Decimal(text) * 1_000_000


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_money_when_prices_and_counts_formatted_parse_back(price: int, count: int) -> None:
    assert parse_price(format_price(price)) == price
    assert parse_count(format_count(count)) == count


# --- fees (API.md §9) --------------------------------------------------------------------------------------

Q, QM, QC, FLAT = (FeeType.QUADRATIC, FeeType.QUADRATIC_WITH_MAKER_FEES,
                   FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES, FeeType.FLAT)


@pytest.mark.parametrize(
    ("price", "count", "is_taker", "fee_type", "mult", "fee", "why"),
    [
        (5_000, 1_000, True, Q, BPS, 1_750, "0.07 x 10 x 0.25 = 0.175 (API.md's example)"),
        (5_000, 100, True, Q, BPS, 175, "the 1.75c/contract maximum"),
        (5_200, 100, True, Q, BPS, 175, "0.017472 up to 0.0175: the capture's fee_cost"),
        (9_900, 100, True, Q, BPS, 7, "0.000693 up to 0.0007: the capture's fee_cost"),
        (5_200, 700, True, Q, BPS, 1_224, "0.122304 up to 0.1224"),
        (550, 100, True, Q, BPS, 37, "sub-penny: 0.07 x 0.055 x 0.945 = 0.00363825"),
        (990, 41, True, Q, BPS, 26, "fractional + sub-penny: 0.0025600113 up to 0.0026"),
        (5_000, 30, True, Q, BPS, 53, "0.30 contract: 0.00525 up to 0.0053"),
        (5_000, 1_000, False, Q, BPS, 0, "quadratic: makers pay nothing"),
        (5_000, 1_000, False, QM, BPS, 438, "0.0175 x 10 x 0.25 = 0.04375 up to 0.0438"),
        (5_000, 1_000, False, QC, BPS, 875, "combo: half the taker rate, 0.0875"),
        (5_000, 1_000, True, QM, BPS, 1_750, "the taker rate does not depend on the fee type"),
        (5_000, 1_000, False, FLAT, BPS, 0, "flat (table unpublished): charged like quadratic"),
        (5_000, 1_000, True, FLAT, BPS, 1_750, "flat taker like quadratic"),
        (5_000, 1_000, True, Q, 20_000, 3_500, "fee_multiplier 2"),
        (5_000, 1_000, True, Q, 5_000, 875, "fee_multiplier 0.5"),
        (5_000, 100, True, Q, 0, 0, "fee_multiplier 0"),
        (0, 1_000, True, Q, BPS, 0, "P(1-P) = 0 at $0"),
        (10_000, 1_000, True, Q, BPS, 0, "and at $1"),
        (5_000, 0, True, Q, BPS, 0, "no contracts"),
    ],
)
def test_trade_fee_when_table_of_api_md_cases_matches_hand_computed(
    price: int, count: int, is_taker: bool, fee_type: FeeType, mult: int, fee: int, why: str
) -> None:
    assert trade_fee(price, count, is_taker=is_taker, fee_type=fee_type, multiplier_bps=mult) == fee, why


@pytest.mark.parametrize(("price", "count", "mult"), [(-1, 100, BPS), (10_001, 100, BPS), (5_000, -1, BPS),
                                                      (5_000, 100, -1)])
def test_trade_fee_when_input_out_of_range_refuses(price: int, count: int, mult: int) -> None:
    with pytest.raises(ValueError):
        taker_fee(price, count, mult)
    with pytest.raises(ValueError):
        maker_fee(price, count, FeeType.QUADRATIC, mult)


MAKER_RATES = {Q: Decimal(0), FLAT: Decimal(0), QM: Decimal("0.0175"), QC: Decimal("0.035")}


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10**8),
    st.booleans(),
    st.sampled_from(list(FeeType)),
    st.integers(min_value=0, max_value=50_000),
)
def test_trade_fee_when_any_fill_equals_formula_rounded_up_to_centicent(
    price: int, count: int, is_taker: bool, fee_type: FeeType, mult: int
) -> None:
    rate = Decimal("0.07") if is_taker else MAKER_RATES[fee_type]
    p = Decimal(price) / 10_000
    exact = rate * (Decimal(count) / 100) * p * (1 - p) * Decimal(mult) / 10_000  # dollars, exact
    centicents = exact * 10_000
    expected = int(centicents) + (1 if centicents != int(centicents) else 0)
    assert trade_fee(price, count, is_taker=is_taker, fee_type=fee_type, multiplier_bps=mult) == expected


# --- per-order rounding (API.md §9; the three worked examples of docs:/getting_started/fee_rounding) ----


@pytest.mark.parametrize(
    ("revenue", "fee", "rows"),
    [
        # buy 3 @ $0.055 as three 1-lot matches, trade fee $0.0085 each:
        # (balance change, rounding fee, rebate, accumulator after, net fee), micros
        (-55_000, 85, [(-70_000, 6_500, 0, 6_500, 15_000), (-60_000, 6_500, 10_000, 3_000, 5_000),
                       (-70_000, 6_500, 0, 9_500, 15_000)]),
        # buy 0.90 @ $0.50 as three 0.30-lot matches, trade fee $0.0041 each
        (-150_000, 41, [(-160_000, 5_900, 0, 5_900, 10_000), (-150_000, 5_900, 10_000, 1_800, 0),
                        (-160_000, 5_900, 0, 7_700, 10_000)]),
        # buy 0.09 @ $0.3301 as three 0.03-lot matches, trade fee $0.0005 each
        (-9_903, 5, [(-20_000, 9_597, 0, 9_597, 10_097), (-10_000, 9_597, 10_000, 9_194, 97),
                     (-10_000, 9_597, 10_000, 8_791, 97)]),
        # the capture's taker buy of 1 @ $0.52 (fee $0.0175): cash -$0.54
        (-520_000, 175, [(-540_000, 2_500, 0, 2_500, 20_000)]),
        # four 1-lots @ $0.50 (fee $0.0175 each): the 4th reaches exactly $0.01 and is refunded, so the
        # order costs what one 4-lot fill costs ($2.00 + $0.07)
        (-500_000, 175, [(-520_000, 2_500, 0, 2_500, 20_000), (-520_000, 2_500, 0, 5_000, 20_000),
                         (-520_000, 2_500, 0, 7_500, 20_000), (-510_000, 2_500, 10_000, 0, 10_000)]),
        # a seller: +$0.45 revenue, fee $0.0175 -> +$0.4325 floored to +$0.43
        (450_000, 175, [(430_000, 2_500, 0, 2_500, 20_000)]),
    ],
)
def test_charge_fill_when_worked_examples_replayed_matches_each_row(
    revenue: int, fee: int, rows: list[tuple[int, int, int, int, int]]
) -> None:
    accumulator = 0
    for change, rounding, rebate, after, net in rows:
        charge = charge_fill(revenue, fee, accumulator)
        assert (charge.balance_change, charge.rounding_fee, charge.rebate, charge.accumulator, charge.net_fee) == (
            change, rounding, rebate, after, net)
        accumulator = charge.accumulator


def test_charge_fill_when_direct_member_precision_floors_to_centicent() -> None:
    charge = charge_fill(-9_903, 5, 0, precision=100)
    assert (charge.balance_change, charge.rounding_fee, charge.rebate) == (-10_500, 97, 0)


@pytest.mark.parametrize(("accumulator", "precision"), [(-1, CENT_MICROS), (CENT_MICROS, CENT_MICROS),
                                                        (0, 0), (0, 300), (0, 20_000)])
def test_charge_fill_when_accumulator_or_precision_impossible_refuses(accumulator: int, precision: int) -> None:
    with pytest.raises(ValueError):
        charge_fill(-10_000, 10, accumulator, precision=precision)


fills = st.lists(
    st.tuples(st.integers(min_value=-10**9, max_value=10**9), st.integers(min_value=0, max_value=10**6)),
    min_size=1, max_size=40,
)


@given(fills, st.sampled_from([CENT_MICROS, 100]))
def test_charge_fill_when_order_fills_many_times_total_equals_one_equivalent_fill(
    order_fills: list[tuple[int, int]], precision: int
) -> None:
    accumulator = total = 0
    for revenue, fee in order_fills:
        charge = charge_fill(revenue, fee, accumulator, precision=precision)
        assert charge.balance_change % precision == 0  # balances stay at the account's precision
        assert 0 <= charge.accumulator < CENT_MICROS
        assert charge.balance_change == revenue - charge.net_fee
        total += charge.balance_change
        accumulator = charge.accumulator
    exact = sum(revenue - fee * 100 for revenue, fee in order_fills)
    if precision == CENT_MICROS:
        assert total == exact // CENT_MICROS * CENT_MICROS  # the single equivalent fill, to the cent
    assert total == exact - accumulator  # every micro not in the accumulator reached the balance
    assert sum(fee * 100 for _, fee in order_fills) + accumulator == exact_fees(order_fills, total)


def exact_fees(order_fills: list[tuple[int, int]], total: int) -> int:
    """Fees the order's balance paid: its revenue minus its balance changes."""
    return sum(revenue for revenue, _ in order_fills) - total
