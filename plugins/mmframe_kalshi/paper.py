"""The ``paper`` venue: live market data from Kalshi (or any Kalshi-protocol endpoint), our orders
filled locally by the queue-aware fill model the backtests use (`mmframe.api.QueueFillModel`).

``venue: {paper: kalshi}`` (or ``kalshi-demo``, or ``{paper: {kalshi: {rest_url, ws_url, key_id,
private_key_path}}}``) reads books, trades and lifecycle from the venue's WebSocket and REST exactly
as a live run does (the same `KalshiSession` and `KalshiFeed`), and nothing else:

- **It cannot write.** The session is read-only (`mmframe_kalshi.readonly`): its only HTTP
  transport refuses every method but GET before a byte leaves the process, it pre-signs nothing and
  has no fast order path; the executor (`PaperExecutor`) holds no client at all. A read-only API key
  is enough. The account channels (fills, orders, positions) are never subscribed.
- **Fills are the model's**: an order joins the back of its price level; the venue's trades and
  cancels at that level move it up; it fills only once they reach it (or the book moves through
  it); fees are Kalshi's trade fees by the market's fee type, charged per order by the ledger as
  the venue does (API.md §9).
- **Writes are metered as live**: the executor schedules against a write budget with the account's
  own limits (read from the venue), so a strategy quotes no faster on paper than it could live.
- **It journals as a run of mode ``paper``**: ``mmframe report`` and the dashboard read it like a
  live run; a paper run carries in the books of earlier paper runs only, and no live run ever
  carries in a paper fill.

docs/paper.md says how paper fills can differ from live ones.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from mmframe.api import (
    QUEUE_FILL_PROPERTIES,
    AccountSnapshot,
    BurstContext,
    CancelOrder,
    Clock,
    ComponentContext,
    ComponentSpec,
    ConfigError,
    Count,
    Event,
    FeedContext,
    Kind,
    OrderAction,
    OrderEvent,
    OrderFilled,
    OrderStatus,
    OrderView,
    QueueFillModel,
    WorkingOrder,
    WriteBudget,
    WriteGate,
)
from mmframe_kalshi.executor.budget import KalshiWriteBudget
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.limiter import Bucket, RateLimiter
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.venue import KALSHI_SCHEMA, KalshiVenue

logger = logging.getLogger(__name__)

SOURCES = ("kalshi", "kalshi-demo")
"""The venues a paper venue can take its market data from."""

_SOURCE_KEYS = ("rest_url", "ws_url", "key_id", "private_key_path")

SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Where the market data comes from; a read-only API key is enough.",
    "properties": {key: KALSHI_SCHEMA["properties"][key] for key in _SOURCE_KEYS},
}

PAPER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "paper venue",
    "type": "object",
    "additionalProperties": False,
    "x-wraps-venues": list(SOURCES),  # `venue: {paper: kalshi}` is `{paper: {kalshi: {}}}`
    "properties": {
        **{name: SOURCE_SCHEMA for name in SOURCES},
        **QUEUE_FILL_PROPERTIES,
    },
}


# --- the executor: fills locally, holds no client ---------------------------------------------


class PaperExecutor:
    """Implements `mmframe.api.Executor` (and `BudgetedExecutor`) by the queue-aware fill model.

    It holds no venue client: whatever it is handed, nothing can reach the venue through it. Order
    outcomes and fills are published as the venue's would be; `on_market_event` takes the venue's
    market data (from `PaperFeed`) and publishes the fills it causes.
    """

    local_account = True
    """The account is simulated here: there are no venue positions to check carried books against."""

    def __init__(self, model: QueueFillModel, limiter: RateLimiter, clock: Clock) -> None:
        self.model = model
        self.limiter = limiter
        self.clock = clock
        self._budget = KalshiWriteBudget(limiter)
        self._ctx: FeedContext | None = None
        self.actions = 0
        self.fills = 0
        self.over_budget = 0
        """Actions handed over while the write budget was spent (the live venue would answer 429)."""
        self.dropped_account_events = 0

    @property
    def write_budget(self) -> WriteBudget:
        """The account's write budget, metered as the venue would (its limits read at open)."""
        return self._budget

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        """Nothing rests and nothing is held on a paper account at start; the journal carries the
        earlier paper runs' books in."""
        self._ctx = ctx
        return AccountSnapshot()

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        self._charge(actions)
        self.actions += len(actions)
        self._publish(self.model.execute(actions, self.clock.now_ns()))

    async def cancel_all(self) -> None:
        cancels = [CancelOrder(client_order_id=o.client_order_id, ticker=o.ticker) for o in self.model.orders.values()]
        if cancels:
            self._publish(self.model.execute(cancels, self.clock.now_ns()))

    async def open_orders(self) -> Sequence[WorkingOrder]:
        return [
            WorkingOrder(client_order_id=o.client_order_id, ticker=o.ticker, side=o.side, price=o.price,
                         remaining=o.remaining, status=OrderStatus.RESTING, order_id=o.order_id)
            for o in self.model.orders.values()
        ]

    async def positions(self) -> Mapping[str, Count]:
        """No venue positions: the paper account's are the ledger's own (`local_account`)."""
        return {}

    async def add_markets(self, tickers: Sequence[str]) -> None:
        """Markets joined the selection: the model learns them from their market data."""

    async def stop(self) -> None:
        return None

    def on_market_event(self, event: Event) -> None:
        """The venue's market data: keep the model's books, publish the fills it causes."""
        caused = self.model.on_market_event(event)
        if caused:
            self._publish(caused)

    def describe(self) -> Mapping[str, Any]:
        return {
            "paper": True,
            "resting_orders": len(self.model.orders),
            "actions": self.actions,
            "fills": self.fills,
            "over_budget": self.over_budget,
            "write_budget_tokens": self._budget.tokens(),
        }

    def _charge(self, actions: Sequence[OrderAction]) -> None:
        bucket = self.limiter.buckets[Bucket.WRITE]
        for action in actions:
            if not bucket.try_acquire(self._budget.cost(action)):
                self.over_budget += 1

    def _publish(self, events: Sequence[Event]) -> None:
        if self._ctx is None:
            raise RuntimeError("paper executor used before start()")
        for event in events:
            if isinstance(event, OrderFilled):
                self.fills += 1
            self._ctx.publish(event)


