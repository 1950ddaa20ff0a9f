"""``market-lifecycle``: quote only active markets, and stop before they close."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import NANOS_PER_SECOND, MarketView, PortfolioView, Quote, Verdict, fraction_from_config
from mmframe_risk._base import ConfiguredRule, schema


@dataclass(frozen=True, slots=True)
class MarketLifecycleParams:
    stop_before_close_ns: int


class MarketLifecycleRule(ConfiguredRule[MarketLifecycleParams]):
    """Blocks a market whose status is not ``active`` (initialized, inactive/paused, closed, determined,
    finalized...) and, when its close time is known, from ``stop_before_close_minutes`` before it."""

    NAME = "market-lifecycle"
    SUMMARY = "Never quote markets that are not active; stop N minutes before close."
    SCHEMA = schema(
        {
            "stop_before_close_minutes": {
                "type": "number",
                "minimum": 0,
                "maximum": 10080,
                "default": 5,
                "description": "Pull quotes this many minutes before the market's close time.",
                "examples": [10],
            },
        },
        "market-lifecycle risk rule",
    )
    UPDATABLE = frozenset({"stop_before_close_minutes"})
    EXAMPLE = {"stop_before_close_minutes": 10}

    def parse(self, config: Mapping[str, Any]) -> MarketLifecycleParams:
        minutes = fraction_from_config(config["stop_before_close_minutes"], "stop_before_close_minutes")
        return MarketLifecycleParams(int(minutes * 60 * NANOS_PER_SECOND))

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or block with the reason."""
        if market.status != "active":
            return Verdict.block(f"market-lifecycle: market is {market.status}, not active")
        close = market.info.close_ts_ns if market.info is not None else None
        if close is not None and market.now_ns >= close - self.params.stop_before_close_ns:
            left = max(0, close - market.now_ns) // NANOS_PER_SECOND
            return Verdict.block(f"market-lifecycle: {left}s to close, inside the stop window")
        return Verdict.passed()
