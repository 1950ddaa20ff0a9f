"""The tick grid of a market, from Kalshi's ``price_ranges`` (sub-penny structures included).

A grid is a handful of ranges, each an arithmetic progression of prices. All arithmetic is O(number
of ranges) integer math, never an enumeration of ticks, so a "paper" grid of ten million ticks
costs the same as a cent grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mmframe.domain.money import ONE_DOLLAR, Price, parse_price


@dataclass(frozen=True, slots=True)
class PriceRange:
    """Prices ``start``..``end`` (inclusive bounds of the range) in steps of ``step``, price units."""

    start: Price
    end: Price
    step: Price

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ValueError(f"price range step must be positive, got {self.step} in {self}")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"price range needs 0 <= start < end, got {self}")

    def floor(self, price: Price) -> Price | None:
        """The highest tick of this range <= ``price`` (None below ``start``)."""
        if price < self.start:
            return None
        top = min(price, self.end)
        return self.start + (top - self.start) // self.step * self.step

    def ceil(self, price: Price) -> Price | None:
        """The lowest tick of this range >= ``price`` (None above the last tick)."""
        low = max(price, self.start)
        tick = self.start - (self.start - low) // self.step * self.step
        return tick if tick <= self.end else None


class TickGrid:
    """Valid order prices of one market. Orders must be strictly inside (min, max) of the ranges.

    A price is valid when it is a tick (``start + k * step``, within ``start..end``) of some range
    and lies strictly between the lowest ``start`` and the highest ``end``: on Kalshi's
    ``0.0000..1.0000`` grids neither $0 nor $1 is an order price. Ranges may share a boundary (the
    tapered structures do). Rounding helpers never leave the valid range: bids round down, asks
    round up, and they return None when no valid price lies in that direction.
    """

    __slots__ = ("_bottom", "_max", "_min", "_ranges", "_top")

    def __init__(self, ranges: Iterable[PriceRange]) -> None:
        self._ranges: tuple[PriceRange, ...] = tuple(sorted(ranges, key=lambda r: (r.start, r.end)))
        if not self._ranges:
            raise ValueError("a tick grid needs at least one price range")
        self._bottom = min(r.start for r in self._ranges)
        self._top = max(r.end for r in self._ranges)
        lowest = self._ceil(self._bottom + 1)
        highest = self._floor(self._top - 1)
        if lowest is None or highest is None or lowest > highest:
            raise ValueError(f"tick grid {self._ranges} has no valid price strictly inside its bounds")
        self._min: Price = lowest
        self._max: Price = highest

    @classmethod
    def from_kalshi(cls, price_ranges: Iterable[Mapping[str, str]]) -> TickGrid:
        """Build from Kalshi's ``[{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]``.

        Raises `ValueError` (a `FixedPointError` for malformed numbers) naming the bad range.
        """
        ranges = []
        for item in price_ranges:
            try:
                ranges.append(
                    PriceRange(
                        parse_price(item["start"]), parse_price(item["end"]), parse_price(item["step"])
                    )
                )
            except KeyError as missing:
                raise ValueError(f"price range {dict(item)!r} lacks {missing}") from None
        return cls(ranges)

    @classmethod
    def linear_cent(cls) -> TickGrid:
        """$0.01 steps from $0.01 to $0.99."""
        return _LINEAR_CENT

    @classmethod
    def uniform(cls, step: Price, top: Price = ONE_DOLLAR, bottom: Price = 0) -> TickGrid:
        """One range ``bottom..top`` in steps of ``step`` (e.g. a wide paper-trading grid)."""
        return cls([PriceRange(bottom, top, step)])

    @property
    def ranges(self) -> tuple[PriceRange, ...]:
        """The ranges, sorted by start."""
        return self._ranges

    @property
    def min_price(self) -> Price:
        """Lowest valid order price."""
        return self._min

    @property
    def max_price(self) -> Price:
        """Highest valid order price."""
        return self._max

    def is_valid(self, price: Price) -> bool:
        """Whether ``price`` is a valid order price."""
        return self._min <= price <= self._max and self._floor(price) == price

    def round_down(self, price: Price) -> Price | None:
        """The highest valid price <= ``price`` (None below the grid). Use for bids."""
        if price < self._min:
            return None
        return self._floor(min(price, self._max))

    def round_up(self, price: Price) -> Price | None:
        """The lowest valid price >= ``price`` (None above the grid). Use for asks."""
        if price > self._max:
            return None
        return self._ceil(max(price, self._min))

    def next_up(self, price: Price) -> Price | None:
        """The next valid price strictly above ``price``."""
        return self.round_up(price + 1)

    def next_down(self, price: Price) -> Price | None:
        """The next valid price strictly below ``price``."""
        return self.round_down(price - 1)

    def _floor(self, price: Price) -> Price | None:
        # Ticks of any range, ignoring the strict-interior rule (callers clamp first).
        best: Price | None = None
        for r in self._ranges:
            tick = r.floor(price)
            if tick is not None and (best is None or tick > best):
                best = tick
        return best

    def _ceil(self, price: Price) -> Price | None:
        best: Price | None = None
        for r in self._ranges:
            tick = r.ceil(price)
            if tick is not None and (best is None or tick < best):
                best = tick
        return best

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TickGrid) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        return f"TickGrid({list(self._ranges)!r})"


_LINEAR_CENT = TickGrid([PriceRange(0, ONE_DOLLAR, 100)])
