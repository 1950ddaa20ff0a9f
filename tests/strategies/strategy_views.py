"""A small MarketView over real domain parts (OrderBook, Position, TickGrid) for strategy tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mmframe.api import BookSide, MarketInfo, OrderBook, OrderStatus, Position, Price, TickGrid, WorkingOrder

NOW_NS = 1_700_000_000_000_000_000
TICKER = "KXTEST-26NOV27-T60"


@dataclass
class MarketState:
    """Implements `mmframe.api.MarketView` with real parts; tests mutate it between quotes."""

    ticker: str = TICKER
    info: MarketInfo | None = None
    book: OrderBook = field(default_factory=lambda: OrderBook(TICKER))
    position: Position = field(default_factory=lambda: Position(TICKER))
    working_orders: Sequence[WorkingOrder] = ()
    last_trade_price: Price | None = None
    fair_value: Price | None = None
    status: str = "active"
    now_ns: int = NOW_NS
    last_book_update_ns: int | None = NOW_NS


def market(
    yes_bids: Sequence[tuple[int, int]] = ((4800, 1000),),
    no_bids: Sequence[tuple[int, int]] = ((4800, 1000),),
    *,
    grid: TickGrid | None = None,
    position: int = 0,
    payout: int = 10_000,
    close_ts_ns: int | None = None,
) -> MarketState:
    """A market with a snapshot book (``no_bids`` at NO prices), an optional grid and a seeded position."""
    book = OrderBook(TICKER, payout)
    book.apply_snapshot(list(yes_bids), list(no_bids), ts_ns=NOW_NS)
    pos = Position(TICKER, payout)
    if position:
        pos.seed(position, 5000)
    info = MarketInfo(TICKER, grid=grid, payout=payout, close_ts_ns=close_ts_ns)
    return MarketState(info=info, book=book, position=pos)


def resting(side: BookSide, price: int, size: int, *, created_ns: int = NOW_NS, n: int = 0) -> WorkingOrder:
    """One of our orders resting on the book."""
    return WorkingOrder(
        client_order_id=f"c{n}-{side}-{price}",
        ticker=TICKER,
        side=side,
        price=price,
        remaining=size,
        status=OrderStatus.RESTING,
        created_ns=created_ns,
    )
