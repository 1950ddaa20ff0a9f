"""Component kinds, their one declaration (`ComponentSpec`), and the protocols each kind implements.

Strategies and risk rules are plain synchronous code over read-only views. Feeds, executors, sinks
and venues are async and own their I/O. The runtime calls them directly, never through pluggy.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mmframe.clock import Clock
from mmframe.domain.actions import OrderAction
from mmframe.domain.events import Event, OrderFilled
from mmframe.domain.money import ONE_DOLLAR, Count, Price
from mmframe.domain.quote import Quote, Verdict
from mmframe.embedded import ClientVenue, EmbeddedExchange

if TYPE_CHECKING:
    from mmframe.domain.book import OrderBook
    from mmframe.domain.carry import CarriedState
    from mmframe.domain.ledger import Position
    from mmframe.domain.market import MarketInfo
    from mmframe.domain.orders import WorkingOrder
    from mmframe.pipeline.model import MarketSelection


class Kind(enum.StrEnum):
    """The kinds of component a pipeline chains."""

    VENUE = "venue"
    FEED = "feed"
    STRATEGY = "strategy"
    RISK = "risk"
    EXECUTOR = "executor"
    SINK = "sink"


EMPTY_OBJECT_SCHEMA: Mapping[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


@dataclass(frozen=True)
class ComponentSpec:
    """The one declaration of a component; it drives building, ``check``, ``plugins``, ``schema`` and docs.

    ``factory(config, context)`` builds the component from its validated ``with:`` config (typed
    values: ints, Decimals, bools, strings) and a `ComponentContext`. ``config_schema`` is the JSON
    Schema of that config; ``example`` a config that validates against it; ``updatable`` the config
    fields that ``POST /params`` may change while running.
    """

    kind: Kind
    name: str
    summary: str
    factory: Callable[[dict[str, Any], ComponentContext], Any]
    config_schema: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY_OBJECT_SCHEMA))
    example: Mapping[str, Any] = field(default_factory=dict)
    updatable: frozenset[str] = frozenset()
    description: str = ""
    client: ClientVenue | None = None
    """Venues only: this venue embeds an exchange and trades on it through another venue (``sim``
    through ``kalshi``, see `mmframe.embedded`). Its ``factory`` returns an `EmbeddedExchange`; the
    registry completes the spec with the client venue's config keys and builds the client."""


@dataclass
class ComponentContext:
    """What a factory may use to build a component: the pipeline's name and markets, a clock, a logger,
    and (for feeds and executors built by a venue) the venue itself. Every field is typed: there is
    no untyped side channel."""

    pipeline: str
    markets: tuple[str, ...]
    clock: Clock
    logger: logging.Logger
    venue: Any = None
    state_dir: str = "var"
    payout: Price | None = ONE_DOLLAR
    """What one contract of the venue's markets pays, price units: $1 on Kalshi. Components bound
    prices and spreads by it; None when the venue's markets are synthetic and say their own (the
    ``backtest`` venue). The runtime sets it from the venue's ``payout`` attribute once the venue
    is built."""
    credentials: bool = True
    """False under ``mmframe check --no-credentials``: a venue skips loading its credentials (CI
    without secrets); everything else is built exactly as ``run`` builds it."""
    base_dir: str | None = None
    """The pipeline file's directory: relative paths in a pipeline are relative to it (`path`)."""
    run_mode: str = "live"
    """What kind of run this is, as journals record it: ``live`` (orders on a venue), ``paper``
    (a live feed, fills simulated locally) or ``backtest``. The runtime sets it from the venue's
    ``run_mode`` attribute once the venue is built (`venue_run_mode`)."""
    market_selection: MarketSelection | None = None
    """How the pipeline selects its markets (tickers, or series / events / patterns with filters):
    a venue resolves it to tickers when it opens. None: exactly ``markets``."""
    backtest: bool = False
    """True when the components are built for ``mmframe backtest`` (a journal records backtest runs)."""
    exchange: EmbeddedExchange | None = None
    """For a client venue built for a venue that embeds an exchange (`ComponentSpec.client`): the
    exchange to start in ``open`` and connect to, instead of URLs and a key from the config."""

    def path(self, value: str | os.PathLike[str]) -> Path:
        """A path written in the pipeline file: ``~`` expanded; relative to the pipeline file's
        directory (the one rule for every path key); as given when no file is known."""
        target = Path(value).expanduser()
        if target.is_absolute() or self.base_dir is None:
            return target
        return Path(self.base_dir) / target


def venue_run_mode(venue: Any) -> str:
    """A built venue's ``run_mode`` attribute (``paper`` for a paper venue); ``live`` when it
    declares none."""
    return str(getattr(venue, "run_mode", "live"))


