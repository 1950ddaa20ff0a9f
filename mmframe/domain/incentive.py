"""An estimate of Kalshi's Liquidity Incentive Program score of our resting orders in one market.

What Kalshi publishes (API.md §9): per market and period a Target Size (100–20,000 contracts) and a
Discount Factor (≤ 1.00, ``discount_factor_bps`` in `GET /incentive_programs`); a snapshot each
second; only resting orders that help reach the Target Size count; score = size × a distance
multiplier that is 1.0 at the best bid/ask and discounted further away; payout in proportion to
the share of the total score. The exact distance formula is unconfirmed, so this is an *estimate*
under stated assumptions:

- each side (YES bids, YES asks = NO bids) is walked from its best price outward; a level counts
  toward the Target Size in full, and of the level that reaches it only the part up to the target
  counts, shared between us and the others at that level in proportion to size (queue position is
  unknown);
- the multiplier at a level ``d`` whole cents from that side's best price is ``discount^d``
  (1.0 at the best; integer basis points, rounded down at each step);
- the market's score is the sum of both sides, in count units (1/100 contract) weighted by the
  multiplier, rounded down: an integer, like every quantity of money or size here.

The best price is the book's, ours included: an order that makes the best price scores 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmframe.domain.book import OrderBook
from mmframe.domain.money import COUNT_SCALE, Count
from mmframe.domain.orders import WorkingOrder
from mmframe.domain.others import own_sizes
from mmframe.domain.quote import BookSide

BPS = 10_000
CENT = 100  # price units per cent: the distance step of the multiplier


@dataclass(frozen=True, slots=True)
class IncentiveTerms:
    """One market's Liquidity Incentive Program terms: the Target Size (count units) and the
    Discount Factor (basis points, 10,000 = 1.00)."""

    target_size: Count
    discount_bps: int

    def __post_init__(self) -> None:
        if self.target_size <= 0:
            raise ValueError(f"incentive target size must be positive, got {self.target_size}")
        if not 0 <= self.discount_bps <= BPS:
            raise ValueError(f"incentive discount factor must be 0..10000 bps, got {self.discount_bps}")


DEFAULT_TERMS = IncentiveTerms(target_size=1_000 * COUNT_SCALE, discount_bps=5_000)
"""Terms assumed for a market whose program terms are not known: a 1,000-contract target, 0.50."""


def multiplier_bps(distance_cents: int, discount_bps: int) -> int:
    """``discount^distance`` in basis points (1.0 = 10,000 at distance 0), rounded down per step."""
    value = BPS
    for _ in range(max(distance_cents, 0)):
        value = value * discount_bps // BPS
        if not value:
            break
    return value


def side_score(book: OrderBook, orders: Sequence[WorkingOrder], side: BookSide, terms: IncentiveTerms) -> int:
    """Our score on one side (count units × multiplier, rounded down); see the module docstring."""
    own = own_sizes(orders, side)
    if not own:
        return 0
    levels = book.bids() if side is BookSide.BID else book.asks()
    if not levels:
        return 0
    best = levels[0][0]
    room = terms.target_size
    total = 0  # count units × bps
    for price, size in levels:
        if room <= 0:
            break
        ours = min(own.get(price, 0), size)  # the book never shows less than ours once it rests
        counted = min(size, room)
        room -= counted
        if ours:
            distance = abs(best - price) // CENT
            total += ours * counted * multiplier_bps(distance, terms.discount_bps) // size
    return total // BPS


def incentive_score(book: OrderBook, orders: Sequence[WorkingOrder], terms: IncentiveTerms = DEFAULT_TERMS) -> int:
    """Our estimated score in one market: both sides' `side_score`; 0 when the book is not valid."""
    if not book.valid or not orders:
        return 0
    return side_score(book, orders, BookSide.BID, terms) + side_score(book, orders, BookSide.ASK, terms)
