"""Small in-test components that prove the engine's wiring: an in-memory venue, a fixed-width strategy,
a halting rule and a collecting sink. (End-to-end tests use the simulator over real sockets.)"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from mmframe.api import (
    AccountSnapshot,
    AmendOrder,
    BookDeltaReceived,
    BookSnapshotReceived,
    CancelOrder,
    ComponentContext,
    ComponentSpec,
    CreateOrder,
    DecreaseOrder,
    Event,
    FeedContext,
    Kind,
    Leg,
    Level,
    MarketView,
    OrderAccepted,
    OrderAction,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderStatus,
    PortfolioView,
    Quote,
    Verdict,
    WorkingOrder,
    hookimpl,
)

TICKERS = ("MEM-A", "MEM-B")


class MemoryFeed:
    """Publishes a snapshot per market, then ``burst`` deltas at once, then waits; ``fail`` raises."""

    def __init__(self, burst: int = 0, fail: bool = False, probe: MemoryExecutor | None = None) -> None:
        self.burst = burst
        self.fail = fail
        self.probe = probe
        self.probed: tuple[int, int] | None = None
        self.probed_next: int | None = None
        """With ``probe``: the executor's action count just before and just after publishing one delta
        that moves the best bid of the first market."""

    async def run(self, ctx: FeedContext) -> None:
        now = ctx.clock.now_ns()
        for ticker in ctx.markets:
            ctx.publish(
                BookSnapshotReceived(
                    ts_ns=now, ticker=ticker, yes_bids=((4000, 10000), (4500, 5000)), no_bids=((5000, 7000),)
                )
            )
        await anyio.sleep(0.01)
        if self.probe is not None:
            await anyio.sleep(0.05)  # the first quotes are placed and acknowledged
            before = len(self.probe.executed)
            ctx.publish(
                BookDeltaReceived(
                    ts_ns=ctx.clock.now_ns(), ticker=ctx.markets[0], leg=Leg.YES, price=4600, delta=1000
                )
            )
            self.probed = (before, len(self.probe.executed))
            await anyio.sleep(0)  # one turn of the loop: the requote deferred to the end of the burst
            self.probed_next = len(self.probe.executed)
        for i in range(self.burst):
            ctx.publish(
                BookDeltaReceived(
                    ts_ns=ctx.clock.now_ns(),
                    ticker=ctx.markets[0],
                    leg=Leg.YES,
                    price=4000,
                    delta=1 if i % 2 else -1,
                )
            )
        if self.fail:
            raise ConnectionError("feed lost its connection")
        await anyio.sleep_forever()


class MemoryExecutor:
    """Rests every order in memory and acknowledges each action at once."""

    def __init__(self, venue: MemoryVenue) -> None:
        self.venue = venue
        self.ctx: FeedContext | None = None
        self.executed: list[OrderAction] = []

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        self.ctx = ctx
        return AccountSnapshot(
            positions=dict(self.venue.positions), open_orders=list(self.venue.resting.values())
        )

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        assert self.ctx is not None
        now = self.ctx.clock.now_ns()
        for action in actions:
            self.executed.append(action)
            resting = self.venue.resting
            if isinstance(action, CreateOrder):
                order_id = f"o{next(self.venue.ids)}"
                resting[action.client_order_id] = WorkingOrder(
                    client_order_id=action.client_order_id,
                    ticker=action.ticker,
                    side=action.side,
                    price=action.price,
                    remaining=action.size,
                    status=OrderStatus.RESTING,
                    order_id=order_id,
                )
                self.ctx.publish(
                    OrderAccepted(
                        ts_ns=now,
                        client_order_id=action.client_order_id,
                        ticker=action.ticker,
                        order_id=order_id,
                        remaining=action.size,
                    )
                )
            elif isinstance(action, CancelOrder):
                if resting.pop(action.client_order_id, None) is not None:
                    self.ctx.publish(
                        OrderCanceled(ts_ns=now, client_order_id=action.client_order_id, ticker=action.ticker)
                    )
            elif isinstance(action, AmendOrder):
                order = resting.pop(action.client_order_id)
                order.client_order_id, order.price, order.remaining = (
                    action.new_client_order_id,
                    action.price,
                    action.size,
                )
                resting[order.client_order_id] = order
                self.ctx.publish(
                    OrderAmended(
                        ts_ns=now,
                        client_order_id=action.client_order_id,
                        ticker=action.ticker,
                        new_client_order_id=action.new_client_order_id,
                        price=action.price,
                        remaining=action.size,
                    )
                )
            elif isinstance(action, DecreaseOrder):
                resting[action.client_order_id].remaining = action.size
                self.ctx.publish(
                    OrderDecreased(
                        ts_ns=now,
                        client_order_id=action.client_order_id,
                        ticker=action.ticker,
                        remaining=action.size,
                    )
                )
        await anyio.sleep(0)

    def fill(self, client_order_id: str, count: int) -> None:
        """Trade part of a resting order (called by tests)."""
        assert self.ctx is not None
        order = self.venue.resting[client_order_id]
        order.remaining -= count
        if order.remaining <= 0:
            del self.venue.resting[client_order_id]
        self.ctx.publish(
            OrderFilled(
                ts_ns=self.ctx.clock.now_ns(),
                client_order_id=client_order_id,
                ticker=order.ticker,
                order_id=order.order_id or "",
                trade_id=f"t{next(self.venue.ids)}",
                side=order.side,
                price=order.price,
                count=count,
                fee=0,
                is_taker=False,
            )
        )

    async def cancel_all(self) -> None:
        await self.execute(
            [CancelOrder(client_order_id=c, ticker=o.ticker) for c, o in list(self.venue.resting.items())]
        )

    async def open_orders(self) -> Sequence[WorkingOrder]:
        return list(self.venue.resting.values())

    async def stop(self) -> None:
        return None


class ImmediateMemoryExecutor(MemoryExecutor):
    """`MemoryExecutor` that also takes actions synchronously (`mmframe.api.ImmediateExecutor`): it
    acknowledges them inside the call, so an acknowledgement reaches the engine while it is quoting."""

    def execute_nowait(self, actions: Sequence[OrderAction]) -> None:
        self.nowait_calls += 1
        coro = self.execute(actions)
        try:
            coro.send(None)  # runs to its closing anyio.sleep(0): every action is acknowledged
        except StopIteration:
            pass
        finally:
            coro.close()

    nowait_calls = 0


class MemoryVenue:
    """The in-memory 'exchange' of a test: resting orders and positions survive across engine runs."""

    instances: list[MemoryVenue] = []

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.resting: dict[str, WorkingOrder] = {}
        self.positions: dict[str, int] = {}
        self.ids = itertools.count(1)
        self.opened = self.closed = False
        immediate = bool(self.config.get("immediate", False))
        self._executor = ImmediateMemoryExecutor(self) if immediate else MemoryExecutor(self)
        MemoryVenue.instances.append(self)

    async def open(self) -> None:
        self.opened = True

    def feed(self) -> MemoryFeed:
        self.last_feed = MemoryFeed(
            burst=int(self.config.get("burst", 0)),
            fail=bool(self.config.get("fail", False)),
            probe=self._executor if self.config.get("probe") else None,
        )
        return self.last_feed

    def executor(self) -> MemoryExecutor:
        return self._executor

    def describe(self) -> Mapping[str, Any]:
        return {"name": "memory", "connected": self.opened and not self.closed}

    async def close(self) -> None:
        self.closed = True


class JoinBest:
    """Quotes one contract at the best bid and best ask; counts its calls."""

    calls = 0

    def quote(self, market: MarketView) -> Quote:
        JoinBest.calls += 1
        bid, ask = market.book.best_bid(), market.book.best_ask()
        if bid is None or ask is None or not market.book.valid:
            return Quote.empty(market.ticker)
        return Quote(market.ticker, bids=(Level(bid, 100),), asks=(Level(ask, 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


class HaltOnFill:
    """Halts trading after the first fill (a stand-in for a loss limit)."""

    def __init__(self) -> None:
        self.filled = False

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        return Verdict.halt("a fill happened") if self.filled else Verdict.passed()

    def observe(self, event: Event) -> None:
        if isinstance(event, OrderFilled):
            self.filled = True

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


class Collect:
    """Keeps every event; ``delay`` makes it a slow sink."""

    events: list[Event] = []

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def start(self) -> None:
        return None

    async def write(self, events: Sequence[Event]) -> None:
        if self.delay:
            await anyio.sleep(self.delay)
        Collect.events.extend(events)

    async def close(self) -> None:
        return None


_SCHEMA_ANY = {"type": "object"}


@hookimpl
def register_venues(register: Any) -> None:
    register(
        ComponentSpec(
            kind=Kind.VENUE,
            name="memory",
            summary="In-memory test venue.",
            factory=lambda cfg, ctx: MemoryVenue(cfg),
            config_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "burst": {"type": "integer"},
                    "fail": {"type": "boolean"},
                    "immediate": {"type": "boolean"},
                    "probe": {"type": "boolean"},
                },
            },
        )
    )


@hookimpl
def register_strategies(register: Any) -> None:
    register(
        ComponentSpec(
            kind=Kind.STRATEGY,
            name="join-best",
            summary="Joins the best bid and ask.",
            factory=lambda cfg, ctx: JoinBest(),
        )
    )


@hookimpl
def register_risk_rules(register: Any) -> None:
    register(
        ComponentSpec(
            kind=Kind.RISK,
            name="halt-on-fill",
            summary="Halts after a fill.",
            factory=lambda cfg, ctx: HaltOnFill(),
        )
    )


@hookimpl
def register_sinks(register: Any) -> None:
    register(
        ComponentSpec(
            kind=Kind.SINK,
            name="collect",
            summary="Collects events.",
            factory=lambda cfg, ctx: Collect(float(cfg.get("delay", 0))),
            config_schema={"type": "object", "properties": {"delay": {"type": "number"}}},
        )
    )


def context(markets: tuple[str, ...] = TICKERS) -> ComponentContext:
    import logging

    from mmframe.api import LiveClock

    return ComponentContext(pipeline="t", markets=markets, clock=LiveClock(), logger=logging.getLogger("t"))
