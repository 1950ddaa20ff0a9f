"""``min-spread``: widen a quote whose best bid and best ask are too close."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    MarketView,
    PortfolioView,
    Price,
    Quote,
    Verdict,
    format_price,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema
from mmframe_risk._quotes import grid_of, shift_levels


@dataclass(frozen=True, slots=True)
class MinSpreadParams:
    min_spread: Price


class MinSpreadRule(ConfiguredRule[MinSpreadParams]):
    """Widens a two-sided quote to at least ``min_spread``: bids move down by half the shortfall and
    asks up by the rest, then bids round down and asks round up to the grid. Every level of a side
    moves by the same amount; a level that would leave the grid or land on the level before it is
    dropped. One-sided quotes pass."""

    NAME = "min-spread"
    SUMMARY = "Widen quotes whose best bid and ask are closer than a minimum spread."
    SCHEMA = schema(
        {
            "min_spread": {
                "type": "number",
                "exclusiveMinimum": 0,
                "exclusiveMaximum": 1,
                "multipleOf": 0.0001,
                "default": 0.02,
                "description": "Smallest allowed distance between our best ask and best bid, dollars.",
                "examples": [0.02],
            },
        },
        "min-spread risk rule",
    )
    UPDATABLE = frozenset({"min_spread"})
    EXAMPLE = {"min_spread": 0.02}

    def parse(self, config: Mapping[str, Any]) -> MinSpreadParams:
        return MinSpreadParams(min_spread=price_from_config(config["min_spread"], "min_spread"))

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or adjust with the quote widened."""
        spread = quote.spread
        minimum = self.params.min_spread
        if spread is None or spread >= minimum:
            return Verdict.passed()
        shortfall = minimum - spread
        down = shortfall // 2
        grid = grid_of(market)
        bids = shift_levels(grid, quote.bids, -down)
        asks = shift_levels(grid, quote.asks, shortfall - down)
        return Verdict.adjust(
            Quote(quote.ticker, bids, asks),
            f"min-spread: spread ${format_price(spread)} widened to at least ${format_price(minimum)}",
        )

