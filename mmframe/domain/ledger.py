"""Positions, cash, PnL and fees, exactly, in price units (1/10,000 dollar)."""

from __future__ import annotations

from collections.abc import Mapping

from mmframe.domain.money import ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide


class Position:
    """One market's signed YES position (+ long YES, - long NO) with average cost and PnL.

    Fills at YES price p: a bid buys YES at p; an ask sells YES at p (equivalently buys NO at
    payout - p). Realised PnL is booked when a fill reduces the position; fees are tracked
    separately and `net_pnl` subtracts them.
    """

    def __init__(self, ticker: str, payout: Price = ONE_DOLLAR) -> None:
        raise NotImplementedError

    ticker: str
    position: Count
    avg_price: Price
    """Average YES entry price of the open position (0 when flat), floored to the price unit."""
    realised_pnl: Price
    fees: Price
    volume: Count

    def apply_fill(self, side: BookSide, price: Price, count: Count, fee: Price) -> None:
        raise NotImplementedError

    def unrealised_pnl(self, mark: Price | None) -> Price:
        """Mark-to-market PnL of the open position at YES price ``mark`` (0 when flat or no mark)."""
        raise NotImplementedError

    def net_pnl(self, mark: Price | None) -> Price:
        """Realised + unrealised - fees."""
        raise NotImplementedError

    def settle(self, yes_won: bool) -> Price:
        """Close the position at payout/0, book the PnL, return the settlement cash."""
        raise NotImplementedError

    def worst_case_loss(self, resting_bids: Count = 0, resting_asks: Count = 0) -> Price:
        """The most this market can lose if every resting order fills and the market settles
        against us (the collateral Kalshi locks)."""
        raise NotImplementedError

    def seed(self, position: Count, avg_price: Price) -> None:
        """Start from a position read from the venue (startup reconciliation)."""
        raise NotImplementedError


class Ledger:
    """All positions, by ticker, with totals."""

    def __init__(self) -> None:
        raise NotImplementedError

    def position(self, ticker: str) -> Position:
        """The position of ``ticker`` (created flat on first use)."""
        raise NotImplementedError

    @property
    def positions(self) -> Mapping[str, Position]:
        raise NotImplementedError

    def realised_pnl(self) -> Price:
        raise NotImplementedError

    def fees(self) -> Price:
        raise NotImplementedError

    def unrealised_pnl(self, marks: Mapping[str, Price | None]) -> Price:
        raise NotImplementedError
