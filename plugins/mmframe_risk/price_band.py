"""``price-band``: keep quote prices inside absolute bounds and near the mid and the last trade."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    BookSide,
    ConfigError,
    Level,
    MarketView,
    PortfolioView,
    Price,
    Quote,
    TickGrid,
    Verdict,
    format_price,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema
from mmframe_risk._quotes import grid_of


@dataclass(frozen=True, slots=True)
class PriceBandParams:
    min_price: Price
    max_price: Price
    max_distance_from_mid: Price
    max_distance_from_last_trade: Price
    action: str


class PriceBandRule(ConfiguredRule[PriceBandParams]):
    """Keeps every quoted price within a band: ``min_price``..``max_price`` and, when set, within a
    distance of the book mid and of the last trade (a market with no trade yet skips that part; a
    band around the mid without a two-sided book blocks).

    ``action: clip`` pulls the side that would pay too much back to the band edge (a bid above the
    band moves down to its top, an ask below it moves up to its bottom) and drops levels on the
    harmless side of the band; a level the band edge would put at or through the opposite best price
    of the book is dropped, never moved there (it would cross: a post-only reject). ``action: block``
    pulls the market on any breach. ``min_price`` must not be above ``max_price`` (a band no price
    fits is refused when the pipeline loads).
    """

    NAME = "price-band"
    SUMMARY = "Keep quote prices inside absolute bounds and a maximum distance from the mid and last trade."
    SCHEMA = schema(
        {
            "min_price": {
                "type": "number",
                "minimum": 0,
                "exclusiveMaximum": 1,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Lowest allowed quote price, dollars.",
                "examples": [0.03],
            },
            "max_price": {
                "type": "number",
                "minimum": 0,
                "exclusiveMaximum": 1,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Highest allowed quote price, dollars; 0 means no cap.",
                "examples": [0.97],
            },
            "max_distance_from_mid": {
                "type": "number",
                "minimum": 0,
                "exclusiveMaximum": 1,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Largest distance of any quote price from the book mid, dollars; 0 turns it off.",
                "examples": [0.1],
            },
            "max_distance_from_last_trade": {
                "type": "number",
                "minimum": 0,
                "exclusiveMaximum": 1,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Largest distance of any quote price from the last trade, dollars; 0 turns it off.",
                "examples": [0.15],
            },
            "action": {
                "enum": ["clip", "block"],
                "default": "clip",
                "description": "`clip` moves or drops offending levels; `block` pulls the market.",
            },
        },
        "price-band risk rule",
    )
    UPDATABLE = frozenset(SCHEMA["properties"])
    EXAMPLE = {"min_price": 0.03, "max_price": 0.97, "max_distance_from_mid": 0.1}

    def parse(self, config: Mapping[str, Any]) -> PriceBandParams:
        low, high = config["min_price"], config["max_price"]
        if high and low > high:
            raise ConfigError(
                f"{self.NAME}: min_price {low} is above max_price {high}: no price could be quoted "
                "(min_price must be <= max_price; max_price 0 means no cap)",
                field="min_price",
            )
        return PriceBandParams(
            min_price=price_from_config(config["min_price"], "min_price"),
            max_price=price_from_config(config["max_price"], "max_price"),
            max_distance_from_mid=price_from_config(config["max_distance_from_mid"], "max_distance_from_mid"),
            max_distance_from_last_trade=price_from_config(
                config["max_distance_from_last_trade"], "max_distance_from_last_trade"
            ),
            action=config["action"],
        )

    def band(self, market: MarketView) -> tuple[Price, Price | None] | str:
        """(lowest, highest or None) allowed price now, or why no band can be computed."""
        p = self.params
        low: Price = p.min_price
        high: Price | None = p.max_price or None
        anchors = []
        if p.max_distance_from_mid:
            mid = market.book.mid() if market.book.valid else None
            if mid is None:
                return "price-band: no mid to measure distance from"
            anchors.append((mid, p.max_distance_from_mid))
        if p.max_distance_from_last_trade and market.last_trade_price is not None:
            anchors.append((market.last_trade_price, p.max_distance_from_last_trade))
        for anchor, distance in anchors:
            low = max(low, anchor - distance)
            high = anchor + distance if high is None else min(high, anchor + distance)
        return low, high

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, adjust (clip) or block."""
        if quote.is_empty:
            return Verdict.passed()
        band = self.band(market)
        if isinstance(band, str):
            return Verdict.block(band)
        low, high = band
        inside = all(
            low <= level.price and (high is None or level.price <= high)
            for level in (*quote.bids, *quote.asks)
        )
        if inside:
            return Verdict.passed()
        where = f"${format_price(low)}..{'' if high is None else '$' + format_price(high)}"
        if self.params.action == "block" or (high is not None and high < low):
            return Verdict.block(f"price-band: quote outside {where}")
        grid = grid_of(market)
        book = market.book
        bids = _clip(grid, quote.bids, low, high, BookSide.BID, book.best_ask())
        asks = _clip(grid, quote.asks, low, high, BookSide.ASK, book.best_bid())
        return Verdict.adjust(Quote(quote.ticker, bids, asks), f"price-band: quote clipped to {where}")


def _clip(
    grid: TickGrid,
    levels: tuple[Level, ...],
    low: Price,
    high: Price | None,
    side: BookSide,
    opposite: Price | None,
) -> tuple[Level, ...]:
    """``levels`` moved into the band; a level the move would put at or through ``opposite`` (the
    book's best price on the other side) is dropped instead: quotes rest as post-only orders, and
    the venue rejects one that would cross."""
    kept: list[Level] = []
    for level in levels:
        price: Price | None = level.price
        if side is BookSide.BID:
            if high is not None and level.price > high:
                price = grid.round_down(high)
                if price is not None and opposite is not None and price >= opposite:
                    continue
            if price is None or price < low or (kept and price >= kept[-1].price):
                continue
        else:
            if level.price < low:
                price = grid.round_up(low)
                if price is not None and opposite is not None and price <= opposite:
                    continue
            if price is None or (high is not None and price > high) or (kept and price <= kept[-1].price):
                continue
        kept.append(level if price == level.price else Level(price, level.size))
    return tuple(kept)