# --- the feed: the venue's market data, shown to the fill model ---------------------------------


class _PaperFeedContext:
    """The runtime's `FeedContext` with each market event also handed to the paper executor, after
    the runtime took it (as in a backtest: the book first, then the fills it causes). Anything about
    an account (orders, fills) is dropped: on paper only the model reports those."""

    def __init__(self, ctx: FeedContext, executor: PaperExecutor) -> None:
        self._ctx = ctx
        self._executor = executor
        self._burst_done = ctx.burst_done if isinstance(ctx, BurstContext) else None

    @property
    def markets(self) -> tuple[str, ...]:
        return self._ctx.markets

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def orders(self) -> OrderView:
        return self._ctx.orders

    @property
    def gate(self) -> WriteGate:
        return self._ctx.gate

    def monotonic_ns(self) -> int:
        return self._ctx.monotonic_ns()

    def publish(self, event: Event) -> None:
        if isinstance(event, OrderEvent | OrderFilled):
            self._executor.dropped_account_events += 1
            return
        self._ctx.publish(event)
        self._executor.on_market_event(event)

    def burst_done(self) -> None:
        """`BurstContext.burst_done`, passed on to the runtime's context."""
        if self._burst_done is not None:
            self._burst_done()


class PaperFeed:
    """The paper venue's feed: the venue's `KalshiFeed`, its events also feeding the fill model."""

    def __init__(self, venue: PaperVenue) -> None:
        self._venue = venue

    @property
    def inner(self) -> KalshiFeed:
        feed: KalshiFeed = self._venue.require_open().feed
        return feed

    async def run(self, ctx: FeedContext) -> None:
        await self.inner.run(_PaperFeedContext(ctx, self._venue.paper_executor))

    def describe(self) -> Mapping[str, Any]:
        return self.inner.describe() if self._venue.opened else {}


