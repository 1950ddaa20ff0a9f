"""The tick grid of a market, from Kalshi's ``price_ranges`` (sub-penny structures included)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mmframe.domain.money import Price


@dataclass(frozen=True, slots=True)
class PriceRange:
    """Prices ``start``..``end`` (inclusive bounds of the range) in steps of ``step``, price units."""

    start: Price
    end: Price
    step: Price


class TickGrid:
    """Valid order prices of one market. Orders must be strictly inside (min, max) of the ranges.

    Rounding helpers never leave the valid range: bids round down, asks round up.
    """

    def __init__(self, ranges: Iterable[PriceRange]) -> None:
        raise NotImplementedError

    @classmethod
    def from_kalshi(cls, price_ranges: Iterable[Mapping[str, str]]) -> TickGrid:
        """Build from Kalshi's ``[{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]``."""
        raise NotImplementedError

    @classmethod
    def linear_cent(cls) -> TickGrid:
        """$0.01 steps from $0.01 to $0.99."""
        raise NotImplementedError

    @property
    def min_price(self) -> Price:
        """Lowest valid order price."""
        raise NotImplementedError

    @property
    def max_price(self) -> Price:
        """Highest valid order price."""
        raise NotImplementedError

    def is_valid(self, price: Price) -> bool:
        raise NotImplementedError

    def round_down(self, price: Price) -> Price | None:
        """The highest valid price <= ``price`` (None below the grid). Use for bids."""
        raise NotImplementedError

    def round_up(self, price: Price) -> Price | None:
        """The lowest valid price >= ``price`` (None above the grid). Use for asks."""
        raise NotImplementedError

    def next_up(self, price: Price) -> Price | None:
        """The next valid price strictly above ``price``."""
        raise NotImplementedError

    def next_down(self, price: Price) -> Price | None:
        """The next valid price strictly below ``price``."""
        raise NotImplementedError
