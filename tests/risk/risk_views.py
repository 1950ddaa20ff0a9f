"""Views for risk-rule tests: the strategies' MarketState plus a PortfolioView over real Positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mmframe.api import BookSide, Count, Level, OrderStatus, Position, Price, Quote, WorkingOrder
from tests.risk import portfolio_oracle as oracle
from tests.strategies.strategy_views import NOW_NS, TICKER, MarketState, market, resting

__all__ = [
    "NOW_NS",
    "TICKER",
    "MarketState",
    "PortfolioState",
    "market",
    "order",
    "portfolio_of",
    "quote",
    "resting",
]


@dataclass
class PortfolioState:
    """Implements `mmframe.api.PortfolioView`; the cross-market totals are computed the slow way, by
    walking ``positions`` and ``working_orders`` (`tests.risk.portfolio_oracle`)."""

    positions: dict[str, Position] = field(default_factory=dict)
    working_orders: Sequence[WorkingOrder] = ()
    realised_pnl: Price = 0
    unrealised_pnl: Price = 0
    fees: Price = 0
    day_start_pnl: Price = 0
    now_ns: int = NOW_NS

    def reachable_contracts(self, ticker: str) -> Count:
        return oracle.reachable_contracts(self.positions, self.working_orders, ticker)

    @property
    def total_reachable_contracts(self) -> Count:
        return oracle.gross_contracts_elsewhere(self.positions, self.working_orders, oracle.NOWHERE)

    def worst_case_loss(self, ticker: str) -> Price:
        return oracle.worst_case_loss(self.positions, self.working_orders, ticker)

    @property
    def total_worst_case_loss(self) -> Price:
        return oracle.loss_elsewhere(self.positions, self.working_orders, oracle.NOWHERE)


def portfolio_of(*markets: MarketState, **kwargs: object) -> PortfolioState:
    """A portfolio holding ``markets``' positions and working orders."""
    return PortfolioState(
        positions={m.ticker: m.position for m in markets},
        working_orders=[o for m in markets for o in m.working_orders],
        **kwargs,  # type: ignore[arg-type]
    )


def quote(
    bids: Sequence[tuple[int, int]] = (), asks: Sequence[tuple[int, int]] = (), ticker: str = TICKER
) -> Quote:
    """A quote from (price, count) pairs."""
    return Quote(ticker, tuple(Level(p, s) for p, s in bids), tuple(Level(p, s) for p, s in asks))


def order(
    side: BookSide,
    price: int,
    size: int,
    status: OrderStatus = OrderStatus.RESTING,
    *,
    ticker: str = TICKER,
    n: int = 0,
) -> WorkingOrder:
    """One of our orders in any state."""
    made = resting(side, price, size, n=n)
    made.status = status
    made.ticker = ticker
    return made
