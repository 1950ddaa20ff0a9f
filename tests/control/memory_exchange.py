"""A small in-memory exchange for control-plane tests: a feed, an executor that rests post-only
orders and fills marketable IOC orders against the book, a mid-quoting strategy with updatable
params. Registered as a plugin module through `load_registry(extra_modules=...)`.

(The end-to-end versions of these tests run against the simulator over real sockets.)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio

from mmframe.api import (
    AccountSnapshot,
    AmendOrder,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    ComponentSpec,
    CreateOrder,
    DecreaseOrder,
    Event,
    FeedContext,
    Kind,
    Level,
    MarketView,
    OrderAccepted,
    OrderAction,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    Quote,
    WorkingOrder,
    contracts_to_count,
    dollars_to_price,
    hookimpl,
)

TICKERS = ("CTL-A", "CTL-B")


class Exchange:
    """The venue's ground truth: books (YES bids, NO bids), resting orders, positions.

    ``Exchange.current`` is the instance the next venue built uses (set by the test fixture); it
    survives engine restarts like a real exchange does.
    """

    current: Exchange | None = None

    def __init__(self, tickers: Sequence[str] = TICKERS) -> None:
        self.books: dict[str, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]] = {
            ticker: (((4500, 50_000),), ((5000, 50_000),)) for ticker in tickers
        }
        self.resting: dict[str, WorkingOrder] = {}
        self.positions: dict[str, int] = {}
        self.ids = itertools.count(1)
        self.executed: list[OrderAction] = []
        self.reject_creates_with: str | None = None
        self.ctx: FeedContext | None = None

    def best_bid(self, ticker: str) -> int:
        return max(price for price, _ in self.books[ticker][0])

    def best_ask(self, ticker: str) -> int:
        return 10_000 - max(price for price, _ in self.books[ticker][1])

    def publish(self, event: Event) -> None:
        assert self.ctx is not None
        self.ctx.publish(event)

    def fill(self, client_order_id: str, count: int | None = None, fee: int = 0) -> None:
        """A resting order of ours trades (called by tests)."""
        assert self.ctx is not None
        order = self.resting[client_order_id]
        count = order.remaining if count is None else count
        order.remaining -= count
        if order.remaining <= 0:
            del self.resting[client_order_id]
        self._book_fill(order.ticker, order.side, order.price, count, fee, client_order_id, order.order_id or "", False)

    def _book_fill(
        self, ticker: str, side: BookSide, price: int, count: int, fee: int, cid: str, oid: str, taker: bool
    ) -> None:
        assert self.ctx is not None
        signed = count if side is BookSide.BID else -count
        self.positions[ticker] = self.positions.get(ticker, 0) + signed
        self.ctx.publish(
            OrderFilled(
                ts_ns=self.ctx.clock.now_ns(), client_order_id=cid, ticker=ticker, order_id=oid,
                trade_id=f"t{next(self.ids)}", side=side, price=price, count=count, fee=fee, is_taker=taker,
            )
        )

    def move_book(self, ticker: str, yes_bid: int, no_bid: int) -> None:
        """Replace ``ticker``'s book with one level per side and publish the snapshot."""
        self.books[ticker] = (((yes_bid, 50_000),), ((no_bid, 50_000),))
        assert self.ctx is not None
        self.ctx.publish(
            BookSnapshotReceived(
                ts_ns=self.ctx.clock.now_ns(), ticker=ticker, yes_bids=self.books[ticker][0],
                no_bids=self.books[ticker][1],
            )
        )


class ExchangeFeed:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def run(self, ctx: FeedContext) -> None:
        self.exchange.ctx = ctx
        for ticker in ctx.markets:
            yes, no = self.exchange.books[ticker]
            ctx.publish(BookSnapshotReceived(ts_ns=ctx.clock.now_ns(), ticker=ticker, yes_bids=yes, no_bids=no))
        await anyio.sleep_forever()