def venue_payout(venue: Any) -> Price | None:
    """A built venue's ``payout`` attribute (price units, or None for synthetic markets); $1 when it
    declares none."""
    return getattr(venue, "payout", ONE_DOLLAR)


# --- views the runtime hands to strategies and risk rules ----------------------------------------


class MarketView(Protocol):
    """A read-only view of one market, as the strategy and risk rules see it."""

    @property
    def ticker(self) -> str: ...
    @property
    def info(self) -> MarketInfo | None: ...
    @property
    def book(self) -> OrderBook: ...
    @property
    def position(self) -> Position: ...
    @property
    def working_orders(self) -> Sequence[WorkingOrder]: ...
    @property
    def last_trade_price(self) -> Price | None: ...
    @property
    def fair_value(self) -> Price | None: ...
    @property
    def status(self) -> str:
        """Kalshi market status (``active`` when tradeable)."""
        ...

    @property
    def now_ns(self) -> int: ...
    @property
    def last_book_update_ns(self) -> int | None: ...


class PortfolioView(Protocol):
    """A read-only view across all markets, for risk rules."""

    @property
    def positions(self) -> Mapping[str, Position]: ...
    @property
    def working_orders(self) -> Sequence[WorkingOrder]: ...
    @property
    def realised_pnl(self) -> Price:
        """Realised PnL before fees, price units (subtract `fees` for net)."""
        ...

    @property
    def unrealised_pnl(self) -> Price:
        """Unrealised PnL marked to mid (the last mid seen while a book is invalid), price units.
        O(1): kept as a running total."""
        ...

    @property
    def fees(self) -> Price: ...
    @property
    def day_start_pnl(self) -> Price:
        """Net PnL carried in from earlier runs today (journal), price units."""
        ...

    @property
    def now_ns(self) -> int: ...

    # Cross-market limits read these instead of walking `positions` and `working_orders`: each is
    # O(1) per check however many markets run. "Could fill" counts every live order, an order with
    # an amend or decrease in flight at the larger of its old and new sizes.

    def reachable_contracts(self, ticker: str) -> Count:
        """The largest position ``ticker`` can reach if every live order on one side fills:
        ``max(position + live bids, live asks - position, 0)``, in counts (0 for an unknown market)."""
        ...

    @property
    def total_reachable_contracts(self) -> Count:
        """`reachable_contracts` summed over every market; a market's share of a total limit is
        ``limit - (total_reachable_contracts - reachable_contracts(ticker))``."""
        ...

    def worst_case_loss(self, ticker: str) -> Price:
        """The most ``ticker`` can lose at settlement if every live order fills
        (`Position.worst_case_loss_with` over its live orders, an order with a cancel or amend in
        flight at the worse of its old and new price and size), price units, rounded up."""
        ...

    @property
    def total_worst_case_loss(self) -> Price:
        """`worst_case_loss` summed over every market."""
        ...


# --- component protocols --------------------------------------------------------------------------


