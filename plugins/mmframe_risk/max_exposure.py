"""``max-exposure``: cap total contracts and worst-case dollars across all markets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    MAX_CONTRACTS,
    MAX_DOLLARS,
    MAX_ORDER_CONTRACTS,
    BookSide,
    Count,
    Level,
    MarketView,
    PortfolioView,
    Position,
    Price,
    Quote,
    Verdict,
    WorkingOrder,
    count_from_config,
    format_count,
    format_price,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema
from mmframe_risk._portfolio import gross_contracts_elsewhere, loss_elsewhere
from mmframe_risk._quotes import LIVE_STATUSES, PENDING_CANCEL, SideOrders, both_sides, clip_side

Exposure = list[tuple[BookSide, Price, Count]]


@dataclass(frozen=True, slots=True)
class MaxExposureParams:
    max_contracts: Count
    max_loss: Price
    size_increment: Count


def worst_case_orders(
    levels: Iterable[Level], orders: SideOrders, side: BookSide, live: Iterable[WorkingOrder]
) -> Exposure:
    """Every order that could fill on ``side`` while the reconciler moves our orders to ``levels``,
    as (side, price, size): quoted levels at max(quoted, live at that price), other live orders in
    full, and orders with a cancel or amend in flight at the worse of their old and new terms."""
    quoted = {level.price: level.size for level in levels}
    exposure: Exposure = []
    for order in live:
        if order.side is not side or order.status not in LIVE_STATUSES:
            continue
        if order.pending_change or order.status is PENDING_CANCEL:
            exposure.append(_worse_terms(order))
        elif order.price not in quoted:
            exposure.append((side, order.price, order.remaining))
    for price, size in quoted.items():
        exposure.append((side, price, max(size, orders.by_price.get(price, 0))))
    return exposure


def _worse_terms(order: WorkingOrder) -> tuple[BookSide, Price, Count]:
    # Either the old or the amended order can fill, not both: a higher bid or a lower ask and the
    # larger size lose at least as much as either.
    size = max(order.remaining, order.pending_size or 0)
    moved = order.pending_price if order.pending_price is not None else order.price
    price = max(order.price, moved) if order.side is BookSide.BID else min(order.price, moved)
    return order.side, price, size


class MaxExposureRule(ConfiguredRule[MaxExposureParams]):
    """Caps exposure summed over all markets, counting every order that could still fill.

    ``max_contracts``: the sum over markets of each one's worst-case position (long if all bids fill,
    short if all asks fill) — this market's limit is what the others leave. ``max_loss``: the sum over
    markets of the worst-case loss at settlement (`Position.worst_case_loss_with`: what we paid for
    the position plus what every live order could cost). Quote sizes are cut best level first,
    bids and asks in turn, to the largest sizes within both caps.
    """

    NAME = "max-exposure"
    SUMMARY = "Cap total worst-case contracts and worst-case dollars across all markets."
    SCHEMA = schema(
        {
            "max_contracts": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_CONTRACTS,
                "multipleOf": 0.01,
                "default": 0,
                "description": "Largest sum over markets of worst-case positions, contracts; 0 turns it off.",
                "examples": [1000],
            },
            "max_loss": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_DOLLARS,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Largest sum over markets of the worst-case loss at settlement, dollars; 0 turns "
                "it off.",
                "examples": [500],
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
        "max-exposure risk rule",
    )
    UPDATABLE = frozenset({"max_contracts", "max_loss"})
    EXAMPLE = {"max_contracts": 1000, "max_loss": 500}

    def parse(self, config: Mapping[str, Any]) -> MaxExposureParams:
        return MaxExposureParams(
            max_contracts=count_from_config(config["max_contracts"], "max_contracts"),
            max_loss=price_from_config(config["max_loss"], "max_loss"),
            size_increment=count_from_config(config["size_increment"], "size_increment"),
        )

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or adjust with clipped sizes."""
        if quote.is_empty:
            return Verdict.passed()
        p = self.params
        reasons: list[str] = []
        bids, asks = quote.bids, quote.asks
        live = [o for o in market.working_orders if o.ticker == quote.ticker]
        bid_orders, ask_orders = both_sides(live, quote.ticker)
        position = market.position
        if p.max_contracts:
            limit = p.max_contracts - gross_contracts_elsewhere(portfolio, quote.ticker)
            bids = clip_side(bids, bid_orders, limit - position.position, p.size_increment)
            asks = clip_side(asks, ask_orders, limit + position.position, p.size_increment)
            if (bids, asks) != (quote.bids, quote.asks):
                reasons.append(f"{format_count(p.max_contracts)} contracts")
        if p.max_loss:
            budget = p.max_loss - loss_elsewhere(portfolio, quote.ticker)
            clipped = _fit_loss(position, bids, asks, bid_orders, ask_orders, live, budget, p.size_increment)
            if clipped != (bids, asks):
                bids, asks = clipped
                reasons.append(f"${format_price(p.max_loss)} worst-case loss")
        if not reasons:
            return Verdict.passed()
        return Verdict.adjust(
            Quote(quote.ticker, bids, asks), "max-exposure: sizes clipped to " + " and ".join(reasons)
        )


def _fit_loss(
    position: Position,
    bids: tuple[Level, ...],
    asks: tuple[Level, ...],
    bid_orders: SideOrders,
    ask_orders: SideOrders,
    live: list[WorkingOrder],
    budget: Price,
    increment: Count,
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """The largest sizes (best level first, bids and asks in turn) whose worst case fits ``budget``."""

    def loss(b: tuple[Level, ...], a: tuple[Level, ...]) -> Price:
        exposure = worst_case_orders(b, bid_orders, BookSide.BID, live)
        exposure += worst_case_orders(a, ask_orders, BookSide.ASK, live)
        return position.worst_case_loss_with(exposure)

    if loss(bids, asks) <= budget:
        return bids, asks
    # Start from nothing new quoted, then grow one level at a time as far as the budget allows.
    sizes = {(BookSide.BID, i): 0 for i in range(len(bids))} | {
        (BookSide.ASK, i): 0 for i in range(len(asks))
    }

    def build() -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        b = tuple(
            Level(lv.price, sizes[BookSide.BID, i]) for i, lv in enumerate(bids) if sizes[BookSide.BID, i]
        )
        a = tuple(
            Level(lv.price, sizes[BookSide.ASK, i]) for i, lv in enumerate(asks) if sizes[BookSide.ASK, i]
        )
        return b, a

    bid_keys = [(BookSide.BID, i) for i in range(len(bids))]
    ask_keys = [(BookSide.ASK, i) for i in range(len(asks))]
    order = [
        key for i in range(max(len(bids), len(asks))) for key in (bid_keys[i : i + 1] + ask_keys[i : i + 1])
    ]
    for key in order:
        side, index = key
        wanted = (bids if side is BookSide.BID else asks)[index].size
        low, high = 0, wanted // increment  # in increments
        while low < high:
            mid = (low + high + 1) // 2
            sizes[key] = mid * increment
            if loss(*build()) <= budget:
                low = mid
            else:
                high = mid - 1
        sizes[key] = low * increment
    return build()
