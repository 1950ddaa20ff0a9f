"""What a strategy wants resting in one market, and the risk verdicts applied to it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mmframe.domain.money import Count, Price


class BookSide(enum.StrEnum):
    """The side of an order on the YES leg, as Kalshi V2 names it: ``bid`` buys YES, ``ask`` sells YES."""

    BID = "bid"
    ASK = "ask"

    @property
    def opposite(self) -> BookSide:
        return BookSide.ASK if self is BookSide.BID else BookSide.BID


@dataclass(frozen=True, slots=True)
class Level:
    """One price level of a quote: a YES price and a size in count units."""

    price: Price
    size: Count


@dataclass(frozen=True, slots=True)
class Quote:
    """What a strategy wants resting in one market now, in YES terms.

    ``bids`` are best (highest) first, ``asks`` best (lowest) first. An empty side means no orders
    on that side; `Quote.empty` pulls the market.
    """

    ticker: str
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    @classmethod
    def empty(cls, ticker: str) -> Quote:
        """A quote with no levels: cancel everything resting in ``ticker``."""
        return cls(ticker)

    @property
    def is_empty(self) -> bool:
        return not self.bids and not self.asks

    def side(self, side: BookSide) -> tuple[Level, ...]:
        """The levels of one side."""
        return self.bids if side is BookSide.BID else self.asks

    @property
    def spread(self) -> Price | None:
        """Best ask minus best bid, or None when a side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price


class VerdictKind(enum.StrEnum):
    """What a risk rule decided about a quote."""

    PASS = "pass"
    ADJUST = "adjust"
    BLOCK = "block"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A risk rule's decision, with the reason recorded for sinks and ``/state``.

    - ``pass``: the quote goes on unchanged.
    - ``adjust``: ``quote`` replaces it (clipped sizes, widened prices) and goes on to the next rule.
    - ``block``: nothing rests in this market (its orders are cancelled); other markets go on.
    - ``halt``: stop quoting everywhere and cancel every working order; positions are kept. With
      ``resume_after_ns`` the runtime resumes by itself after that cool-down.
    """

    kind: VerdictKind
    reason: str = ""
    quote: Quote | None = None
    resume_after_ns: int | None = field(default=None)

    @classmethod
    def passed(cls) -> Verdict:
        return _PASSED

    @classmethod
    def adjust(cls, quote: Quote, reason: str) -> Verdict:
        return cls(VerdictKind.ADJUST, reason, quote)

    @classmethod
    def block(cls, reason: str) -> Verdict:
        return cls(VerdictKind.BLOCK, reason)

    @classmethod
    def halt(cls, reason: str, resume_after_ns: int | None = None) -> Verdict:
        return cls(VerdictKind.HALT, reason, None, resume_after_ns)


_PASSED = Verdict(VerdictKind.PASS)
