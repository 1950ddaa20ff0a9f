"""One market's order book: two bid ladders (YES bids, NO bids) with price-time priority, and its grid.

Both ladders hold bids in their own leg's price: a V2 ``bid`` at YES price p rests on the YES ladder at
p, an ``ask`` at YES price p rests on the NO ladder at 1 - p (API.md §7). An incoming bid on one leg at
leg price x crosses resting bids on the other leg at y >= 1 - x, best (highest) first, and trades at the
resting price, so YES price + NO price = $1 on every trade.

Levels are FIFO queues with lazy deletion: cancels mark the queue entry stale in O(1) and the level's
size is kept exact separately; stale entries are dropped when they reach the front or when they
outnumber live ones. Prices per ladder are kept in a sorted list (bisect), so the best price is O(1)
and adding/removing a level costs O(levels), at most a few hundred on Kalshi's grids.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from mmframe_sim.model import Order, PriceRange, Side
from mmframe_sim.money import ONE, Count, Price

YES = "yes"
NO = "no"


def leg_of(side: Side) -> str:
    """The ladder an order of ``side`` rests on."""
    return YES if side is Side.BID else NO


def leg_price(side: Side, yes_price: Price) -> Price:
    """An order's price in its own leg's terms."""
    return yes_price if side is Side.BID else ONE - yes_price


# --- the price grid --------------------------------------------------------------------------------


def ranges_for_structure(structure: str) -> tuple[PriceRange, ...]:
    """Kalshi's ``price_ranges`` for a ``price_level_structure`` (API.md §7)."""
    if structure == "linear_cent":
        return (PriceRange(0, ONE, 100),)
    if structure == "deci_cent":
        return (PriceRange(0, ONE, 10),)
    if structure == "tapered_deci_cent":
        return (PriceRange(0, 1_000, 10), PriceRange(1_000, 9_000, 100), PriceRange(9_000, ONE, 10))
    raise ValueError(
        f"unknown price_level_structure {structure!r}; use linear_cent, deci_cent or tapered_deci_cent"
    )


class PriceGrid:
    """The valid order prices of a market: on a step of one of the ranges, strictly inside (0, $1)."""

    def __init__(self, ranges: tuple[PriceRange, ...]) -> None:
        if not ranges:
            raise ValueError("a price grid needs at least one range")
        for r in ranges:
            if r.step <= 0 or r.start >= r.end:
                raise ValueError(f"bad price range {r}")
        self.ranges = tuple(sorted(ranges, key=lambda r: r.start))
        prices: set[Price] = set()
        for r in self.ranges:
            prices.update(p for p in range(r.start, r.end + 1, r.step) if 0 < p < ONE)
        self._prices = sorted(prices)
        self._valid = frozenset(prices)

    @property
    def min_price(self) -> Price:
        return self._prices[0]

    @property
    def max_price(self) -> Price:
        return self._prices[-1]

    def is_valid(self, price: Price) -> bool:
        return price in self._valid

    def round_down(self, price: Price) -> Price | None:
        """The highest valid price <= ``price``."""
        i = bisect.bisect_right(self._prices, price)
        return self._prices[i - 1] if i else None

    def round_up(self, price: Price) -> Price | None:
        """The lowest valid price >= ``price``."""
        i = bisect.bisect_left(self._prices, price)
        return self._prices[i] if i < len(self._prices) else None

    def clamp(self, price: Price) -> Price:
        """The nearest valid price, ties down; never outside the grid."""
        lo, hi = self.round_down(price), self.round_up(price)
        if lo is None:
            return self._prices[0]
        if hi is None:
            return self._prices[-1]
        return lo if price - lo <= hi - price else hi


# --- ladders ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Level:
    """One price level: a FIFO of (entry number, order) and the exact live size."""

    price: Price
    size: Count = 0
    live: int = 0
    queue: deque[tuple[int, Order]] = field(default_factory=deque)

    def front(self) -> Order | None:
        """The first live order, dropping stale entries on the way."""
        q = self.queue
        while q:
            entry, order = q[0]
            if order.book_entry == entry:
                return order
            q.popleft()
        return None

    def orders(self) -> Iterator[Order]:
        """Live orders in priority order."""
        for entry, order in self.queue:
            if order.book_entry == entry:
                yield order

    def compact(self) -> None:
        self.queue = deque((e, o) for e, o in self.queue if o.book_entry == e)


