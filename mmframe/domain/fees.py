"""Kalshi trading fees (API.md §9), exact integer math.

Per fill, with P the YES price in dollars and C the contracts::

    taker = 0.07   x C x P x (1 - P)
    maker = 0                          (fee_type ``quadratic``)
          = 0.0175 x C x P x (1 - P)   (``quadratic_with_maker_fees``, a quarter of taker)
          = 0.035  x C x P x (1 - P)   (``quadratic_with_combo_maker_fees``, half of taker)

times ``multiplier_bps / 10_000`` (the series ``fee_multiplier``; 10,000 = 1x). ``flat``'s own table
is unconfirmed: it is charged like ``quadratic`` (taker rate, no maker fee).

Two roundings exist (API.md §9, Kalshi's fee_rounding page). The *trade fee* of a fill is the exact
fee rounded up to $0.0001 (`taker_fee`, `maker_fee`, `trade_fee`): the venue reports it as the fill's
``fee_cost``. The *balance* is then charged per order, not per fill: each fill's balance change
(revenue - trade fee) is floored to the account's precision ($0.01 for normal accounts) and the
difference (the rounding fee) accumulates on the order; whenever the accumulator reaches a whole
cent, that cent is refunded. `OrderFees` does this bookkeeping; it is what the ledger charges. Over
the fills of one order the charge therefore converges to what one equivalent fill would cost: the
order's total balance change is ``floor(sum(revenue) - sum(trade fee))`` to the cent.

`fee_cents_rounded` and `fill_fee` give the classic per-fill ceil-to-cent (10 @ $0.50 taker is
$0.175 -> $0.18): the charge of an order's *first* fill at a whole-cent price and whole contracts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

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
    """The fee a lone fill costs the account balance (an order filled at once), in price units.

    Whole-cent price and whole contracts: the exact fee rounded up to the cent (`fee_cents_rounded`).
    Otherwise: rounded up to $0.0001 (`taker_fee`/`maker_fee`). An order filled in several parts is
    charged less than the sum of these (the per-order accumulator refunds whole cents): book real
    fills through `OrderFees` with their `trade_fee`.
    """
    if price % _CENT == 0 and count % COUNT_SCALE == 0:
        return fee_cents_rounded(
            price, count, is_taker=is_taker, fee_type=fee_type, multiplier_bps=multiplier_bps
        )
    if is_taker:
        return taker_fee(price, count, multiplier_bps)
    return maker_fee(price, count, fee_type, multiplier_bps)


def trade_fee(
    price: Price, count: Count, *, is_taker: bool, fee_type: FeeType, multiplier_bps: int = 10_000
) -> Price:
    """The trade fee of one fill, rounded up to $0.0001: what the venue reports as ``fee_cost``.

    The balance is charged per order from these (`OrderFees`), not fill by fill.
    """
    if is_taker:
        return taker_fee(price, count, multiplier_bps)
    return maker_fee(price, count, fee_type, multiplier_bps)


MICRO_PER_PRICE = COUNT_SCALE
"""Micro-dollars (1/1,000,000 $: a price unit times a count unit) per price unit."""
CENT_MICRO = _CENT * MICRO_PER_PRICE
"""$0.01, the balance precision of a normal Kalshi account, in micro-dollars."""
_ORDERS_KEPT = 100_000


class OrderFees:
    """The venue's fee bookkeeping per order (API.md §9 "per-order accumulator"; Kalshi's
    fee_rounding page), in micro-dollars (1/1,000,000 $).

    For each fill, given its revenue and trade fee (rounded up to $0.0001)::

        change   = revenue - trade_fee
        balance += floor(change)                        # to the account precision ($0.01)
        rounding = change - floor(change)               # the rounding fee, accumulated per order
        rebate   = whole cents of the accumulator, once it reaches $0.01 (and taken out of it)
        charged  = trade_fee + rounding - rebate        # what the fill costs the balance

    Only the sub-cent part of the revenue matters, so the revenue may be given in YES terms (the
    ledger's cash: ``-count x price`` for a bid, ``+count x price`` for an ask): Kalshi's own revenue
    of a fill differs from it by whole contracts x $1 (a NO leg costs ``1 - price``; netting a YES
    against a NO pays $1), which is whole cents.

    Only orders with rounding still to be refunded are remembered (the rest are back at zero), the
    least recently filled forgotten past 100,000 of them.
    """

    def __init__(self, precision_micro: int = CENT_MICRO) -> None:
        if precision_micro <= 0:
            raise ValueError(f"balance precision must be positive, got {precision_micro} micro-dollars")
        self.precision = precision_micro
        self._pending: dict[str, int] = {}

    def charge(self, order: str, revenue_micro: int, trade_fee: Price) -> int:
        """Book one fill of ``order`` (its id on the venue): ``revenue_micro`` signed (negative for a
        buy), ``trade_fee`` in price units. Returns what the fill costs the balance, micro-dollars."""
        if trade_fee < 0:
            raise ValueError(f"a trade fee cannot be negative, got {trade_fee} for order {order!r}")
        fee = trade_fee * MICRO_PER_PRICE
        change = revenue_micro - fee
        rounding = change % self.precision  # change - floor(change), in [0, precision)
        pending = self._pending.pop(order, 0) + rounding
        rebate = 0
        if pending >= self.precision:
            rebate = pending - pending % self.precision
            pending -= rebate
        if pending:
            self._pending[order] = pending
            if len(self._pending) > _ORDERS_KEPT:
                del self._pending[next(iter(self._pending))]
        return fee + rounding - rebate

    def pending(self) -> dict[str, int]:
        """Rounding each order has overpaid and not yet had refunded, micro-dollars (to carry it
        across a restart, `restore`)."""
        return dict(self._pending)

    def restore(self, pending: dict[str, int] | Mapping[str, int]) -> None:
        """Take over ``pending`` (from `pending`, or a replay of earlier fills)."""
        for order, amount in pending.items():
            if amount:
                self._pending[order] = amount
