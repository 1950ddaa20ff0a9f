"""Exact fixed-point parsing and formatting of Kalshi's dollar and count strings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.money import (
    MICROS_PER_PRICE,
    FixedPointError,
    format_count,
    format_fixed,
    format_micros,
    format_price,
    micros_to_price,
    notional,
    parse_count,
    parse_fixed,
    parse_micros,
    parse_price,
    price_to_micros,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0.5600", 5600),
        ("0.56", 5600),
        ("0.960", 9600),
        ("0.017500", 175),
        ("1.0000", 10_000),
        ("0", 0),
        ("-0.0100", -100),
        ("+0.0001", 1),
        (".5", 5000),
        ("12.", 120_000),
    ],
)
def test_parse_price_when_valid_kalshi_string_returns_exact_units(text: str, units: int) -> None:
    assert parse_price(text) == units


@pytest.mark.parametrize(("text", "units"), [("10.00", 1000), ("10", 1000), ("0.01", 1), ("-54.00", -5400)])
def test_parse_count_when_valid_kalshi_string_returns_exact_units(text: str, units: int) -> None:
    assert parse_count(text) == units


@pytest.mark.parametrize(
    "text", ["", ".", "abc", "0.5.6", "1e-2", " 0.56", "0.56 ", "--1", "0,56", "١.٢", "nan"]
)
def test_parse_price_when_malformed_raises_clear_error(text: str) -> None:
    with pytest.raises(FixedPointError, match=r"price .* is not a decimal number"):
        parse_price(text)


def test_parse_price_when_more_precise_than_unit_raises() -> None:
    with pytest.raises(FixedPointError, match="more than 4 decimal places"):
        parse_price("0.56001")


def test_parse_count_when_fractional_beyond_cents_raises() -> None:
    with pytest.raises(FixedPointError, match=r"count '1\.001' has more than 2 decimal places"):
        parse_count("1.001")


@pytest.mark.parametrize("value", [0.56, 56, None, b"0.56"])
def test_parse_price_when_not_a_string_raises(value: object) -> None:
    with pytest.raises(FixedPointError, match="must be a decimal string"):
        parse_price(value)  # type: ignore[arg-type]


def test_format_price_when_units_returns_kalshi_string() -> None:
    assert format_price(5600) == "0.5600"
    assert format_price(-100) == "-0.0100"
    assert format_price(175, places=6) == "0.017500"
    assert format_count(1000) == "10.00"
    assert format_fixed(7, 0) == "7"


@settings(deadline=None)
@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=6))
def test_format_then_parse_when_any_units_round_trips(units: int, decimals: int) -> None:
    assert parse_fixed(format_fixed(units, decimals), decimals) == units


def test_notional_when_sub_unit_remainder_rounds_up() -> None:
    assert notional(5600, 1000) == 56_000  # 10 @ $0.56 = $5.60
    assert notional(5601, 1) == 57  # 0.01 contract @ $0.5601 = $0.005601 -> $0.0057


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0.040590", 40_590),
        ("0.017486", 17_486),
        ("0.523333", 523_333),
        ("0.000125", 125),
        ("2.5", 2_500_000),
        ("-0.0400", -40_000),
        ("0.0175", 17_500),
    ],
)
def test_parse_micros_when_kalshi_six_decimal_amount_returns_exact_micros(text: str, micros: int) -> None:
    assert parse_micros(text) == micros


@pytest.mark.parametrize("text", ["0.0000001", "0.5233331", "1e-6", "", "0.52 ", "NaN"])
def test_parse_micros_when_more_than_six_decimals_or_malformed_raises(text: str) -> None:
    with pytest.raises(FixedPointError):
        parse_micros(text)


@pytest.mark.parametrize("text", ["0.523333", "0.000125", "0.56001"])
def test_parse_price_when_six_decimal_off_grid_value_raises(text: str) -> None:
    # a price must fit the 1/10,000 unit: only zeros may follow the 4th decimal
    with pytest.raises(FixedPointError, match="more than 4 decimal places"):
        parse_price(text)


@pytest.mark.parametrize(
    ("micros", "up", "down", "nearest"),
    [
        (17_486, 175, 174, 175),
        (17_450, 175, 174, 175),
        (17_449, 175, 174, 174),
        (17_400, 174, 174, 174),
        (-17_486, -174, -175, -175),
        (-17_450, -174, -175, -174),
        (125, 2, 1, 1),
        (0, 0, 0, 0),
    ],
)
def test_micros_to_price_when_rounding_named_rounds_that_way(micros: int, up: int, down: int, nearest: int) -> None:
    assert (micros_to_price(micros, "up"), micros_to_price(micros, "down"), micros_to_price(micros, "nearest")) == (
        up,
        down,
        nearest,
    )


def test_micros_to_price_when_rounding_unknown_raises() -> None:
    with pytest.raises(ValueError, match="up, down or nearest"):
        micros_to_price(1, "half_even")  # type: ignore[arg-type]


@settings(deadline=None)
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_micros_to_price_when_any_amount_brackets_the_exact_value(micros: int) -> None:
    up, down, nearest = (micros_to_price(micros, r) for r in ("up", "down", "nearest"))
    assert price_to_micros(down) <= micros <= price_to_micros(up)
    assert up - down == (0 if micros % MICROS_PER_PRICE == 0 else 1)
    assert abs(price_to_micros(nearest) - micros) * 2 <= MICROS_PER_PRICE
    assert parse_micros(format_micros(micros)) == micros
