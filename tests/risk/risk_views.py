"""Views for risk-rule tests: the strategies' MarketState plus a PortfolioView over real Positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mmframe.api import BookSide, Level, OrderStatus, Position, Price, Quote, WorkingOrder
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
    """Implements `mmframe.api.PortfolioView`."""

    positions: dict[str, Position] = field(default_factory=dict)
    working_orders: Sequence[WorkingOrder] = ()
    realised_pnl: Price = 0
    unrealised_pnl: Price = 0
    fees: Price = 0
    day_start_pnl: Price = 0
    now_ns: int = NOW_NS


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
