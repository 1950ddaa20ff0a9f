"""``max-position``: cap the position each market (and all markets together) can reach."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    MAX_CONTRACTS,
    MAX_ORDER_CONTRACTS,
    Count,
    MarketView,
    PortfolioView,
    Quote,
    Verdict,
    count_from_config,
    format_count,
)
from mmframe_risk._base import ConfiguredRule, schema
from mmframe_risk._portfolio import gross_contracts_elsewhere
from mmframe_risk._quotes import both_sides, clip_side


@dataclass(frozen=True, slots=True)
class MaxPositionParams:
    per_market: Count
    total: Count
    size_increment: Count


class MaxPositionRule(ConfiguredRule[MaxPositionParams]):
    """Clips quote sizes so that no sequence of fills can take a position past the limits.

    Long side: position + every bid that could still fill <= limit; short side: every ask that could
    fill - position <= limit. "Could still fill" counts our live orders until their decrease or cancel
    is confirmed (a quoted level counts max(quoted, live)), so the bound holds while the reconciler
    moves orders, under partial fills, and after a limit is lowered (then nothing is added until the
    position is back inside). With ``total``, the limit of a market is also capped by ``total`` minus
    the worst-case contracts of every other market. Sizes are clipped best level first.
    """

    NAME = "max-position"
    SUMMARY = (
        "Clip sizes so position plus every order that could fill stays within per-market and total limits."
    )
    SCHEMA = schema(
        {
            "per_market": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_CONTRACTS,
                "multipleOf": 0.01,
                "default": 100,
                "description": "Largest long or short position in one market, contracts.",
                "examples": [200],
            },
            "total": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_CONTRACTS,
                "multipleOf": 0.01,
                "default": 0,
                "description": "Largest sum over markets of each market's worst-case position (long or short), "
                "contracts; 0 turns the total limit off.",
                "examples": [1000],
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
        "max-position risk rule",
    )
    UPDATABLE = frozenset({"per_market", "total"})
    EXAMPLE = {"per_market": 200, "total": 1000}

    def parse(self, config: Mapping[str, Any]) -> MaxPositionParams:
        return MaxPositionParams(
            per_market=count_from_config(config["per_market"], "per_market"),
            total=count_from_config(config["total"], "total"),
            size_increment=count_from_config(config["size_increment"], "size_increment"),
        )

    def limit(self, market: MarketView, portfolio: PortfolioView) -> Count:
        """The position limit of ``market`` now (both directions)."""
        p = self.params
        if not p.total:
            return p.per_market
        return min(p.per_market, p.total - gross_contracts_elsewhere(portfolio, market.ticker))

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or adjust with clipped sizes."""
        if quote.is_empty:
            return Verdict.passed()
        limit = self.limit(market, portfolio)
        position = market.position.position
        increment = self.params.size_increment
        bid_orders, ask_orders = both_sides(market.working_orders, quote.ticker)
        bids = clip_side(quote.bids, bid_orders, limit - position, increment)
        asks = clip_side(quote.asks, ask_orders, limit + position, increment)
        if bids == quote.bids and asks == quote.asks:
            return Verdict.passed()
        return Verdict.adjust(
            Quote(quote.ticker, bids, asks),
            f"max-position: sizes clipped to the limit of {format_count(limit)} contracts "
            f"(position {format_count(position)})",
        )
