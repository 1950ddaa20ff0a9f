"""``stale-data``: pull a market's quotes when its book is invalid or has not updated for a while."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmframe.api import (
    DAY_SECONDS,
    NANOS_PER_SECOND,
    MarketView,
    PortfolioView,
    Quote,
    Verdict,
    fraction_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema


@dataclass(frozen=True, slots=True)
class StaleDataParams:
    max_age_ns: int
    block_crossed: bool


class StaleDataRule(ConfiguredRule[StaleDataParams]):
    """Blocks (cancels this market's orders) while the book is invalid (before its first snapshot,
    after a sequence gap or reconnect), crossed or locked, or older than ``max_age_seconds``."""

    NAME = "stale-data"
    SUMMARY = "Pull quotes when the book is invalid, crossed, or has not updated for N seconds."
    SCHEMA = schema(
        {
            "max_age_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": DAY_SECONDS,
                "multipleOf": 0.001,
                "default": 60,
                "description": "Pull quotes when the book has not updated for this many seconds.",
                "examples": [30],
            },
            "block_crossed": {
                "type": "boolean",
                "default": True,
                "description": "Also pull quotes while the book is crossed or locked (best bid >= best ask).",
            },
        },
        "stale-data risk rule",
    )
    UPDATABLE = frozenset({"max_age_seconds", "block_crossed"})
    EXAMPLE = {"max_age_seconds": 30}

    def parse(self, config: Mapping[str, Any]) -> StaleDataParams:
        seconds = fraction_from_config(config["max_age_seconds"], "max_age_seconds")
        return StaleDataParams(int(seconds * NANOS_PER_SECOND), bool(config["block_crossed"]))

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or block with the reason."""
        book = market.book
        if not book.valid:
            return Verdict.block("stale-data: book invalid (waiting for a snapshot)")
        updated = market.last_book_update_ns
        if updated is None:
            return Verdict.block("stale-data: no book update received yet")
        age = market.now_ns - updated
        if age > self.params.max_age_ns:
            seconds = Decimal(age) / NANOS_PER_SECOND
            return Verdict.block(f"stale-data: book last updated {seconds:.3f}s ago")
        if self.params.block_crossed and (book.is_crossed() or book.is_locked()):
            return Verdict.block(
                f"stale-data: book crossed or locked ({book.best_bid()} >= {book.best_ask()})"
            )
        return Verdict.passed()