class ExchangeExecutor:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        self.exchange.ctx = ctx
        return AccountSnapshot(positions=dict(self.exchange.positions), open_orders=list(self.exchange.resting.values()))

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        ex = self.exchange
        assert ex.ctx is not None
        now = ex.ctx.clock.now_ns()
        for action in actions:
            ex.executed.append(action)
            if isinstance(action, CreateOrder):
                self._create(action, now)
            elif isinstance(action, CancelOrder):
                if ex.resting.pop(action.client_order_id, None) is not None:
                    ex.publish(OrderCanceled(ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker))
            elif isinstance(action, AmendOrder):
                order = ex.resting.pop(action.client_order_id)
                order.client_order_id, order.price, order.remaining = (
                    action.new_client_order_id, action.price, action.size,
                )
                ex.resting[order.client_order_id] = order
                ex.publish(
                    OrderAmended(
                        ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker,
                        new_client_order_id=action.new_client_order_id, price=action.price, remaining=action.size,
                    )
                )
            elif isinstance(action, DecreaseOrder):
                ex.resting[action.client_order_id].remaining = action.size
                ex.publish(
                    OrderDecreased(
                        ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker, remaining=action.size
                    )
                )
        await anyio.sleep(0)

    def _create(self, action: CreateOrder, now: int) -> None:
        ex = self.exchange
        if ex.reject_creates_with is not None:
            ex.publish(
                OrderRejected(
                    ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker,
                    code=ex.reject_creates_with, message="refused by the test exchange",
                )
            )
            return
        order_id = f"o{next(ex.ids)}"
        if action.immediate_or_cancel:
            marketable = (
                action.price <= ex.best_bid(action.ticker)
                if action.side is BookSide.ASK
                else action.price >= ex.best_ask(action.ticker)
            )
            ex.publish(OrderAccepted(ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker,
                                     order_id=order_id, remaining=action.size))
            if marketable:
                touch = ex.best_bid(action.ticker) if action.side is BookSide.ASK else ex.best_ask(action.ticker)
                ex._book_fill(action.ticker, action.side, touch, action.size, 0, action.client_order_id, order_id, True)
            else:
                ex.publish(OrderCanceled(ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker,
                                         reason="immediate or cancel"))
            return
        ex.resting[action.client_order_id] = WorkingOrder(
            client_order_id=action.client_order_id, ticker=action.ticker, side=action.side, price=action.price,
            remaining=action.size, status=OrderStatus.RESTING, order_id=order_id,
        )
        ex.publish(OrderAccepted(ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker,
                                 order_id=order_id, remaining=action.size))

    async def cancel_all(self) -> None:
        await self.execute(
            [CancelOrder(client_order_id=c, ticker=o.ticker) for c, o in list(self.exchange.resting.items())]
        )

    async def open_orders(self) -> Sequence[WorkingOrder]:
        return list(self.exchange.resting.values())

    async def stop(self) -> None:
        return None


class ExchangeVenue:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._executor = ExchangeExecutor(exchange)
        self.opened = False

    async def open(self) -> None:
        self.opened = True

    def feed(self) -> ExchangeFeed:
        return ExchangeFeed(self.exchange)

    def executor(self) -> ExchangeExecutor:
        return self._executor

    def describe(self) -> Mapping[str, Any]:
        return {"name": "memory-exchange", "connected": self.opened, "api_key": "must-never-show"}

    async def close(self) -> None:
        self.opened = False


MID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spread": {"type": "number", "minimum": 0.02, "maximum": 0.5, "multipleOf": 0.01, "default": 0.04},
        "size": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 1},
        "label": {"type": "string", "default": "mid"},
    },
}


class MidQuoter:
    """Quotes ``size`` at mid -/+ spread/2 (cent grid); ``spread`` and ``size`` change at run time."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.spread = dollars_to_price(Decimal(str(config.get("spread", "0.04"))))
        self.size = contracts_to_count(Decimal(str(config.get("size", 1))))

    def quote(self, market: MarketView) -> Quote:
        mid = market.book.mid()
        if mid is None or not market.book.valid:
            return Quote.empty(market.ticker)
        half = self.spread // 2
        bid = (mid - half) // 100 * 100
        ask = -(-(mid + half) // 100) * 100
        return Quote(market.ticker, bids=(Level(bid, self.size),), asks=(Level(ask, self.size),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        if "spread" in params:
            self.spread = dollars_to_price(Decimal(str(params["spread"])))
        if "size" in params:
            self.size = contracts_to_count(Decimal(str(params["size"])))


@hookimpl
def register_venues(register: Any) -> None:
    def build(config: dict[str, Any], ctx: Any) -> ExchangeVenue:
        assert Exchange.current is not None, "set Exchange.current before building the venue"
        return ExchangeVenue(Exchange.current)

    register(ComponentSpec(kind=Kind.VENUE, name="memory-exchange", summary="In-memory test exchange.", factory=build))


@hookimpl
def register_strategies(register: Any) -> None:
    register(
        ComponentSpec(
            kind=Kind.STRATEGY, name="mid-quoter", summary="Quotes around the mid.",
            factory=lambda cfg, ctx: MidQuoter(cfg), config_schema=MID_SCHEMA,
            updatable=frozenset({"spread", "size"}),
        )
    )
