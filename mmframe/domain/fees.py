"""Kalshi trading fees (API.md §9), exact integer math.

Per fill, with P the YES price in dollars and C the contracts::

    taker = 0.07   x C x P x (1 - P)
    maker = 0                          (fee_type ``quadratic``)
          = 0.0175 x C x P x (1 - P)   (``quadratic_with_maker_fees``, a quarter of taker)
          = 0.035  x C x P x (1 - P)   (``quadratic_with_combo_maker_fees``, half of taker)

times ``multiplier_bps / 10_000`` (the series ``fee_multiplier``; 10,000 = 1x). ``flat``'s own table
is unconfirmed: it is charged like ``quadratic`` (taker rate, no maker fee).

Two roundings exist. Kalshi computes the trade fee rounded *up to $0.0001* (`taker_fee`,
`maker_fee`), then floors the balance change (revenue - fee) to the account's precision, $0.01 for
normal accounts. With whole-cent prices and whole contracts the revenue is whole cents, so the
charge is the classic ceil-to-cent of the exact fee (`fee_cents_rounded`): 10 @ $0.50 taker is
$0.175 -> $0.18. `fill_fee` returns what the balance is charged: ceil-to-cent for whole-cent
prices and whole contracts, and the $0.0001 fee otherwise (sub-penny or fractional fills, where
Kalshi's per-order rounding accumulator cannot be modelled per fill).
"""

from __future__ import annotations

import enum

from mmframe.domain.money import COUNT_SCALE, ONE_DOLLAR, PRICE_SCALE, Count, Price

_CENT: Price = PRICE_SCALE // 100
_BPS = 10_000

# Rates as exact fractions (numerator, denominator) of dollars per contract per P(1-P).
_TAKER_RATE = (7, 100)
_MAKER_RATE = (175, 10_000)
_COMBO_MAKER_RATE = (35, 1_000)


class FeeType(enum.StrEnum):
    """A series' fee type."""

    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
    QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
    FLAT = "flat"


def _fee_fraction(rate: tuple[int, int], price: Price, count: Count, multiplier_bps: int) -> tuple[int, int]:
    """The exact fee in price units as (numerator, denominator)."""
    if not 0 <= price <= ONE_DOLLAR:
        raise ValueError(f"fee price must be within 0..{ONE_DOLLAR} price units, got {price}")
    if count < 0:
        raise ValueError(f"fee count must not be negative, got {count}")
    if multiplier_bps < 0:
        raise ValueError(f"fee multiplier must not be negative, got {multiplier_bps} bps")
    num, den = rate
    # dollars = rate * (count/100) * (price/1e4) * ((1e4 - price)/1e4) * (mult/1e4); x1e4 = price units.
    numerator = num * count * price * (ONE_DOLLAR - price) * multiplier_bps
    denominator = den * COUNT_SCALE * PRICE_SCALE * _BPS
    return numerator, denominator


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _maker_rate(fee_type: FeeType) -> tuple[int, int] | None:
    if fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES:
        return _MAKER_RATE
    if fee_type is FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES:
        return _COMBO_MAKER_RATE
    return None


def taker_fee(price: Price, count: Count, multiplier_bps: int = 10_000) -> Price:
    """0.07 x C x P x (1 - P), rounded up to the price unit ($0.0001)."""
    return _ceil_div(*_fee_fraction(_TAKER_RATE, price, count, multiplier_bps))


def maker_fee(price: Price, count: Count, fee_type: FeeType, multiplier_bps: int = 10_000) -> Price:
    """0 for ``quadratic``; 0.0175 x C x P x (1 - P) with maker fees; half the taker rate for combo.

    Rounded up to the price unit ($0.0001).
    """
    rate = _maker_rate(FeeType(fee_type))
    if rate is None:
        _fee_fraction(_TAKER_RATE, price, count, multiplier_bps)  # same input checks
        return 0
    return _ceil_div(*_fee_fraction(rate, price, count, multiplier_bps))


def fee_cents_rounded(
    price: Price, count: Count, *, is_taker: bool, fee_type: FeeType, multiplier_bps: int = 10_000
) -> Price:
    """The exact fee rounded up to a whole cent (Kalshi's account precision), in price units.

    10 @ $0.50 taker -> 1800 ($0.18); maker-fee series 10 @ $0.50 -> 500 ($0.05).
    """
    rate = _TAKER_RATE if is_taker else _maker_rate(FeeType(fee_type))
    if rate is None:
        _fee_fraction(_TAKER_RATE, price, count, multiplier_bps)
        return 0
    numerator, denominator = _fee_fraction(rate, price, count, multiplier_bps)
    return _ceil_div(numerator, denominator * _CENT) * _CENT


def fill_fee(
    price: Price, count: Count, *, is_taker: bool, fee_type: FeeType, multiplier_bps: int = 10_000
) -> Price:
    """The fee one fill costs the account balance, in price units.

    Whole-cent price and whole contracts: the exact fee rounded up to the cent (`fee_cents_rounded`,
    Kalshi's balance-change rule today). Otherwise: rounded up to $0.0001 (`taker_fee`/`maker_fee`).
    """
    if price % _CENT == 0 and count % COUNT_SCALE == 0:
        return fee_cents_rounded(
            price, count, is_taker=is_taker, fee_type=fee_type, multiplier_bps=multiplier_bps
        )
    if is_taker:
        return taker_fee(price, count, multiplier_bps)
    return maker_fee(price, count, fee_type, multiplier_bps)