class Ladder:
    """The bids of one leg, by price."""

    __slots__ = ("leg", "levels", "prices")

    def __init__(self, leg: str) -> None:
        self.leg = leg
        self.levels: dict[Price, Level] = {}
        self.prices: list[Price] = []  # ascending

    def best(self) -> Level | None:
        return self.levels[self.prices[-1]] if self.prices else None

    def best_price(self) -> Price | None:
        return self.prices[-1] if self.prices else None

    def level(self, price: Price) -> Level:
        lvl = self.levels.get(price)
        if lvl is None:
            lvl = self.levels[price] = Level(price)
            bisect.insort(self.prices, price)
        return lvl

    def drop_if_empty(self, lvl: Level) -> None:
        if lvl.live == 0:
            del self.levels[lvl.price]
            del self.prices[bisect.bisect_left(self.prices, lvl.price)]

    def descending(self) -> Iterator[Level]:
        """Levels best first. Safe against levels being dropped while iterating."""
        for price in reversed(list(self.prices)):
            lvl = self.levels.get(price)
            if lvl is not None:
                yield lvl

    def ladder(self, depth: int = 0) -> tuple[tuple[Price, Count], ...]:
        """Ascending ``(price, size)``, best last; ``depth`` > 0 keeps the best ``depth``."""
        prices = self.prices[-depth:] if depth > 0 else self.prices
        return tuple((p, self.levels[p].size) for p in prices)


class Book:
    """Both ladders of one market. Sizes change only through `add`, `reduce` and `remove`."""

    __slots__ = ("_entries", "no", "yes")

    def __init__(self) -> None:
        self.yes = Ladder(YES)
        self.no = Ladder(NO)
        self._entries = 0

    def ladder(self, leg: str) -> Ladder:
        return self.yes if leg == YES else self.no

    def opposite(self, leg: str) -> Ladder:
        return self.no if leg == YES else self.yes

    def add(self, order: Order) -> Level:
        """Queue ``order`` (its remaining count) at the back of its level."""
        ladder = self.ladder(leg_of(order.side))
        lvl = ladder.level(leg_price(order.side, order.price))
        self._entries += 1
        order.book_entry = self._entries
        lvl.queue.append((self._entries, order))
        lvl.size += order.remaining
        lvl.live += 1
        return lvl

    def reduce(self, order: Order, by: Count) -> Level:
        """Shrink a resting order's level by ``by`` (the caller lowers ``order.remaining``), keeping
        its place in the queue."""
        lvl = self.ladder(leg_of(order.side)).levels[leg_price(order.side, order.price)]
        lvl.size -= by
        return lvl

    def remove(self, order: Order) -> Level:
        """Take a resting order out of the book (its remaining count leaves the level)."""
        ladder = self.ladder(leg_of(order.side))
        lvl = ladder.levels[leg_price(order.side, order.price)]
        lvl.size -= order.remaining
        lvl.live -= 1
        order.book_entry = 0
        if lvl.live == 0:
            ladder.drop_if_empty(lvl)
        elif len(lvl.queue) > 2 * lvl.live + 8:
            lvl.compact()
        return lvl

    def crossing(self, side: Side, yes_price: Price) -> Iterator[Level]:
        """Opposite-ladder levels an incoming order at ``yes_price`` would trade with, best first."""
        limit = ONE - leg_price(side, yes_price)  # lowest opposite-leg price that crosses
        for lvl in self.opposite(leg_of(side)).descending():
            if lvl.price < limit:
                return
            yield lvl

    def crosses(self, side: Side, yes_price: Price) -> bool:
        best = self.opposite(leg_of(side)).best_price()
        return best is not None and best >= ONE - leg_price(side, yes_price)

    def top(self) -> tuple[Price, Count, Price, Count]:
        """``(yes_bid, yes_bid_size, yes_ask, yes_ask_size)``; 0 / $1 when a side is empty."""
        y, n = self.yes.best(), self.no.best()
        return (
            y.price if y else 0,
            y.size if y else 0,
            ONE - n.price if n else ONE,
            n.size if n else 0,
        )

    def queue_ahead(self, order: Order) -> Count:
        """Contracts queued before ``order`` at its level."""
        lvl = self.ladder(leg_of(order.side)).levels.get(leg_price(order.side, order.price))
        ahead = 0
        if lvl is None:
            return 0
        for other in lvl.orders():
            if other is order:
                return ahead
            ahead += other.remaining
        return ahead
