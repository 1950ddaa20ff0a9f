"""One market's order book: Kalshi's YES-bid and NO-bid ladders, exposed in YES terms."""

from __future__ import annotations

from collections.abc import Iterable

from mmframe.domain.events import BookDeltaReceived, BookSnapshotReceived, Leg
from mmframe.domain.money import ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide

_YES = Leg.YES


class OrderBook:
    """YES bids and NO bids from snapshots and deltas; asks are ``payout - NO bid``.

    Each ladder is a dict of price -> size in its own leg's price, plus a cached best price. A
    delta is one dict update; the best is recomputed (a max over the ladder) lazily, only after
    the best level itself was removed and only when someone asks. Depth queries sort on demand.

    The book is ``valid`` only after a snapshot and until `invalidate`. Deltas are applied even
    while invalid (a snapshot replaces everything anyway); readers check ``valid``.
    """

    __slots__ = ("_no", "_no_best", "_yes", "_yes_best", "last_update_ns", "payout", "ticker", "valid")

    def __init__(self, ticker: str, payout: Price = ONE_DOLLAR) -> None:
        self.ticker = ticker
        self.payout = payout
        self.valid = False
        self.last_update_ns = None
        self._yes: dict[Price, Count] = {}
        self._no: dict[Price, Count] = {}
        # None means "unknown, recompute on read" (also used for an empty ladder).
        self._yes_best: Price | None = None
        self._no_best: Price | None = None

    ticker: str
    payout: Price
    valid: bool
    last_update_ns: int | None

    # --- updates -----------------------------------------------------------------------------------

    def apply_snapshot(
        self, yes_bids: Iterable[tuple[Price, Count]], no_bids: Iterable[tuple[Price, Count]], ts_ns: int = 0
    ) -> None:
        """Replace the book; levels with size <= 0 are ignored. Makes the book valid.

        A price listed twice keeps the last size (Kalshi never sends duplicates).
        """
        self._yes = {price: size for price, size in yes_bids if size > 0}
        self._no = {price: size for price, size in no_bids if size > 0}
        self._yes_best = None
        self._no_best = None
        self.valid = True
        self.last_update_ns = ts_ns

    def apply_delta(self, leg: Leg, price: Price, delta: Count, ts_ns: int = 0) -> None:
        """Add ``delta`` at ``price`` on ``leg``'s ladder (that leg's price); <= 0 removes the level."""
        self.last_update_ns = ts_ns
        if leg is _YES:
            ladder = self._yes
            size = ladder.get(price, 0) + delta
            if size > 0:
                ladder[price] = size
                best = self._yes_best
                if best is not None and price > best:
                    self._yes_best = price
            else:
                if ladder.pop(price, None) is not None and price == self._yes_best:
                    self._yes_best = None
        else:
            ladder = self._no
            size = ladder.get(price, 0) + delta
            if size > 0:
                ladder[price] = size
                best = self._no_best
                if best is not None and price > best:
                    self._no_best = price
            else:
                if ladder.pop(price, None) is not None and price == self._no_best:
                    self._no_best = None

    def apply(self, event: BookSnapshotReceived | BookDeltaReceived) -> None:
        """Apply a book event (snapshot or delta) for this market."""
        if isinstance(event, BookDeltaReceived):
            self.apply_delta(event.leg, event.price, event.delta, event.ts_ns)
        else:
            self.apply_snapshot(event.yes_bids, event.no_bids, event.ts_ns)

    def invalidate(self) -> None:
        """Mark the book untrustworthy until the next snapshot."""
        self.valid = False

    # --- top of book --------------------------------------------------------------------------------

    def _best_yes(self) -> Price | None:
        best = self._yes_best
        if best is None and self._yes:
            best = self._yes_best = max(self._yes)
        return best

    def _best_no(self) -> Price | None:
        best = self._no_best
        if best is None and self._no:
            best = self._no_best = max(self._no)
        return best

    def best_bid(self) -> Price | None:
        """Best YES bid."""
        return self._best_yes()

    def best_ask(self) -> Price | None:
        """Best YES ask (``payout`` - best NO bid)."""
        best = self._best_no()
        return None if best is None else self.payout - best

    def best_bid_size(self) -> Count:
        """Size at the best YES bid (0 when empty)."""
        best = self._best_yes()
        return 0 if best is None else self._yes[best]

    def best_ask_size(self) -> Count:
        """Size at the best YES ask (0 when empty)."""
        best = self._best_no()
        return 0 if best is None else self._no[best]

    def size_at(self, side: BookSide, price: Price) -> Count:
        """Resting size at a YES price on the bid or ask side (0 when empty)."""
        if side is BookSide.BID:
            return self._yes.get(price, 0)
        return self._no.get(self.payout - price, 0)

    def leg_size_at(self, leg: Leg, price: Price) -> Count:
        """Resting size on ``leg``'s own ladder at that leg's price (0 when empty)."""
        return (self._yes if leg is _YES else self._no).get(price, 0)

    # --- depth --------------------------------------------------------------------------------------

    def bids(self, depth: int | None = None) -> list[tuple[Price, Count]]:
        """YES bids, best (highest) first."""
        return _top(self._yes, depth)

    def asks(self, depth: int | None = None) -> list[tuple[Price, Count]]:
        """YES asks, best (lowest) first."""
        payout = self.payout
        return [(payout - price, size) for price, size in _top(self._no, depth)]

    def depth(self, side: BookSide, through_price: Price) -> Count:
        """Total size on ``side`` at prices as good as or better than ``through_price``."""
        if side is BookSide.BID:
            return sum(size for price, size in self._yes.items() if price >= through_price)
        no_floor = self.payout - through_price
        return sum(size for price, size in self._no.items() if price >= no_floor)

    def level_count(self, side: BookSide) -> int:
        """Number of price levels on a side."""
        return len(self._yes if side is BookSide.BID else self._no)

    # --- derived prices -----------------------------------------------------------------------------

    def mid(self) -> Price | None:
        """(best bid + best ask) // 2, or None if a side is empty."""
        bid = self._best_yes()
        no = self._best_no()
        if bid is None or no is None:
            return None
        return (bid + self.payout - no) // 2

    def microprice(self) -> Price | None:
        """Size-weighted mid: (bid x ask_size + ask x bid_size) / (bid_size + ask_size), floored."""
        bid = self._best_yes()
        no = self._best_no()
        if bid is None or no is None:
            return None
        ask = self.payout - no
        bid_size = self._yes[bid]
        ask_size = self._no[no]
        return (bid * ask_size + ask * bid_size) // (bid_size + ask_size)

    def spread(self) -> Price | None:
        """Best ask - best bid (negative when crossed), or None if a side is empty."""
        bid = self._best_yes()
        no = self._best_no()
        if bid is None or no is None:
            return None
        return self.payout - no - bid

    def is_crossed(self) -> bool:
        """Best bid above best ask (impossible on a healthy venue book: a sign of a stale book)."""
        spread = self.spread()
        return spread is not None and spread < 0

    def is_locked(self) -> bool:
        """Best bid equal to best ask."""
        return self.spread() == 0

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.ticker!r}, valid={self.valid}, bid={self.best_bid()}x{self.best_bid_size()}, "
            f"ask={self.best_ask()}x{self.best_ask_size()})"
        )


def _top(ladder: dict[Price, Count], depth: int | None) -> list[tuple[Price, Count]]:
    """A bid ladder's levels, highest price first, at most ``depth`` of them."""
    if depth is None or depth >= len(ladder):
        return sorted(ladder.items(), reverse=True)
    if depth <= 0:
        return []
    if depth == 1:
        best = max(ladder)
        return [(best, ladder[best])]
    # Sorting the int keys in C beats heapq.nlargest (a Python loop over every level) at any
    # realistic ladder length; prices are unique, so the order is the same.
    return [(price, ladder[price]) for price in sorted(ladder, reverse=True)[:depth]]
