"""The cross-market view risk rules see, with its totals kept up to date as markets change.

A check must cost the same at 2,000 markets as at 4, so nothing here walks every market per read.
The order tracker and the ledger say which market changed (`OrderTracker.watch`, `Ledger.watch`),
the quoting core says whose book moved (`book_changed`); each such market is only marked stale
(a dict insert on the hot path). A read first brings the stale markets' terms up to date from their
own few orders and position, adjusting each running total by the difference, then answers in O(1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mmframe.domain.ledger import Ledger, Position
from mmframe.domain.money import COUNT_SCALE, Count, Price
from mmframe.domain.orders import OrderStatus, OrderTracker, WorkingOrder
from mmframe.domain.quote import BookSide
from mmframe.runtime.market_state import MarketState

_BID = BookSide.BID
_PENDING_CANCEL = OrderStatus.PENDING_CANCEL


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
        self.day_start_micro = 0
        """Net PnL carried in from earlier runs today (the journal's books), micro-dollars (exact)."""
        # Per market: worst-case contracts and dollars (orders or position changed) ...
        self._stale_exposure: dict[str, None] = {}
        self._reach: dict[str, Count] = {}
        self._loss: dict[str, Price] = {}
        self._total_reach: Count = 0
        self._total_loss: Price = 0
        # ... and realised PnL, fees, unrealised PnL (position or book changed).
        self._stale_pnl: dict[str, None] = {}
        self._pnl: dict[str, tuple[Price, Price, Price, int]] = {}
        self._total_realised: Price = 0
        self._total_fees: Price = 0
        self._total_unrealised: Price = 0
        self._total_net_micro = 0
        tracker.watch(self._orders_changed)
        ledger.watch(self._position_changed)
        for ticker in ledger.positions:
            self._position_changed(ticker)
        for order in tracker.live():
            self._orders_changed(order.ticker)

    # --- what changed (hot path: mark only) ------------------------------------------------------

    def _orders_changed(self, ticker: str) -> None:
        self._stale_exposure[ticker] = None

    def _position_changed(self, ticker: str) -> None:
        self._stale_exposure[ticker] = None
        self._stale_pnl[ticker] = None

    def book_changed(self, ticker: str) -> None:
        """``ticker``'s book changed (delta, snapshot, invalidated, replaced): its mark may have moved."""
        self._stale_pnl[ticker] = None

    # --- PortfolioView ----------------------------------------------------------------------------

    @property
    def positions(self) -> Mapping[str, Position]:
        return self._ledger.positions

    @property
    def working_orders(self) -> Sequence[WorkingOrder]:
        return self._tracker.live()

    @property
    def realised_pnl(self) -> Price:
        if self._stale_pnl:
            self._refresh_pnl()
        return self._total_realised

    @property
    def unrealised_pnl(self) -> Price:
        if self._stale_pnl:
            self._refresh_pnl()
        return self._total_unrealised

    @property
    def fees(self) -> Price:
        if self._stale_pnl:
            self._refresh_pnl()
        return self._total_fees

    @property
    def now_ns(self) -> int:
        return self._now()

    def reachable_contracts(self, ticker: str) -> Count:
        """The largest position ``ticker`` can reach, long or short, if every live order on one side fills."""
        if self._stale_exposure:
            self._refresh_exposure()
        return self._reach.get(ticker, 0)

    @property
    def total_reachable_contracts(self) -> Count:
        """`reachable_contracts` summed over every market."""
        if self._stale_exposure:
            self._refresh_exposure()
        return self._total_reach

    def worst_case_loss(self, ticker: str) -> Price:
        """The most ``ticker`` can lose at settlement if every live order fills."""
        if self._stale_exposure:
            self._refresh_exposure()
        return self._loss.get(ticker, 0)

    @property
    def total_worst_case_loss(self) -> Price:
        """`worst_case_loss` summed over every market."""
        if self._stale_exposure:
            self._refresh_exposure()
        return self._total_loss

    # --- marks and PnL ----------------------------------------------------------------------------

    def marks(self) -> dict[str, Price | None]:
        """Mark price per market with a position: the mid, or while the book is invalid or one-sided
        (a disconnect, a sequence gap) the last mid seen, so losses do not vanish from the daily-loss
        view during an outage. None only when no mid was ever seen."""
        return {ticker: self._mark(ticker) for ticker in self._ledger.positions}

    def _mark(self, ticker: str) -> Price | None:
        state = self._markets.get(ticker)
        if state is None:
            return None
        mid = state.book.mid() if state.book.valid else None
        if mid is None:
            return state.last_mark
        state.last_mark = mid
        return mid

    @property
    def day_start_pnl(self) -> Price:
        """Net PnL carried in from earlier runs today, price units (floored)."""
        return self.day_start_micro // COUNT_SCALE

    def net_pnl(self) -> Price:
        """Today's net PnL: realised + unrealised - fees for this run, plus what earlier runs today
        carried in; summed exactly, floored once to the price unit."""
        if self._stale_pnl:
            self._refresh_pnl()
        return (self._total_net_micro + self.day_start_micro) // COUNT_SCALE

    # --- bringing stale markets up to date --------------------------------------------------------

    def _refresh_pnl(self) -> None:
        positions = self._ledger.positions
        terms = self._pnl
        for ticker in self._stale_pnl:
            position = positions.get(ticker)
            if position is None:
                continue
            mark = self._mark(ticker)
            new = (position.realised_pnl, position.fees, position.unrealised_pnl(mark), position.net_micro(mark))
            old = terms.get(ticker, (0, 0, 0, 0))
            terms[ticker] = new
            self._total_realised += new[0] - old[0]
            self._total_fees += new[1] - old[1]
            self._total_unrealised += new[2] - old[2]
            self._total_net_micro += new[3] - old[3]
        self._stale_pnl.clear()

    def _refresh_exposure(self) -> None:
        positions = self._ledger.positions
        for ticker in self._stale_exposure:
            reach, loss = _exposure(positions.get(ticker) or Position(ticker), self._tracker.working(ticker))
            self._total_reach += reach - self._reach.get(ticker, 0)
            self._total_loss += loss - self._loss.get(ticker, 0)
            self._reach[ticker] = reach
            self._loss[ticker] = loss
        self._stale_exposure.clear()


def _exposure(position: Position, orders: Sequence[WorkingOrder]) -> tuple[Count, Price]:
    """One market's worst-case position (long if every bid fills, short if every ask fills) and
    worst-case settlement loss, counting every live order that could still fill.

    An order with a change in flight counts at the larger of its old and new sizes; for the loss, an
    order with a cancel or amend in flight counts at the worse of its old and new terms too (a higher
    bid, a lower ask): either can fill, not both.
    """
    bids = asks = 0
    terms: list[tuple[BookSide, Price, Count]] = []
    for order in orders:
        status = order.status
        if not status.is_live:
            continue
        side = order.side
        remaining = order.remaining
        size = max(remaining, order.pending_size or 0) if order.pending_change else remaining
        if side is _BID:
            bids += size
        else:
            asks += size
        if order.pending_change or status is _PENDING_CANCEL:
            moved = order.pending_price if order.pending_price is not None else order.price
            price = max(order.price, moved) if side is _BID else min(order.price, moved)
            terms.append((side, price, max(remaining, order.pending_size or 0)))
        else:
            terms.append((side, order.price, remaining))
    held = position.position
    return max(held + bids, asks - held, 0), position.worst_case_loss_with(terms)
