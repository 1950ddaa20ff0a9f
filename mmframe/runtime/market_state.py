"""Per-market state the runtime keeps and hands to strategies and risk rules as a read-only view."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mmframe.domain.book import OrderBook
from mmframe.domain.ledger import Position
from mmframe.domain.market import MarketInfo
from mmframe.domain.money import Price
from mmframe.domain.orders import WorkingOrder


class MarketState:
    """One market: book, metadata, last trade, fair value, status; implements `MarketView`.

    ``working_orders`` and ``now_ns`` are read through callables so the view is always current
    without copying on every event.
    """

    __slots__ = (
        "_now",
        "_orders",
        "book",
        "dirty_since_ns",
        "fair_value",
        "info",
        "last_book_update_ns",
        "last_mark",
        "last_quote",
        "last_trade_price",
        "position",
        "status",
        "ticker",
    )

    def __init__(
        self,
        ticker: str,
        position: Position,
        now: Callable[[], int],
        orders: Callable[[str], Sequence[WorkingOrder]],
        info: MarketInfo | None = None,
    ) -> None:
        self.ticker = ticker
        self.info = info
        self.book = OrderBook(ticker, info.payout) if info is not None else OrderBook(ticker)
        self.position = position
        self.last_trade_price: Price | None = None
        self.fair_value: Price | None = None
        self.status = info.status if info is not None else "active"
        self.last_book_update_ns: int | None = None
        self.last_quote: object | None = None
        self.last_mark: Price | None = None
        """The last mid seen while the book was valid: marks the position while it is not."""
        self.dirty_since_ns: int | None = None
        self._now = now
        self._orders = orders

    @property
    def working_orders(self) -> Sequence[WorkingOrder]:
        return self._orders(self.ticker)

    @property
    def now_ns(self) -> int:
        return self._now()
