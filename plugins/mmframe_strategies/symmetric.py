"""``symmetric``: a fixed-width quote around a reference price, with levels, inventory skew and
post-only pricing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mmframe.api import (
    COUNT_SCALE,
    DAY_SECONDS,
    MAX_ORDER_CONTRACTS,
    MAX_PAYOUT_DOLLARS,
    NANOS_PER_SECOND,
    ONE_DOLLAR,
    BookSide,
    ComponentContext,
    ConfigError,
    Configured,
    Count,
    Kind,
    Level,
    MarketView,
    OrderBook,
    OrderFilled,
    Price,
    Quote,
    TickGrid,
    WorkingOrder,
    count_from_config,
    format_price,
    fraction_from_config,
    price_from_config,
)
from mmframe_strategies._pricing import (
    ASK,
    BID,
    REFERENCES,
    ReferenceHold,
    floor_to_increment,
    grid_of,
    order_age_ns,
    others_best,
    passive_ask,
    passive_bid,
    step_away,
    touch,
)

NAME = "symmetric"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "symmetric strategy",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spread": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0.04,
            "description": "Distance between our best bid and best ask before rounding, dollars. Bids round "
            "down and asks round up to the grid, so the quoted spread is never narrower.",
            "examples": [0.04],
        },
        "size": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_ORDER_CONTRACTS,
            "multipleOf": 0.01,
            "default": 10,
            "description": "Size of the first level on each side, contracts.",
            "examples": [10],
        },
        "levels": {
            "type": "integer",
            "minimum": 1,
            "maximum": 20,
            "default": 1,
            "description": "Price levels per side.",
        },
        "level_spacing": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0.01,
            "description": "Distance between successive levels of one side, dollars (rounded outward to the grid).",
        },
        "level_size": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_ORDER_CONTRACTS,
            "multipleOf": 0.01,
            "default": 0,
            "description": "Size of each level after the first, contracts; 0 means the same as `size`.",
        },
        "reference": {
            "enum": list(REFERENCES),
            "default": "mid",
            "description": "Price the quote is centred on: the book `mid`, the size-weighted `microprice`, or "
            "the `fair_value` published by an extra feed. No reference, no quote.",
        },
        "min_spread": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0.02,
            "description": "Floor on `spread`, dollars (guards run-time changes of `spread`).",
        },
        "skew_per_contract": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0,
            "description": "Price shift of the whole quote per contract of position, dollars: long moves the "
            "quote down (sell more readily), short moves it up.",
        },
        "max_skew": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0.05,
            "description": "Bound on the inventory price shift, dollars.",
        },
        "size_skew_per_contract": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 0,
            "description": "Fraction by which the side that would grow the position shrinks, per contract of "
            "position (long shrinks bids, short shrinks asks).",
        },
        "max_size_skew": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": 1,
            "description": "Bound on that shrink; 1 lets the growing side disappear entirely.",
        },
        "size_increment": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_ORDER_CONTRACTS,
            "multipleOf": 0.01,
            "default": 1,
            "description": "Sizes are rounded down to a multiple of this many contracts (0.01 where fractional "
            "contracts trade).",
        },
        "refresh_tolerance": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": MAX_PAYOUT_DOLLARS,
            "multipleOf": 0.0001,
            "default": 0,
            "description": "Keep quoting around the previous reference while the new one is less than this far "
            "from it, dollars: small reference moves then cause no order changes.",
        },
        "max_order_age_s": {
            "type": "number",
            "minimum": 0,
            "maximum": DAY_SECONDS,
            "multipleOf": 0.001,
            "default": 0,
            "description": "Refresh orders older than this many seconds (0: never). A level whose order is too "
            "old is left out of one quote, so the reconciler cancels it; the next quote places it afresh.",
        },
        "join": {
            "enum": ["none", "join", "improve"],
            "default": "none",
            "description": "When our price is better than the best price of others on that side: `none` keeps "
            "it, `join` backs off to the best price, `improve` backs off to `max_improve_ticks` ticks "
            "better than it. Never moves a price toward the other side.",
        },
        "max_improve_ticks": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "default": 1,
            "description": "Ticks ahead of the best price that `join: improve` leads by.",
        },
    },
}

UPDATABLE = frozenset(SCHEMA["properties"]) - {"size_increment"}

PRICE_DISTANCES = ("spread", "level_spacing", "min_spread", "skew_per_contract", "max_skew", "refresh_tolerance")
"""Dollar distances, each below the venue's payout ($1 on Kalshi: checked when the strategy is built,
since a synthetic backtest market may pay more)."""
for _field in PRICE_DISTANCES:
    SCHEMA["properties"][_field]["description"] += " Below the market's payout ($1 on Kalshi)."

_Ratio = tuple[int, int]
_NO_SHRINK: _Ratio = (0, 1)

EXAMPLE: dict[str, Any] = {"spread": 0.04, "size": 10, "levels": 2, "skew_per_contract": 0.001}


@dataclass(frozen=True, slots=True)
class SymmetricParams:
    """The config in price and count units."""

    spread: Price
    size: Count
    levels: int
    level_spacing: Price
    level_size: Count
    reference: str
    min_spread: Price
    skew_per_contract: Price
    max_skew: Price
    size_skew_per_contract: Fraction
    max_size_skew: Fraction
    size_increment: Count
    refresh_tolerance: Price
    max_order_age_ns: int
    join: str
    max_improve_ticks: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any], payout: Price | None = ONE_DOLLAR) -> SymmetricParams:
        """Convert a resolved config; `ConfigError` for values the units cannot hold, and for a price
        distance that is not below ``payout`` (the venue's, $1 on Kalshi; None: no venue bound)."""
        size_increment = count_from_config(config["size_increment"], "size_increment")
        params = cls(
            spread=price_from_config(config["spread"], "spread"),
            size=count_from_config(config["size"], "size"),
            levels=config["levels"],
            level_spacing=price_from_config(config["level_spacing"], "level_spacing"),
            level_size=count_from_config(config["level_size"], "level_size"),
            reference=config["reference"],
            min_spread=price_from_config(config["min_spread"], "min_spread"),
            skew_per_contract=price_from_config(config["skew_per_contract"], "skew_per_contract"),
            max_skew=price_from_config(config["max_skew"], "max_skew"),
            size_skew_per_contract=fraction_from_config(config["size_skew_per_contract"], "size_skew_per_contract"),
            max_size_skew=fraction_from_config(config["max_size_skew"], "max_size_skew"),
            size_increment=size_increment,
            refresh_tolerance=price_from_config(config["refresh_tolerance"], "refresh_tolerance"),
            max_order_age_ns=int(
                fraction_from_config(config["max_order_age_s"], "max_order_age_s") * NANOS_PER_SECOND
            ),
            join=config["join"],
            max_improve_ticks=config["max_improve_ticks"],
        )
        for field in ("size", "level_size"):
            value = getattr(params, field)
            if value and value < size_increment:
                raise ConfigError(f"{NAME}: {field} is smaller than size_increment", field=field)
        if payout is not None:
            for field in PRICE_DISTANCES:
                value = getattr(params, field)
                if value >= payout:
                    raise ConfigError(
                        f"{NAME}: {field} ${format_price(value)} is not below the market's payout of "
                        f"${format_price(payout)}: no quote could be that wide",
                        field=field,
                    )
        if params.spread <= 0 or params.level_spacing <= 0:
            raise ConfigError(f"{NAME}: spread and level_spacing must be at least $0.0001",
                              field="spread" if params.spread <= 0 else "level_spacing")
        return params


class SymmetricStrategy(Configured[SymmetricParams]):
    """Quotes ``levels`` bids and asks ``spread`` apart around a reference price.

    Order of operations: reference (snapped by ``refresh_tolerance``) -> inventory price skew ->
    first level (bid rounded down, ask rounded up, then kept strictly inside the book: post-only)
    -> optional join/improve -> further levels ``level_spacing`` apart -> sizes (inventory size skew,
    rounded down to ``size_increment``) -> levels whose order is older than ``max_order_age_s`` left
    out. An invalid, crossed or locked book, or a missing reference, pulls the market.
    """

    KIND = Kind.STRATEGY
    NAME = NAME
    SUMMARY = "Fixed-width quote around the mid, microprice or a fair value; levels, inventory skew, post-only."
    SCHEMA = SCHEMA
    UPDATABLE = UPDATABLE
    EXAMPLE = EXAMPLE

    def __init__(self, config: Mapping[str, Any], *, payout: Price | None = ONE_DOLLAR) -> None:
        self._payout = payout
        super().__init__(config)
        self._references: dict[str, Price] = {}
        self._hold = ReferenceHold()

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> SymmetricStrategy:
        """The component factory (price distances bounded by the venue's payout)."""
        return cls(config, payout=getattr(ctx, "payout", ONE_DOLLAR))

    def parse(self, config: Mapping[str, Any]) -> SymmetricParams:
        return SymmetricParams.from_config(config, self._payout)

    def params_changed(self) -> None:
        params = self._params = self.params
        # Derived once per config change rather than once per quote.
        self._spread = max(params.spread, params.min_spread)
        self._unshrunk_sizes = self._level_sizes(_NO_SHRINK)
        self._reads_orders = params.reference == "mid" or params.join != "none" or params.max_order_age_ns > 0

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        """Nothing to learn: the position in the next view drives the skew."""

    def quote(self, market: MarketView) -> Quote:
        """The quote for ``market`` now (see the class docstring)."""
        p = self._params
        ticker = market.ticker
        book = market.book
        top = touch(book)
        if top is None:
            return Quote.empty(ticker)
        # Each read of working_orders builds a list: read it once per quote, and only when used.
        orders = market.working_orders if self._reads_orders else ()
        reference = self._hold.reference(market, p.reference, orders)
        if reference is None:
            return Quote.empty(ticker)
        best_bid, best_ask = top
        reference = self._snap(ticker, reference)
        position = market.position.position
        center = reference - self._price_skew(position) if position else reference
        spread = self._spread
        grid = grid_of(market)
        low = center - spread // 2
        bid = passive_bid(grid, low, best_ask)
        ask = passive_ask(grid, low + spread, best_bid)
        if p.join != "none":
            ticks = p.max_improve_ticks if p.join == "improve" else 0
            bid = self._back_off(book, orders, grid, bid, BID, ticks)
            ask = self._back_off(book, orders, grid, ask, ASK, ticks)
        if p.size_skew_per_contract and position:
            bid_shrink, ask_shrink = self._size_shrink(position)
            bid_sizes = self._level_sizes(bid_shrink)
            ask_sizes = self._level_sizes(ask_shrink)
        else:
            bid_sizes = ask_sizes = self._unshrunk_sizes
        now_ns = market.now_ns if p.max_order_age_ns else 0
        return Quote(
            ticker,
            self._levels(orders, now_ns, grid, bid, BID, bid_sizes),
            self._levels(orders, now_ns, grid, ask, ASK, ask_sizes),
        )

    def _snap(self, ticker: str, reference: Price) -> Price:
        tolerance = self._params.refresh_tolerance
        previous = self._references.get(ticker)
        if previous is not None and abs(reference - previous) < tolerance:
            return previous
        self._references[ticker] = reference
        return reference

    def _price_skew(self, position: Count) -> Price:
        p = self._params
        shift = min(abs(position) * p.skew_per_contract // COUNT_SCALE, p.max_skew)
        return shift if position > 0 else -shift

    def _size_shrink(self, position: Count) -> tuple[_Ratio, _Ratio]:
        """(bid, ask) shrink as exact ratios; integer math because Fraction costs microseconds."""
        p = self._params
        skew = p.size_skew_per_contract
        if not skew or not position:
            return _NO_SHRINK, _NO_SHRINK
        bound = p.max_size_skew
        # skew * |position| / COUNT_SCALE, capped at bound, compared by cross-multiplying.
        num, den = skew.numerator * abs(position), skew.denominator * COUNT_SCALE
        if num * bound.denominator > bound.numerator * den:
            num, den = bound.numerator, bound.denominator
        return ((num, den), _NO_SHRINK) if position > 0 else (_NO_SHRINK, (num, den))

    @staticmethod
    def _back_off(
        book: OrderBook,
        orders: Sequence[WorkingOrder],
        grid: TickGrid,
        price: Price | None,
        side: BookSide,
        ticks: int,
    ) -> Price | None:
        if price is None:
            return None
        best = others_best(book, orders, side)
        if best is None:
            return price
        limit = step_away(grid, best, ticks, side)
        return min(price, limit) if side is BID else max(price, limit)

    def _levels(
        self,
        orders: Sequence[WorkingOrder],
        now_ns: int,
        grid: TickGrid,
        first: Price | None,
        side: BookSide,
        sizes: tuple[Count, Count],
    ) -> tuple[Level, ...]:
        """The side's levels from ``first`` outward; ``now_ns`` matters only with ``max_order_age_ns``."""
        if first is None:
            return ()
        p = self._params
        first_size, other_size = sizes
        max_age = p.max_order_age_ns
        count = p.levels
        if count == 1 and not max_age:  # the common case: no ladder to walk
            return (Level(first, first_size),) if first_size > 0 else ()
        step = grid.round_down if side is BID else grid.round_up
        spacing = -p.level_spacing if side is BID else p.level_spacing
        levels: list[Level] = []
        price = first
        size = first_size
        for n in range(count):
            if size > 0 and not (max_age and order_age_ns(orders, side, price, now_ns) > max_age):
                levels.append(Level(price, size))
            if n + 1 == count:
                break
            outward = step(price + spacing)
            if outward is None:
                break
            price = outward
            size = other_size
        return tuple(levels)

    def _level_sizes(self, shrink: _Ratio) -> tuple[Count, Count]:
        """(first level, other levels) sizes after the inventory shrink, rounded to the increment."""
        p = self._params
        first, other = p.size, p.level_size or p.size
        if shrink[0]:
            first = first * (shrink[1] - shrink[0]) // shrink[1]
            other = other * (shrink[1] - shrink[0]) // shrink[1]
        return floor_to_increment(first, p.size_increment), floor_to_increment(other, p.size_increment)


SPEC = SymmetricStrategy.spec()
