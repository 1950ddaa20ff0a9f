"""The cross-market view risk rules see."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mmframe.domain.ledger import Ledger, Position
from mmframe.domain.money import Price
from mmframe.domain.orders import OrderTracker, WorkingOrder
from mmframe.runtime.market_state import MarketState


class Portfolio:
    """Implements `PortfolioView` over the ledger, the order tracker and the market states."""

    def __init__(
        self,
        ledger: Ledger,
        tracker: OrderTracker,
        markets: Mapping[str, MarketState],
        now: Callable[[], int],
    ) -> None:
        self._ledger = ledger
        self._tracker = tracker
        self._markets = markets
        self._now = now
        self.day_start_pnl: Price = 0
        """Net PnL carried in from earlier runs today (restored from the journal)."""

    @property
    def positions(self) -> Mapping[str, Position]:
        return self._ledger.positions

    @property
    def working_orders(self) -> Sequence[WorkingOrder]:
        return self._tracker.live()

    @property
    def realised_pnl(self) -> Price:
        return self._ledger.realised_pnl()

    @property
    def unrealised_pnl(self) -> Price:
        return self._ledger.unrealised_pnl(self.marks())

    @property
    def fees(self) -> Price:
        return self._ledger.fees()

    @property
    def now_ns(self) -> int:
        return self._now()

    def marks(self) -> dict[str, Price | None]:
        """Mark price per market with a position: the mid, or while the book is invalid or one-sided
        (a disconnect, a sequence gap) the last mid seen, so losses do not vanish from the daily-loss
        view during an outage. None only when no mid was ever seen."""
        marks: dict[str, Price | None] = {}
        for ticker in self._ledger.positions:
            state = self._markets.get(ticker)
            if state is None:
                marks[ticker] = None
                continue
            mid = state.book.mid() if state.book.valid else None
            if mid is None:
                mid = state.last_mark
            else:
                state.last_mark = mid
            marks[ticker] = mid
        return marks

    def net_pnl(self) -> Price:
        """Realised + unrealised - fees for this run, plus what earlier runs today carried in."""
        return self.realised_pnl + self.unrealised_pnl - self.fees + self.day_start_pnl
