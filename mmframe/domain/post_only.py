"""Post-only safety: a quote never asks for a resting order that would cross the book.

Applied after the strategy and after every adjusting risk rule, so no step can move a price through
the book: a bid must stay strictly below the best ask and an ask strictly above the best bid. Quote
prices are on the market's tick grid and so is the book, so "strictly below" is "at least one tick
behind" (`TickGrid.next_down` of the best ask is the highest bid allowed; an off-grid price is the
venue's to refuse). A level that cannot be placed is dropped, never moved (moving it is a price
decision, the strategy's). A book that is not valid (no snapshot yet, or a gap) gives nothing to
check against: the quote passes unchanged, and the stale-data rule and the strategies pull such a
market.
"""

from __future__ import annotations

from dataclasses import replace

from mmframe.domain.book import OrderBook
from mmframe.domain.quote import Quote


def post_only_safe(quote: Quote, book: OrderBook) -> tuple[Quote, int]:
    """``quote`` without the levels that would cross ``book``, and how many were dropped."""
    if quote.is_empty or not book.valid:
        return quote, 0
    best_ask = book.best_ask()
    best_bid = book.best_bid()
    bids = quote.bids if best_ask is None else tuple(level for level in quote.bids if level.price < best_ask)
    asks = quote.asks if best_bid is None else tuple(level for level in quote.asks if level.price > best_bid)
    dropped = len(quote.bids) - len(bids) + len(quote.asks) - len(asks)
    if not dropped:
        return quote, 0
    return replace(quote, bids=bids, asks=asks), dropped
