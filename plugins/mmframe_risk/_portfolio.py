"""Totals across markets, from the portfolio view."""

from __future__ import annotations

from mmframe.api import Count, PortfolioView
from mmframe_risk._quotes import BID, LIVE_STATUSES


def gross_contracts_elsewhere(portfolio: PortfolioView, ticker: str) -> Count:
    """Worst-case contracts held across every market but ``ticker``.

    A market counts ``max(position + live bids, live asks - position)``: the larger of its position
    if every bid fills and its short if every ask fills.
    """
    bids: dict[str, Count] = {}
    asks: dict[str, Count] = {}
    for order in portfolio.working_orders:
        if order.ticker == ticker or order.status not in LIVE_STATUSES:
            continue
        book = bids if order.side is BID else asks
        size = max(order.remaining, order.pending_size or 0) if order.pending_change else order.remaining
        book[order.ticker] = book.get(order.ticker, 0) + size
    positions = portfolio.positions
    total = 0
    for other in set(positions) | set(bids) | set(asks):
        if other == ticker:
            continue
        held = positions[other].position if other in positions else 0
        total += max(held + bids.get(other, 0), asks.get(other, 0) - held, 0)
    return total