# --- the venue ----------------------------------------------------------------------------------


def _source(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one venue ``config`` takes its data from, and that venue's keys; `ConfigError` else."""
    named = [name for name in SOURCES if name in config]
    if len(named) != 1:
        got = f"got {' and '.join(named)}" if named else "got none"
        raise ConfigError(
            f"venue paper: name exactly one venue to take market data from ({' or '.join(SOURCES)}), {got}; "
            "e.g. `venue: {paper: kalshi}`"
        )
    source = dict(config[named[0]] or {})
    return named[0], source


class PaperVenue(KalshiVenue):
    """Implements `mmframe.api.Venue`: a read-only Kalshi connection for market data, a local
    `PaperExecutor` for our orders (see the module docstring)."""

    run_mode = "paper"
    """Journals record its runs as ``paper`` (`mmframe.api.ComponentContext.run_mode`)."""

    def __init__(self, config: Mapping[str, Any], ctx: ComponentContext) -> None:
        source, source_config = _source(config)
        self.label = f"paper ({source})"
        self.config_prefix = f"{source}."
        super().__init__(source, source_config, ctx)
        self.source = source
        self.model = QueueFillModel(
            fees=bool(config.get("fees", True)),
            trade_match_ns=int(Decimal(str(config.get("trade_match_ms", 500))) * 1_000_000),
            fill_on_cross=bool(config.get("fill_on_cross", True)),
            id_prefix=f"paper-{secrets.token_hex(4)}",
        )
        self.limiter = RateLimiter(ctx.clock)
        self.paper_executor = PaperExecutor(self.model, self.limiter, ctx.clock)
        self._paper_feed = PaperFeed(self)
        self.foreign_orders = "adopt"  # a paper account has no orders but ours: nothing to cancel

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> PaperVenue:
        """The component factory."""
        return cls(config, ctx)

    def new_session(self) -> KalshiSession:
        """A read-only session: it can never write to the venue (`KalshiSession` ``read_only``)."""
        if self._credentials is None:
            raise RuntimeError(f"venue {self.label} has no credentials before open()")
        return KalshiSession(self.rest_url, self.ws_url, self._credentials, self.ctx.clock, read_only=True)

    def _build_executor(self, session: KalshiSession) -> PaperExecutor:
        return self.paper_executor  # never handed the session

    async def open(self) -> None:
        """Connect read-only, resolve the markets, and meter writes with the account's own limits."""
        await super().open()
        rest_limits = self.require_open().session.rest.limiter
        self.limiter.set_limits(rest_limits.limits)
        self.limiter.set_costs(rest_limits.costs)
        logger.info("paper trading on %s market data (%s): orders are filled locally, nothing is sent",
                    self.source, self.rest_url)

    def feed(self) -> PaperFeed:  # type: ignore[override]
        return self._paper_feed

    def executor(self) -> PaperExecutor:  # type: ignore[override]
        return self.paper_executor

    def describe(self) -> Mapping[str, Any]:
        out: dict[str, Any] = {"venue": "paper", "source": self.source, "rest_url": self.rest_url,
                               "ws_url": self.ws_url, "paper": dict(self.paper_executor.describe())}
        if self._conn is not None:
            out["session"] = dict(self._conn.session.describe())
        return out

    def writes_refused(self) -> int:
        """Write requests the read-only transport refused (always 0 unless something is wrong)."""
        if self._conn is None or self._conn.session.rest.read_only is None:
            return 0
        return self._conn.session.rest.read_only.refused


PAPER_SPEC = ComponentSpec(
    kind=Kind.VENUE,
    name="paper",
    summary="Paper trading: live market data from kalshi or kalshi-demo (read-only), our orders filled "
    "locally by the backtests' queue-aware fill model.",
    factory=PaperVenue.build,
    config_schema=PAPER_SCHEMA,
    example={"kalshi": {"key_id": "${KALSHI_API_KEY}", "private_key_path": "~/.kalshi/read-only.pem"},
             "trade_match_ms": 500},
    description=(__doc__ or "").strip(),
)
