"""The simulator's own fee arithmetic (API.md §9), independent of the client's fee code.

Per fill, with P the YES price in dollars and C the contracts::

    taker fee = 0.07   x C x P x (1 - P)
    maker fee = 0                          fee_type quadratic (and flat, see below)
              = 0.0175 x C x P x (1 - P)   quadratic_with_maker_fees (a quarter of the taker rate)
              = 0.035  x C x P x (1 - P)   quadratic_with_combo_maker_fees (half of it)

scaled by the series' ``fee_multiplier`` (given here in basis points, 10,000 = 1x) before rounding; how
the multiplier composes is UNCONFIRMED in API.md (usually 1). ``flat`` has its own, unpublished table: the
simulator charges it like ``quadratic``.

Rounding (API.md §9, docs:/getting_started/fee_rounding), `charge_fill`:

1. the trade fee is rounded **up** to $0.0001 (`trade_fee`; this is a fill's ``fee_cost``);
2. the balance change ``revenue - trade fee`` is floored to the account's precision ($0.01 normal,
   $0.0001 direct members); the difference is the "rounding fee";
3. a per-order accumulator collects the rounding fees of all the order's fills (taker and maker alike)
   and refunds a whole cent once it holds $0.01 or more, reducing itself by $0.01.

API.md words step 3 "whenever accumulated rounding exceeds $0.01"; the docs add that the accumulator
exists "so that the total fee converges to what a single equivalent fill would cost". That holds exactly
only if exactly $0.01 also triggers the refund (four 1-lot fills at $0.50 must cost what one 4-lot fill
costs: $0.07 of fees, not $0.08), so the simulator refunds at >= $0.01. With whole-cent prices and whole
contracts this is the classic ceil-to-the-cent of the fee per fill (10 @ $0.50 taker: $0.175 -> $0.18).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mmframe_sim.money import (
    CENT_MICROS,
    COUNT_PER_CONTRACT,
    MICROS_PER_PRICE,
    ONE,
    PRICE_PER_DOLLAR,
    Count,
    Micros,
    Price,
)

BPS = 10_000
"""A fee multiplier of 1x in basis points."""


class FeeType(enum.StrEnum):
    """A series' ``fee_type`` (spec ``FeeType``)."""

    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
    QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
    FLAT = "flat"


# Fee rates in dollars per contract per P(1-P), as exact fractions.
TAKER_RATE = (7, 100)  # 0.07
MAKER_RATE = (7, 400)  # 0.0175, a quarter of the taker rate
COMBO_MAKER_RATE = (7, 200)  # 0.035, half of it


def maker_rate(fee_type: FeeType) -> tuple[int, int] | None:
    """The maker rate of a fee type, None when makers pay nothing."""
    if fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES:
        return MAKER_RATE
    if fee_type is FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES:
        return COMBO_MAKER_RATE
    return None


def quadratic_fee(rate: tuple[int, int], price: Price, count: Count, multiplier_bps: int = BPS) -> Price:
    """``rate x C x P x (1 - P) x multiplier``, rounded up to $0.0001 (price units)."""
    if not 0 <= price <= ONE:
        raise ValueError(f"a fee price must be within 0..{ONE} price units, got {price}")
    if count < 0 or multiplier_bps < 0:
        raise ValueError(f"count and multiplier must not be negative, got {count}, {multiplier_bps} bps")
    num, den = rate
    # $ = num/den x count/100 x price/10^4 x (10^4 - price)/10^4 x mult/10^4, and price units = $ x 10^4.
    numerator = num * count * price * (ONE - price) * multiplier_bps
    denominator = den * COUNT_PER_CONTRACT * PRICE_PER_DOLLAR * BPS
    return -(-numerator // denominator)


def taker_fee(price: Price, count: Count, multiplier_bps: int = BPS) -> Price:
    """0.07 x C x P x (1 - P), rounded up to $0.0001."""
    return quadratic_fee(TAKER_RATE, price, count, multiplier_bps)


def maker_fee(price: Price, count: Count, fee_type: FeeType, multiplier_bps: int = BPS) -> Price:
    """The maker's trade fee for ``fee_type``, rounded up to $0.0001 (0 where makers pay none)."""
    rate = maker_rate(FeeType(fee_type))
    if rate is None:
        quadratic_fee(TAKER_RATE, price, count, multiplier_bps)  # the same input checks
        return 0
    return quadratic_fee(rate, price, count, multiplier_bps)


def trade_fee(price: Price, count: Count, *, is_taker: bool, fee_type: FeeType, multiplier_bps: int = BPS) -> Price:
    """A fill's trade fee (its ``fee_cost``), rounded up to $0.0001."""
    if is_taker:
        return taker_fee(price, count, multiplier_bps)
    return maker_fee(price, count, fee_type, multiplier_bps)


@dataclass(frozen=True, slots=True)
class FillCharge:
    """What one fill does to a balance (micros). ``balance_change`` is what cash moves by (refund
    included); ``accumulator`` the order's rounding accumulator after the fill."""

    balance_change: Micros
    trade_fee: Micros
    rounding_fee: Micros
    rebate: Micros
    accumulator: Micros

    @property
    def net_fee(self) -> Micros:
        """Trade fee + rounding fee - rebate: what the fill cost in fees. A fill that receives a refund
        can come out below zero (a fee-free fill at a sub-penny price); summed over an order it is the
        trade fees plus what the accumulator still holds, so never negative."""
        return self.trade_fee + self.rounding_fee - self.rebate


def charge_fill(
    revenue: Micros, fee: Price, accumulator: Micros, precision: Micros = CENT_MICROS
) -> FillCharge:
    """Apply one fill's ``revenue`` (signed: negative for a buyer) and trade ``fee`` to a balance kept at
    ``precision`` (micros; $0.01 by default), carrying the order's rounding ``accumulator``."""
    if precision != CENT_MICROS and (precision <= 0 or CENT_MICROS % precision):
        raise ValueError(f"balance precision must divide $0.01, got {precision} micros")
    if not 0 <= accumulator < CENT_MICROS:
        raise ValueError(f"a rounding accumulator holds less than $0.01, got {accumulator} micros")
    fee_micros = fee * MICROS_PER_PRICE
    change = revenue - fee_micros
    floored = change // precision * precision  # toward minus infinity
    rounding = change - floored
    held = accumulator + rounding
    rebate = CENT_MICROS if held >= CENT_MICROS else 0
    return FillCharge(
        balance_change=floored + rebate,
        trade_fee=fee_micros,
        rounding_fee=rounding,
        rebate=rebate,
        accumulator=held - rebate,
    )
