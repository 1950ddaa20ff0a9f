"""Kalshi trading fees (API.md §9), exact and rounded up to $0.0001 per fill."""

from __future__ import annotations

import enum

from mmframe.domain.money import Count, Price


class FeeType(enum.StrEnum):
    """A series' fee type."""

    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
    QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
    FLAT = "flat"


def taker_fee(price: Price, count: Count, multiplier_bps: int = 10_000) -> Price:
    """0.07 x C x P x (1 - P), rounded up to the price unit."""
    raise NotImplementedError


def maker_fee(price: Price, count: Count, fee_type: FeeType, multiplier_bps: int = 10_000) -> Price:
    """0 for ``quadratic``; 0.0175 x C x P x (1 - P) with maker fees; half the taker rate for combo."""
    raise NotImplementedError


def fill_fee(price: Price, count: Count, *, is_taker: bool, fee_type: FeeType, multiplier_bps: int = 10_000) -> Price:
    """The fee of one fill."""
    raise NotImplementedError