@runtime_checkable
class Strategy(Protocol):
    """Computes the quote for one market from its view. Pure, synchronous, no I/O."""

    def quote(self, market: MarketView) -> Quote:
        """What should rest in ``market`` now. `Quote.empty` pulls the market."""
        ...

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        """One of our orders traded."""
        ...

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Apply run-time params (already validated against the component's schema)."""
        ...


@runtime_checkable
class RiskRule(Protocol):
    """Checks a quote before it reaches the reconciler. Pure, synchronous, no I/O."""

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, adjust, block or halt ``quote``."""
        ...

    def observe(self, event: Event) -> None:
        """See every event (fills, actions submitted) to keep counters."""
        ...

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Apply run-time params (already validated against the component's schema)."""
        ...


class OrderView(Protocol):
    """Read-only view of the runtime's order tracker, the one place that knows an order's state.

    Executors look orders up here (venue order id, filled count, current client id after amends)
    instead of keeping order state of their own.
    """

    def get(self, client_order_id: str) -> WorkingOrder | None:
        """The order known by ``client_order_id`` (current id, an id before an amend, or the new id
        of an amend in flight), live or recently finished."""
        ...

    def by_order_id(self, order_id: str) -> WorkingOrder | None:
        """The order the venue knows as ``order_id`` (live or recently finished)."""
        ...

    def live(self) -> list[WorkingOrder]:
        """Every order that may still rest on the venue."""
        ...


@runtime_checkable
class WriteGate(Protocol):
    """The runtime's gate (`mmframe.runtime.gate.Gate`): checked right before a create or amend is
    written to the socket."""

    @property
    def is_open(self) -> bool: ...

    def allows(self, action: OrderAction, decided_ns: int | None = None) -> bool:
        """Whether ``action``, decided at ``decided_ns`` (the gate's clock; None = now), may be
        written now. Cancels and decreases always may."""
        ...


class FeedContext(Protocol):
    """What a feed or an executor publishes into, and what the runtime shares with them."""

    @property
    def markets(self) -> tuple[str, ...]: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def orders(self) -> OrderView:
        """The order tracker (read only)."""
        ...

    @property
    def gate(self) -> WriteGate:
        """The gate every create and amend passes at the moment it is written."""
        ...

    def monotonic_ns(self) -> int:
        """The gate's clock: decision times passed to `WriteGate.allows` are read from it."""
        ...

    def publish(self, event: Event) -> None:
        """Hand an event to the runtime; never blocks."""
        ...


@runtime_checkable
class BurstContext(Protocol):
    """A `FeedContext` a feed tells when a burst of frames is applied (optional capability, API 1.2).

    An event that changes a market an `ImmediateExecutor` quotes is not requoted inside `publish`:
    a venue may publish one change (a participant's cancel and re-place) as several frames that
    arrive together, and a quote computed after the first of them sees a book that never existed.
    The requote waits until the frames already received are applied. A feed that reads buffered
    frames without suspending calls `burst_done` once it has applied all it had (its receive buffer
    is empty): the runtime requotes right there, in the feed's task. A feed that never calls it
    still gets its requote, on the next turn of the event loop, behind whatever else is ready then.

    The runtime's contexts implement it; a feed checks ``isinstance(ctx, BurstContext)`` (a wrapper
    of the runtime's context passes the call on).
    """

    def burst_done(self) -> None:
        """Every frame received so far is applied: requote the markets they changed, now, in the
        caller's task (orders may be handed to the executor before this returns). Cheap when nothing
        is waiting; call it between frames, never from inside `FeedContext.publish`."""
        ...


@runtime_checkable
class Feed(Protocol):
    """Produces market events until cancelled."""

    async def run(self, ctx: FeedContext) -> None:
        """Publish events for ``ctx.markets`` until cancelled. Raise on a fatal error."""
        ...


@dataclass(frozen=True)
class AccountSnapshot:
    """The venue's view of the account at startup or after a reconnect."""

    positions: Mapping[str, Count] = field(default_factory=dict)
    open_orders: Sequence[WorkingOrder] = ()
    fills: Sequence[OrderFilled] = ()
    balance: Price | None = None
    avg_prices: Mapping[str, Price] = field(default_factory=dict)
    """Average YES price of each position as the venue reports it (its cost basis), to seed the
    ledger when no journal carries the position's cost."""


@runtime_checkable
class Executor(Protocol):
    """Turns order actions into venue requests; reports outcomes as order events.

    An executor whose account is simulated locally (the ``paper`` venue's) sets ``local_account =
    True``: at start the journal's carried books are then the account, with no venue positions to
    check them against.
    """

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        """Connect and read positions, resting orders and recent fills before any quoting."""
        ...

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        """Send ``actions`` (already in priority order). Outcomes arrive through ``ctx.publish``."""
        ...

    async def cancel_all(self) -> None:
        """Cancel every order this executor placed or adopted."""
        ...

    async def open_orders(self) -> Sequence[WorkingOrder]:
        """The venue's ground truth: our orders still resting."""
        ...

    async def stop(self) -> None:
        """Release connections."""
        ...


class WriteBudget(Protocol):
    """The account's write budget as the venue meters it (Kalshi: a token bucket, API.md §8).

    The runtime's intent scheduler hands the executor only what the budget covers now, so nothing
    waits in a client-side queue and goes out stale.
    """

    def tokens(self) -> int:
        """Whole tokens available for new writes now, net of writes handed over that have not yet
        taken theirs."""
        ...

    def cost(self, action: OrderAction) -> int:
        """Tokens ``action`` costs when sent on its own or as one batch item."""
        ...

    def seconds_until(self, tokens: int) -> float:
        """How long until ``tokens`` are available (0 if they are now)."""
        ...

    @property
    def refill_per_second(self) -> int:
        """Tokens added per second."""
        ...


@runtime_checkable
class BudgetedExecutor(Protocol):
    """An executor whose venue meters writes (optional capability): the runtime schedules intents
    against its budget instead of queueing actions behind a rate limiter."""

    @property
    def write_budget(self) -> WriteBudget: ...


@runtime_checkable
class ImmediateExecutor(Protocol):
    """An executor that can take actions synchronously (optional capability).

    The engine quotes a market inline, in the task that delivered the market's event, when the
    executor has ``execute_nowait``: the actions reach the venue client without waiting for another
    task to be scheduled. Without it, quoting runs in the engine's own task and calls ``execute``.
    """

    def execute_nowait(self, actions: Sequence[OrderAction]) -> None:
        """Queue ``actions`` and start sending them now if possible; never blocks, never awaits.

        Must tolerate being called again from inside an outcome it publishes (re-entrancy): queue
        and send later rather than recurse.
        """
        ...


@runtime_checkable
class AdoptingExecutor(Protocol):
    """An executor that can take over orders it did not place (optional capability): resting orders
    of an earlier run of this pipeline, found at startup, which it must then cancel at shutdown."""

    def adopt(self, client_order_ids: Sequence[str]) -> None:
        """Treat these orders (known to the order tracker) as this executor's own."""
        ...


@runtime_checkable
class PositionReader(Protocol):
    """An executor that can read the venue's positions again after startup (optional capability):
    a position that differed at start is confirmed against a second read before it is carried in."""

    async def positions(self) -> Mapping[str, Count]:
        """The venue's position per market, counts (signed YES contracts)."""
        ...


@runtime_checkable
class Sink(Protocol):
    """Receives every event, in batches, off the quoting path. A sink that keeps history may also
    implement `RestoringSink`."""

    async def start(self) -> None: ...

    async def write(self, events: Sequence[Event]) -> None:
        """Handle a batch of events."""
        ...

    async def close(self) -> None:
        """Flush and release."""
        ...


@runtime_checkable
class RestoringSink(Protocol):
    """A sink that keeps history and carries the books into a restart (optional capability)."""

    def restore(self, now_ns: int) -> CarriedState | None:
        """The books of earlier runs (its fills replayed by `BooksReplay`: the restart rule); the
        runtime calls it once, after ``start`` and before reading the venue's positions. None:
        nothing to carry (restore off)."""
        ...


MarketsListener = Callable[[Sequence[str], Sequence[str]], Awaitable[None]]
"""``await listener(joined, left)``: a venue's market selection changed."""


@runtime_checkable
class SelectingVenue(Protocol):
    """A venue that resolves the pipeline's market selection (series, events, patterns:
    `ComponentContext.market_selection`) when it opens and may refresh it (optional capability)."""

    def markets(self) -> Sequence[str] | None:
        """The markets the selection resolved to in ``open`` (None before it ran): they replace the
        pipeline's explicit tickers."""
        ...

    def on_markets_changed(self, listener: MarketsListener) -> None:
        """Call ``listener(joined, left)`` whenever a refresh of the selection changed it."""
        ...


@runtime_checkable
class Venue(Protocol):
    """An exchange connection shared by its feed and executor (one connection, one account)."""

    async def open(self) -> None:
        """Connect (or start an embedded exchange)."""
        ...

    def feed(self) -> Feed:
        """The venue's market-data feed."""
        ...

    def executor(self) -> Executor:
        """The venue's default executor."""
        ...

    def describe(self) -> Mapping[str, Any]:
        """Connection status for ``/state`` (never secrets)."""
        ...

    async def close(self) -> None: ...


# --- backtests: the same components, driven synchronously by simulated time ----------------------


@runtime_checkable
class BacktestFeed(Protocol):
    """A feed a backtest can drive: market events from a recording or a model, synchronously.

    ``mmframe backtest`` merges every backtest feed of a pipeline by ``ts_ns`` and sets its clock
    from each event's timestamp, so time-based rules see simulated time.
    """

    def events(self, rng_seed: int) -> Iterator[Event]:
        """Market events in non-decreasing ``ts_ns`` order for one run; ``rng_seed`` makes a random
        model reproducible (recordings ignore it)."""
        ...


@runtime_checkable
class SimulatedExecutor(Protocol):
    """An executor that simulates a venue inside a backtest: synchronous, deterministic for a seed.

    Order outcomes come back as return values (`OrderAccepted`, `OrderRejected`, `OrderAmended`,
    `OrderDecreased`, `OrderCanceled`, `OrderFilled`) instead of through ``publish``.
    """

    def reset(self, seed: int) -> None:
        """Forget every order and market and reseed for a new, independent run."""
        ...

    def execute(self, actions: Sequence[OrderAction], now_ns: int) -> list[Event]:
        """Apply ``actions`` (in priority order) at ``now_ns``; the resulting order events."""
        ...

    def on_market_event(self, event: Event) -> list[Event]:
        """See a market event after the runtime applied it; fills of our resting orders it causes
        (the market traded at or through them)."""
        ...

    def on_step(self, now_ns: int) -> list[Event]:
        """Time moved to ``now_ns`` (before the next market event); fills that arrived meanwhile
        (intensity-based models)."""
        ...
