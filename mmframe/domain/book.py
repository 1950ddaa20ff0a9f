"""One market's order book: Kalshi's YES-bid and NO-bid ladders, exposed in YES terms."""

from __future__ import annotations

from collections.abc import Iterable

from mmframe.domain.events import Leg
from mmframe.domain.money import ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide


class OrderBook:
    """YES bids and NO bids from snapshots and deltas; asks are ``payout - NO bid``.

    The book is ``valid`` only after a snapshot and until `invalidate`. Updates are O(1) for the
    common case (changes at or near the top) and O(log n) at worst.
    """

    def __init__(self, ticker: str, payout: Price = ONE_DOLLAR) -> None:
        raise NotImplementedError

    ticker: str
    valid: bool
    last_update_ns: int | None

    def apply_snapshot(
        self, yes_bids: Iterable[tuple[Price, Count]], no_bids: Iterable[tuple[Price, Count]], ts_ns: int = 0
    ) -> None:
        """Replace the book; levels with size <= 0 are ignored. Makes the book valid."""
        raise NotImplementedError

    def apply_delta(self, leg: Leg, price: Price, delta: Count, ts_ns: int = 0) -> None:
        """Add ``delta`` at ``price`` on ``leg``'s ladder (that leg's price); <= 0 removes the level."""
        raise NotImplementedError

    def invalidate(self) -> None:
        """Mark the book untrustworthy until the next snapshot."""
        raise NotImplementedError

    def best_bid(self) -> Price | None:
        """Best YES bid."""
        raise NotImplementedError

    def best_ask(self) -> Price | None:
        """Best YES ask (``payout`` - best NO bid)."""
        raise NotImplementedError

    def best_bid_size(self) -> Count:
        raise NotImplementedError

    def best_ask_size(self) -> Count:
        raise NotImplementedError

    def size_at(self, side: BookSide, price: Price) -> Count:
        """Resting size at a YES price on the bid or ask side (0 when empty)."""
        raise NotImplementedError

    def bids(self, depth: int | None = None) -> list[tuple[Price, Count]]:
        """YES bids, best (highest) first."""
        raise NotImplementedError

    def asks(self, depth: int | None = None) -> list[tuple[Price, Count]]:
        """YES asks, best (lowest) first."""
        raise NotImplementedError

    def depth(self, side: BookSide, through_price: Price) -> Count:
        """Total size on ``side`` at prices as good as or better than ``through_price``."""
        raise NotImplementedError

    def mid(self) -> Price | None:
        """(best bid + best ask) // 2, or None if a side is empty."""
        raise NotImplementedError

    def microprice(self) -> Price | None:
        """Size-weighted mid: (bid x ask_size + ask x bid_size) / (bid_size + ask_size), floored."""
        raise NotImplementedError

    def is_crossed(self) -> bool:
        raise NotImplementedError

    def is_locked(self) -> bool:
        raise NotImplementedError
