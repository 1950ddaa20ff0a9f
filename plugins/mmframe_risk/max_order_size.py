"""``max-order-size``: cap the size (and optionally the dollar value) of every order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    COUNT_SCALE,
    MAX_DOLLARS,
    MAX_ORDER_CONTRACTS,
    ONE_DOLLAR,
    ConfigError,
    Count,
    Level,
    MarketView,
    PortfolioView,
    Price,
    Quote,
    Verdict,
    count_from_config,
    format_count,
    format_price,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema


@dataclass(frozen=True, slots=True)
class MaxOrderSizeParams:
    max_size: Count
    max_notional: Price
    size_increment: Count


class MaxOrderSizeRule(ConfiguredRule[MaxOrderSizeParams]):
    """Clips each level to ``max_size`` contracts and, with ``max_notional``, to the size whose cost
    (YES price x contracts for a bid, (payout - price) x contracts for an ask) fits the dollar cap.
    ``max_size`` is at most 10,000 contracts, the hard cap on one order (`MAX_ORDER_CONTRACTS`)."""

    NAME = "max-order-size"
    SUMMARY = "Clip every order to a maximum size in contracts and, optionally, in dollars at risk."
    SCHEMA = schema(
        {
            "max_size": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_ORDER_CONTRACTS,
                "multipleOf": 0.01,
                "default": 100,
                "description": "Largest size of one order, contracts.",
                "examples": [50],
            },
            "max_notional": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_DOLLARS,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Largest cost of one order if it fills, dollars (a bid costs its price, an ask "
                "the payout minus its price, per contract); 0 turns it off.",
                "examples": [25],
            },
            "size_increment": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_ORDER_CONTRACTS,
                "multipleOf": 0.01,
                "default": 1,
                "description": "Clipped sizes are rounded down to a multiple of this many contracts.",
            },
        },
        "max-order-size risk rule",
    )
    UPDATABLE = frozenset({"max_size", "max_notional"})
    EXAMPLE = {"max_size": 50}

    def parse(self, config: Mapping[str, Any]) -> MaxOrderSizeParams:
        if config["size_increment"] > config["max_size"]:
            raise ConfigError(
                f"{self.NAME}: size_increment {config['size_increment']} is above max_size {config['max_size']}: "
                "every clipped order would round down to nothing",
                field="size_increment",
            )
        return MaxOrderSizeParams(
            max_size=count_from_config(config["max_size"], "max_size"),
            max_notional=price_from_config(config["max_notional"], "max_notional"),
            size_increment=count_from_config(config["size_increment"], "size_increment"),
        )

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or adjust with clipped sizes."""
        payout = market.info.payout if market.info is not None else ONE_DOLLAR
        bids = self._clip(quote.bids, lambda price: price)
        asks = self._clip(quote.asks, lambda price: payout - price)
        if bids == quote.bids and asks == quote.asks:
            return Verdict.passed()
        cap = f"{format_count(self.params.max_size)} contracts"
        if self.params.max_notional:
            cap += f" / ${format_price(self.params.max_notional)}"
        return Verdict.adjust(Quote(quote.ticker, bids, asks), f"max-order-size: orders clipped to {cap}")

    def _clip(self, levels: tuple[Level, ...], cost: Callable[[Price], Price]) -> tuple[Level, ...]:
        p = self.params
        kept: list[Level] = []
        changed = False
        for level in levels:
            size = min(level.size, p.max_size)
            unit_cost = cost(level.price)
            if p.max_notional and unit_cost > 0:
                # cost of `size` count units is unit_cost * size / COUNT_SCALE price units
                size = min(size, p.max_notional * COUNT_SCALE // unit_cost)
            if size != level.size:
                changed = True
                size = size // p.size_increment * p.size_increment
            if size > 0:
                kept.append(level if size == level.size else Level(level.price, size))
        return tuple(kept) if changed else levels
