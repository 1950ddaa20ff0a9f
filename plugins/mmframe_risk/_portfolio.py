"""Totals across markets, from the portfolio view's running totals (O(1) per check)."""

from __future__ import annotations

from mmframe.api import Count, PortfolioView, Price


def gross_contracts_elsewhere(portfolio: PortfolioView, ticker: str) -> Count:
    """Worst-case contracts held across every market but ``ticker``.

    A market counts ``max(position + live bids, live asks - position, 0)``: the larger of its
    position if every bid fills and its short if every ask fills.
    """
    return portfolio.total_reachable_contracts - portfolio.reachable_contracts(ticker)


def loss_elsewhere(portfolio: PortfolioView, ticker: str) -> Price:
    """Worst-case settlement loss across every market but ``ticker``, every live order filled."""
    return portfolio.total_worst_case_loss - portfolio.worst_case_loss(ticker)
