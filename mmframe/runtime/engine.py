"""The engine: runs one pipeline's components around the quoting core in one anyio event loop.

feed -> publish(event) -> QuotingCore.apply (state) -> the event's market is requoted in the feed's
own task (strategy -> risk -> reconciler -> executor) as soon as the burst of frames it came in is
applied (the feed's `burst_done`; a loop callback for a feed that never calls it), when the executor
can take actions synchronously (`ImmediateExecutor`): no task switch between a frame and its order
request. Every other dirty market (housekeeping, params, a pass already running) goes to the
quoting task, which serves the latest state only (conflation). Every event also goes to the sinks,
each through its own queue and task.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from mmframe.clock import NANOS_PER_SECOND, Clock
from mmframe.components import (
    AccountSnapshot,
    AdoptingExecutor,
    BudgetedExecutor,
    Executor,
    Feed,
    ImmediateExecutor,
    PositionReader,
    RestoringSink,
    RiskRule,
    SelectingVenue,
    Sink,
    Strategy,
    Venue,
)
from mmframe.domain.actions import CancelOrder, OrderAction
from mmframe.domain.carry import CARRY_TRADE_PREFIX, CarriedState, merge_carried
from mmframe.domain.events import (
    Event,
    OrderActionsSubmitted,
    OrderCanceled,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    ParamsUpdated,
    PortfolioMarked,
    PositionMark,
    RunStarted,
    RunStopped,
    VenueStatusChanged,
)
from mmframe.domain.money import Count, Price, format_count, format_price
from mmframe.domain.orders import OrderTracker, WorkingOrder
from mmframe.domain.quote import BookSide
from mmframe.domain.trading import GateState, TradingState
from mmframe.logsampling import RateLimitedLog
from mmframe.runtime.gate import Gate
from mmframe.runtime.passes import QuotingPass
from mmframe.runtime.plugin_faults import PluginFault
from mmframe.runtime.quoting import QuotingCore
from mmframe.runtime.scheduler import IntentScheduler
from mmframe.runtime.sinks import SinkRunner
from mmframe.simtime import pacing_ns

AUDIT_SECONDS = 10.0
"""How often the venue's resting orders are checked against the tracker."""
AUDIT_GRACE_NS = 5_000_000_000
"""An order finished less than this long ago may still show on the venue's (lagging) list."""

if TYPE_CHECKING:
    from mmframe.runtime.build import Built

log = logging.getLogger("mmframe.engine")
_QUOTE_SLICE_NS = 500_000
"""Longest stretch of one quoting pass before it yields to the sender and the feeds (monotonic ns)."""
_INLINE_GAP_NS = 200_000
"""A market requoted inline less than this long ago leaves the next event's requote to the quoting
task, so a burst of frames costs one inline requote plus one conflated one (monotonic ns)."""
_summary_log = logging.getLogger("mmframe.summary")


class StartupError(RuntimeError):
    """The venue's state is inconsistent with the pipeline: the engine refuses to trade."""


@dataclass
class EngineStats:
    """Counters for the control plane, metrics and the final summary."""

    started_ns: int = 0
    events: collections.Counter[str] = field(default_factory=collections.Counter)
    actions: collections.Counter[str] = field(default_factory=collections.Counter)
    fills: int = 0
    filled_count: int = 0
    rejects: int = 0
    malformed_events: int = 0
    audit_adoptions: int = 0
    latency_samples_dropped: int = 0
    """Latency samples trimmed from ``core.latencies_ns`` so far (metrics count every sample once)."""


@dataclass
class EngineParts:
    """The built components of a pipeline."""

    venue: Venue
    feeds: Sequence[Feed]
    executor: Executor
    sinks: Sequence[tuple[str, Sink]]
    core: QuotingCore
    markets: tuple[str, ...]
    foreign_orders: str = "cancel"
    configured: Mapping[str, Built[Strategy | RiskRule]] = field(default_factory=dict)
    """The components ``/params`` may change, by target (``strategy``, each risk rule's name), with
    the declaration and the config each runs with now."""
    feed_names: Sequence[str | None] = ()
    """Per feed, the name it has in the pipeline's ``feeds:``; None (or missing) for the venue's own
    feed, whose failure stops the run (a plugin feed's is a plugin fault, `_run_plugin_feed`)."""


class _Context:
    """The `FeedContext` handed to feeds and the executor."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.clock: Clock = engine.clock

    @property
    def markets(self) -> tuple[str, ...]:
        return self._engine.markets

    @property
    def orders(self) -> OrderTracker:
        return self._engine.core.tracker

    @property
    def gate(self) -> Gate:
        return self._engine.core.gate

    def monotonic_ns(self) -> int:
        return self._engine.clock.monotonic_ns()

    def publish(self, event: Event) -> None:
        self._engine.publish(event)

    def burst_done(self) -> None:
        """`BurstContext.burst_done`: the feed applied every frame it had received."""
        self._engine.burst_done()


class _FeedTap(_Context):
    """A plugin feed's context: remembers the markets it published for (the ones a failure of the
    feed pulls)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.published: dict[str, None] = {}

    def publish(self, event: Event) -> None:
        ticker = getattr(event, "ticker", None)
        if ticker is not None and ticker not in self.published:
            self.published[ticker] = None
        super().publish(event)


class Engine:
    """Runs a pipeline until stopped, then leaves nothing resting."""

    def __init__(
        self,
        parts: EngineParts,
        *,
        clock: Clock,
        pipeline_name: str,
        housekeeping_seconds: float = 1.0,
        shutdown_timeout_seconds: float = 15.0,
        status_interval_seconds: float = 5.0,
        control: Callable[[Engine], Any] | None = None,
        max_intent_age_ms: int = 1000,
    ) -> None:
        self.parts = parts
        self.clock = clock
        self.core = parts.core
        self.markets = parts.markets
        self.pipeline_name = pipeline_name
        self.stats = EngineStats()
        self.ready = False
        self.stop_reason = ""
        self.error: str | None = None
        self._housekeeping_s = housekeeping_seconds
        self._shutdown_timeout_s = shutdown_timeout_seconds
        self._status_interval_s = status_interval_seconds
        self._control = control
        self._sinks = [SinkRunner(name, sink) for name, sink in parts.sinks]
        self._wake = anyio.Event()
        self._stop = anyio.Event()
        self._ctx = _Context(self)
        self._venue_status = "starting"
        self._stopping = False
        self.audit_seconds = AUDIT_SECONDS
        self._summary: list[str] = []
        self._observers: list[Callable[[Event], None]] = []
        self.control_url: str | None = None
        """The control plane's base URL once it listens (its port may have been picked by the OS)."""
        self._carried: CarriedState | None = None
        """The journal's books (`_restore_from_sinks`), carried in by `_adopt`."""
        self._held_fills: list[OrderFilled] | None = None
        """While the account is read at start: the fills reported meanwhile, booked by `_adopt` once
        the books are carried in (booked earlier, carrying the position in would overwrite them)."""
        self._drift: dict[str, Count] = {}
        """Markets whose position differed from the venue's at start (the venue's position): to
        confirm (`_confirm_drift`) before the difference is carried in."""
        self._avg_prices: dict[str, Price] = {}
        """The venue's average cost per position at start (for a difference carried in)."""
        self._drained: set[str] = set()
        """Markets that left the pipeline's selection: never quoted again in this run."""
        self.core._emit = self._emit  # runtime events go to sinks only
        self._immediate: ImmediateExecutor | None = (
            parts.executor if isinstance(parts.executor, ImmediateExecutor) else None
        )
        self._inline = False
        """Quote inline on events (`_quote_inline`): set while trading with an `ImmediateExecutor`."""
        self._inline_ns: dict[str, int] = {}
        """Per market, when it was last requoted inline (monotonic ns)."""
        self._inline_pending: dict[str, None] = {}
        """Markets to requote inline once the frames already received are applied (`_defer_inline`)."""
        self._inline_fallback: asyncio.Handle | None = None
        """While `_inline_pending` has markets: the loop callback that requotes them if no feed
        calls `burst_done` first."""
        self._in_pass = False
        """A quoting pass is running: an event it causes (a reject, say) leaves its market dirty for
        the quoting task instead of starting a nested pass."""
        self.core.gate.max_age_ns = max_intent_age_ms * 1_000_000
        executor = parts.executor
        self.scheduler = IntentScheduler(
            self.core,
            executor.write_budget if isinstance(executor, BudgetedExecutor) else None,
            self._send,
            clock.monotonic_ns,
        )
        self._turn_wake = anyio.Event()
        self._outbox: list[OrderAction] = []
        """Actions for an executor without `execute_nowait`, sent by the quoting task."""
        self.orders_left: list[WorkingOrder] = []
        """After a stop: our orders the venue still showed resting (or, unreadable, the tracker's)."""
        self.shutdown_note = ""
        """What the stop is doing now (a second SIGINT prints it)."""
        self._stop_scope: anyio.CancelScope | None = None
        self._aborted = False
        self._rng = random.Random()
        self._stop_errors = RateLimitedLog(log, clock.monotonic_ns)
        self._repeats = RateLimitedLog(log, clock.monotonic_ns)
        """Lines about conditions that come in storms (rejects per market and code, audits)."""

    # --- events ---------------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Take an event from a feed or the executor: update state, wake quoting, offer to sinks."""
        if self._held_fills is not None and isinstance(event, OrderFilled):
            self._held_fills.append(event)  # the venue reports fills before the books are carried in
            return
        try:
            fresh = self.core.apply(event)
        except PluginFault as exc:  # runtime.plugin_errors: stop
            self._plugin_stop(exc)
            return
        except Exception as exc:
            self.stats.malformed_events += 1
            log.error("could not apply %s for %s: %s", event.kind, getattr(event, "ticker", "-"), exc)
            return
        if not fresh:  # a fill already booked: counted, not passed on (sinks would book it twice)
            self.stats.events["fill_repeated"] += 1
            return
        self._count(event)
        for runner in self._sinks:
            runner.offer(event)
        for observer in self._observers:
            observer(event)
        if self.core.dirty:
            ticker = getattr(event, "ticker", None)
            if ticker is not None and self._inline and not self._in_pass:
                self._defer_inline(ticker)
            else:
                self._wake.set()
        if isinstance(event, OrderFilled | OrderRejected):
            self._log_outcome(event)  # after the requote: a log line is not on the path to the venue

    def _plugin_stop(self, exc: PluginFault) -> None:
        """A plugin raised under ``runtime.plugin_errors: stop``: a clean stop naming it."""
        if self.error is None:
            self.error = _one_line(exc)
        self.request_stop(self.error)

    def _defer_inline(self, ticker: str) -> None:
        """Requote ``ticker`` inline once the frames already received are applied, not after the
        first of them: the exchange publishes one change of a participant's quotes (cancel the old
        levels, place the new) as several frames that arrive together, and a quote computed from
        the first alone sees a book that never existed (a post-only order priced into the gap is
        refused: issue 16). A feed that knows where a burst ends says so (`burst_done`: the Kalshi
        WebSocket reader, when its receive buffer is empty) and the requote runs there, in its
        task. For any other feed a loop callback scheduled now does it: a feed reads a burst of
        buffered frames without suspending, so it runs after the burst, but behind every callback
        already waiting on the loop (the event-to-order path's cost of this fallback)."""
        pending = self._inline_pending
        if not pending:
            self._inline_fallback = asyncio.get_running_loop().call_soon(self._run_inline)
        pending[ticker] = None

    def burst_done(self) -> None:
        """A feed applied every frame it had received (`BurstContext.burst_done`): requote the
        markets they changed now, in the feed's task, instead of on the loop callback."""
        fallback = self._inline_fallback
        if fallback is not None:
            fallback.cancel()
            self._run_inline()

    def _run_inline(self) -> None:
        self._inline_fallback = None
        pending, self._inline_pending = self._inline_pending, {}
        for ticker in pending:
            if self._inline and not self._in_pass and self._inline_due(ticker):
                self._quote_inline(ticker)
        if self.core.dirty:
            self._wake.set()

    def _inline_due(self, ticker: str) -> bool:
        """Whether ``ticker`` is dirty and was not requoted inline in the last `_INLINE_GAP_NS`: a
        burst is quoted inline once, after it is applied (`_defer_inline`); a market dirtied again
        within the gap is left to the quoting task (latest state only), not quoted once per frame."""
        now = pacing_ns()
        if now - self._inline_ns.get(ticker, 0) < _INLINE_GAP_NS or not self.core.take_dirty_market(ticker):
            return False
        self._inline_ns[ticker] = now
        return True

    def _quote_inline(self, ticker: str) -> None:
        """Requote the market an event just changed, in the task that delivered the event, and hand
        the actions straight to the executor: no wait for the quoting task to be scheduled (the
        event-to-order path). Anything else that is dirty stays with the quoting task."""
        core = self.core
        if self._stopping or ticker in self._drained or core.state == TradingState.HALTED:
            core.mark_dirty(ticker)  # the quoting task decides (halts cancel everything there)
            return
        self._in_pass = True
        try:
            self.scheduler.requote(ticker)
            if self.scheduler.waiting:
                self._turn_wake.set()
        except Exception as exc:  # same fate as a failure in the quoting task: a clean stop
            self.error = f"quoting failed: {_one_line(exc)}"
            log.error("%s", self.error, exc_info=log.isEnabledFor(logging.DEBUG))
            self.request_stop(self.error)
        finally:
            self._in_pass = False

    def _emit(self, event: Event) -> None:
        self.stats.events[event.kind] += 1
        for runner in self._sinks:
            runner.offer(event)
        for observer in self._observers:
            observer(event)

    def add_observer(self, observer: Callable[[Event], None]) -> None:
        """Call ``observer`` synchronously with every event (the control plane's counters); it must be cheap."""
        self._observers.append(observer)

    def portfolio_marked(self) -> PortfolioMarked:
        """The portfolio valued now: this run's PnL, the day's carry-in, every position with activity."""
        pf = self.core.portfolio
        marks = pf.marks()
        positions = tuple(
            PositionMark(
                ticker=ticker, position=p.position, avg_price=p.avg_price, realised_pnl=p.realised_pnl,
                fees=p.fees, mark=marks.get(ticker), unrealised_pnl=p.unrealised_pnl(marks.get(ticker)),
            )
            for ticker, p in sorted(self.core.ledger.positions.items())
            if p.position or p.realised_pnl or p.fees
        )
        return PortfolioMarked(
            ts_ns=self.clock.now_ns(), realised_pnl=pf.realised_pnl, unrealised_pnl=pf.unrealised_pnl,
            fees=pf.fees, day_start_pnl=pf.day_start_pnl, positions=positions,
        )

    def _count(self, event: Event) -> None:
        stats = self.stats
        stats.events[event.kind] += 1
        if isinstance(event, OrderFilled):
            stats.fills += 1
            stats.filled_count += event.count
        elif isinstance(event, OrderRejected):
            stats.rejects += 1
        elif isinstance(event, OrderGroupTriggered):
            self.halt(f"order group {event.order_group_id} triggered: {event.detail}".strip(": "))
        elif isinstance(event, VenueStatusChanged):
            self._venue_status = event.status

    def _log_outcome(self, event: OrderFilled | OrderRejected) -> None:
        if isinstance(event, OrderFilled):
            log.info(
                "fill %s %s %s @ %s (fee %s)%s",
                event.ticker,
                event.side,
                format_count(event.count),
                format_price(event.price),
                format_price(event.fee),
                " taker" if event.is_taker else "",
            )
        else:
            self._repeats.log(
                ("reject", event.ticker, event.code),
                "%s rejected for %s: %s %s", event.action, event.ticker, event.code, event.message,
            )

    # --- operator actions (control plane) ------------------------------------------------------

    def halt(self, reason: str) -> None:
        """Stop quoting everywhere and cancel every working order; positions are kept."""
        if self.core.state != TradingState.HALTED:
            log.error("HALT: %s", reason)
        self.core.halt(reason)
        self._wake.set()

    def pause(self, reason: str = "operator") -> None:
        """Stop quoting and cancel working orders, keep positions, until `resume`."""
        self.core.pause(reason)
        self._wake.set()

    def resume(self, reason: str = "operator") -> bool:
        """Quote again after a pause or halt; also ends every reject quarantine, backoff and the
        balance stop (`release`)."""
        resumed = self.core.resume(reason)
        self._wake.set()
        return resumed

    def release(self, ticker: str | None = None, reason: str = "operator") -> list[str]:
        """End a market's reject quarantine and backoff (None: every market's, and the balance stop)
        without touching a pause or halt; returns the markets released from quarantine."""
        released = self.core.release(ticker, reason)
        self._wake.set()
        return released

    def update_params(self, target: str, params: Mapping[str, Any]) -> None:
        """Apply validated run-time params to ``strategy`` or a rule by name (KeyError if unknown);
        the built component's config becomes its config merged with ``params``."""
        self.core.update_params(target, params)
        built = self.parts.configured.get(target)
        if built is not None:
            built.config = {**built.config, **params}
        self._emit(ParamsUpdated(ts_ns=self.clock.now_ns(), target=target, params=dict(params)))
        self._wake.set()

    def request_stop(self, reason: str) -> None:
        """Begin a clean shutdown."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop.set()

    async def cancel_everything(self) -> int:
        """Pull every order and wait until nothing of ours is in flight or resting on the venue
        (`settle_orders`, bounded by the shutdown deadline); returns how many still rest."""
        return len(await self.settle_orders())

    async def submit(self, actions: Sequence[OrderAction]) -> None:
        """Track and send operator orders (e.g. ``/flatten``'s IOC closes) through the executor."""
        now = self.clock.now_ns()
        for action in actions:
            self.core.tracker.submitted(action, now)
        await self._submit(actions)

    @property
    def venue_status(self) -> str:
        return self._venue_status

    # --- running --------------------------------------------------------------------------------

    async def run(self, duration: float | None = None) -> int:
        """Run until a signal, ``duration`` seconds, a fatal error or `request_stop`; returns an exit code."""
        self.stats.started_ns = self.clock.now_ns()
        async with anyio.create_task_group() as outer:
            for index, runner in enumerate(self._sinks):
                try:
                    await _start_sink(runner)
                except Exception as exc:  # e.g. a journal path that cannot be written: cannot start
                    return await self._sinks_failed(exc, runner.name, self._sinks[:index], outer)
                outer.start_soon(runner.run)
            self._restore_from_sinks()
            try:
                code = await self._run_trading(duration)
            except Exception as exc:  # a bug, not a venue error: still close the run's record
                self.error = f"fatal: {_one_line(root_cause(exc))}"
                log.error("%s", self.error, exc_info=True)
                code = 1
            if not self.stop_reason:
                self.stop_reason = self.error or "stopped"
            self._emit(self.portfolio_marked())
            self._emit(RunStopped(ts_ns=self.clock.now_ns(), reason=self.stop_reason, error=code != 0))
            for runner in self._sinks:
                runner.close()
        for runner in self._sinks:
            try:
                await runner.sink.close()
            except Exception as exc:
                log.error("sink %s failed to close: %s", runner.name, exc)
        for line in self._summary:  # last, so a live status screen closing cannot hide it
            _summary_log.info("%s", line)
        return code

    async def _sinks_failed(
        self, exc: Exception, name: str, started: Sequence[SinkRunner], group: anyio.abc.TaskGroup
    ) -> int:
        """A sink could not start: nothing traded; close the ones that did; exit code 2."""
        from mmframe.runtime.errors import explain  # it imports this module

        self.error = f"sink {name} could not start: {explain(exc)}"
        self.stop_reason = f"startup failed: {self.error}"
        log.error("%s", self.error)
        for runner in started:
            runner.close()
        group.cancel_scope.cancel()
        for runner in started:
            with anyio.CancelScope(shield=True):
                try:
                    await runner.sink.close()
                except Exception as close_exc:
                    log.error("sink %s failed to close: %s", runner.name, close_exc)
        return 2

    async def _run_trading(self, duration: float | None) -> int:
        parts = self.parts
        code = 0
        try:
            await parts.venue.open()
            self._venue_status = "connected"
            self._take_venue_markets()
            self._held_fills = []
            snapshot = await parts.executor.start(self._ctx)
            startup_cancels = self._adopt(snapshot)
            await self._submit(startup_cancels)
        except Exception as exc:
            self.error = _one_line(exc)
            self.stop_reason = f"startup failed: {self.error}"
            await _close_quietly(parts)
            return 2
        self._emit(RunStarted(ts_ns=self.clock.now_ns(), pipeline=self.pipeline_name, markets=self.markets))
        for ticker in self.markets:
            self.core.market(ticker)
        self.ready = True
        self._inline = self._immediate is not None
        async with anyio.create_task_group() as tg:
            if self._control is not None:
                # Before any quoting: a control plane that cannot start (unsafe bind, port in use)
                # stops the run through the normal, order-cancelling shutdown.
                try:
                    await tg.start(self._control, self)
                except Exception as exc:  # reported as the run's error
                    self.error = f"control plane failed to start: {_one_line(exc)}"
                    log.error("%s", self.error)
                    self.request_stop(self.error)
            names = list(parts.feed_names)
            for index, feed in enumerate(parts.feeds):
                name = names[index] if index < len(names) else None
                if name is None:
                    tg.start_soon(self._guard, feed.run, self._ctx, f"feed {type(feed).__name__}")
                else:
                    tg.start_soon(self._guard, self._run_plugin_feed, feed, name, f"feed {name}")
            tg.start_soon(self._guard, self._quote_loop, "quoting")
            tg.start_soon(self._guard, self._housekeeping_loop, "housekeeping")
            tg.start_soon(self._guard, self._status_loop, "status")
            tg.start_soon(self._guard, self._audit_loop, "order audit")
            tg.start_soon(self._guard, self._turn_loop, "write scheduler")
            if self._drift:
                tg.start_soon(self._guard, self._confirm_drift, "position check")
            if duration is not None:
                tg.start_soon(self._stop_after, duration)
            await self._stop.wait()
            self._begin_stop()
            self.orders_left = await self.settle_orders()
            if self.orders_left:
                self.error = (
                    (f"{self.error}; " if self.error else "")  # what stopped the run stays in the message
                    + f"{len(self.orders_left)} order(s) still resting on the venue after shutdown: "
                    + "; ".join(describe_order(o) for o in self.orders_left)
                )
                for order in self.orders_left:
                    log.error("left resting: %s", describe_order(order))
            tg.cancel_scope.cancel()
        if self.error is not None:
            code = 1
        self._summary = self.summary_lines()  # before closing: a closed feed invalidates the marks
        await _close_quietly(parts, timeout_s=1.0 if self._aborted else 10.0)
        return code

    # --- the stop -------------------------------------------------------------------------------

    def _begin_stop(self) -> None:
        """Close the gate for good: no create or amend is written from now on, queued intents drop."""
        self.ready = False
        self._stopping = True
        self._inline = False
        self.core.gate.close(GateState.STOPPING, self.stop_reason or "stop")
        self.core.pause("stopping")

    async def settle_orders(self, timeout_s: float | None = None) -> list[WorkingOrder]:
        """Cancel every order of ours until nothing is in flight and the venue shows none resting,
        retrying through 429s, 5xx and network errors with backoff and jitter until ``timeout_s``
        (default: the shutdown deadline); returns what the venue still showed at the end (the
        tracker's live orders if the venue could not be read). The gate must be closed first."""
        timeout_s = self._shutdown_timeout_s if timeout_s is None else timeout_s
        deadline = anyio.current_time() + timeout_s
        verify_reserve = min(3.0, timeout_s / 5)
        tracker = self.core.tracker
        left: list[WorkingOrder] | None = None
        delay = 0.05
        with anyio.CancelScope(deadline=deadline) as scope:
            self._stop_scope = scope
            while True:
                self.shutdown_note = "cancelling"
                try:
                    await self._submit(self.core.pull_all())
                    with anyio.move_on_after(min(2.0, timeout_s / 4)):
                        while tracker.live():  # cancels and creates in flight: wait for their answers
                            await anyio.sleep(0.02)
                    if tracker.live():
                        # Unanswered: the executor cancels what rests, retrying until the venue
                        # answers (leaving time to read the venue once more before the deadline).
                        with anyio.move_on_after(max(0.5, deadline - anyio.current_time() - verify_reserve)):
                            await self.parts.executor.cancel_all()
                    self.shutdown_note = "verifying on the venue"
                    left = list(await self.parts.executor.open_orders())
                    if left:
                        log.warning("%d order(s) of ours still resting on the venue; cancelling them", len(left))
                        with anyio.move_on_after(max(0.5, deadline - anyio.current_time() - verify_reserve)):
                            await self.parts.executor.cancel_all()
                        left = list(await self.parts.executor.open_orders())
                except Exception as exc:
                    self._stop_errors.log(
                        type(exc).__name__, "cancelling: %s; retrying until the deadline", _one_line(exc)
                    )
                else:
                    if not left and not tracker.live():
                        return []
                await anyio.sleep(delay * (0.5 + self._rng.random() / 2))
                delay = min(delay * 2, 2.0)
        self._stop_scope = None
        if left is None:
            log.error("the venue could not be read before the deadline; naming the orders we track")
            return tracker.live()
        return left

    def stop_progress(self) -> str:
        """What the stop is doing and which orders it is still cancelling (for a second SIGINT)."""
        live = self.core.tracker.live()
        listed = "; ".join(describe_order(o) for o in live[:20]) + (f"; +{len(live) - 20} more" if len(live) > 20 else "")
        return f"stop {self.shutdown_note or 'starting'}: {len(live)} order(s) still being cancelled" + (
            f": {listed}" if live else ""
        )

    def abort(self) -> None:
        """Give up the stop now (a third SIGINT): the run ends with what is still resting named."""
        self._aborted = True
        if not self.stop_reason:
            self.stop_reason = "aborted"
        self._stop.set()
        if self._stop_scope is not None:
            self._stop_scope.cancel()

    async def _guard(self, fn: Callable[..., Any], *args: Any) -> None:
        name = args[-1]
        try:
            await fn(*args[:-1])
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            self.error = f"{name} failed: {_one_line(exc)}"
            log.error("%s", self.error, exc_info=log.isEnabledFor(logging.DEBUG))
            self.request_stop(self.error)

    async def _run_plugin_feed(self, feed: Any, name: str) -> None:
        """Run a pipeline feed; when it raises, it is a plugin fault of the markets it published for
        (all the pipeline's when none yet), and it is started again after a backoff (doubling, at
        most the quarantine cool-down) so their data is fresh when the quarantine ends."""
        delay = 1.0
        longest = max(1.0, self.core.rejects.policy.cooldown_ns / NANOS_PER_SECOND / 2)
        while True:
            tap = _FeedTap(self)
            try:
                await feed.run(tap)
                return
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                try:
                    self.core.plugin_failed("feed", name, "run()", exc, feed, tuple(tap.published) or self.markets)
                except PluginFault as fault:
                    self._plugin_stop(fault)
                    return
                self._wake.set()
            await anyio.sleep(delay)
            delay = min(delay * 2, longest)

    async def _stop_after(self, duration: float) -> None:
        await anyio.sleep(duration)
        self.request_stop(f"duration {duration:g}s elapsed")

    async def _quote_loop(self) -> None:
        core = self.core
        scheduler = self.scheduler
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if self._stopping:
                self._outbox.clear()
                continue  # shutdown owns the orders now
            if core.state == TradingState.HALTED:
                await self._submit(core.pull_all())
                await self._flush_outbox()
                continue
            slice_end = pacing_ns() + _QUOTE_SLICE_NS
            # Markets an event dirties while this pass yields are served ahead of the rest of it.
            for ticker in QuotingPass(core):
                if ticker in self._drained:
                    continue
                self._in_pass = True
                try:
                    scheduler.requote(ticker)
                finally:
                    self._in_pass = False
                if core.halted:
                    break  # the scheduler pulled every order
                if pacing_ns() >= slice_end:
                    # A long pass (many dirty markets): let the executor send what is queued
                    # and the feeds publish, instead of holding the first actions back.
                    await self._flush_outbox()
                    await anyio.sleep(0)
                    if self._stopping:
                        break  # shutdown owns the orders now
                    slice_end = pacing_ns() + _QUOTE_SLICE_NS
            await self._flush_outbox()
            if scheduler.waiting:
                self._turn_wake.set()
            # Yield once per pass so feeds can publish before the next round of conflated quoting.
            await anyio.sleep(0)

    async def _turn_loop(self) -> None:
        """Serve the markets waiting for the write budget as soon as it covers a write."""
        scheduler = self.scheduler
        while True:
            wait = scheduler.seconds_to_next_turn()
            if wait is None:
                await self._turn_wake.wait()
                self._turn_wake = anyio.Event()
                continue
            await anyio.sleep(max(wait, 0.001))
            if self._stopping or self.core.state == TradingState.HALTED:
                continue
            self._in_pass = True
            try:
                scheduler.turn(self.clock.monotonic_ns() + _QUOTE_SLICE_NS)
            finally:
                self._in_pass = False
            await self._flush_outbox()
            await anyio.sleep(0)  # a long queue is served in slices: feeds publish in between

    def _send(self, actions: Sequence[OrderAction]) -> None:
        """The scheduler's hand-over: actions already recorded in the tracker, sent now (an
        `ImmediateExecutor`) or by the quoting task (any other executor)."""
        if self._immediate is not None:
            self._submit_now(actions)
        else:
            self._outbox.extend(actions)
            self._wake.set()

    async def _flush_outbox(self) -> None:
        if self._outbox:
            actions, self._outbox = self._outbox, []
            self._record_submission(actions)
            await self.parts.executor.execute(actions)

    async def _submit(self, actions: Sequence[OrderAction]) -> None:
        if not actions:
            return
        if self._immediate is not None:
            self._submit_now(actions)
            return
        self._record_submission(actions)
        await self.parts.executor.execute(actions)

    def _submit_now(self, actions: Sequence[OrderAction]) -> None:
        """Record ``actions`` and hand them to an `ImmediateExecutor` without awaiting."""
        assert self._immediate is not None
        self._record_submission(actions)
        self._in_pass, outer = True, self._in_pass
        try:
            self._immediate.execute_nowait(actions)
        finally:
            self._in_pass = outer

    def _record_submission(self, actions: Sequence[OrderAction]) -> None:
        counts = self.stats.actions
        for action in actions:
            counts[action.type.value] += 1
        submitted = OrderActionsSubmitted(ts_ns=self.clock.now_ns(), actions=tuple(actions))
        self._emit(submitted)
        self.core.observe(submitted)

    async def _audit_loop(self) -> None:
        """Every ``audit_seconds``, compare the venue's resting orders with the tracker's live ones.

        An order of ours that rests on the venue while the tracker holds it finished (a fill counted
        twice, an acknowledgement that lost a race) is taken back into the tracker, so the next quoting
        pass keeps, moves or cancels it: nothing of ours rests unseen until shutdown.
        """
        while True:
            await anyio.sleep(self.audit_seconds)
            try:
                resting = await self.parts.executor.open_orders()
            except Exception as exc:  # an audit that cannot read the venue is retried next time
                self._repeats.log(("audit skipped", type(exc)), "order audit skipped: %s", _one_line(exc))
                continue
            if self._stopping:
                return
            tracker = self.core.tracker
            for order in resting:
                known = tracker.get(order.client_order_id)
                if known is not None and (known.status.is_live or known.updated_ns > self.clock.now_ns() - AUDIT_GRACE_NS):
                    continue
                if known is None and not self.core.owns(order.client_order_id):
                    continue
                self.stats.audit_adoptions += 1
                self._repeats.log(
                    ("audit adopted", order.ticker),
                    "order %s rests on the venue (%s %s @ %s) but was not tracked as live: taking it back",
                    order.client_order_id, order.ticker, format_count(order.remaining), format_price(order.price),
                )
                tracker.adopt(order)
                self.core.mark_dirty(order.ticker)
                self._wake.set()

    async def _housekeeping_loop(self) -> None:
        while True:
            await self.clock.sleep(self._housekeeping_s)
            self.core.housekeeping()
            excess = len(self.core.latencies_ns) - 10_000
            if excess > 0:
                self.stats.latency_samples_dropped += excess
                del self.core.latencies_ns[:excess]
            self._emit(self.portfolio_marked())
            self._wake.set()

    async def _status_loop(self) -> None:
        while True:
            await anyio.sleep(self._status_interval_s)
            log.info("%s", self.status_line())

    # --- startup reconciliation ----------------------------------------------------------------

    def _restore_from_sinks(self) -> None:
        """Replay the books of earlier runs from a journaling sink (`mmframe.domain.carry`): the
        positions at their exact cost, today's PnL before this run, the orders' fee rounding and
        the fills already journaled. Applied in `_adopt`, against the venue's account."""
        states: list[CarriedState] = []
        for runner in self._sinks:
            if not isinstance(runner.sink, RestoringSink):
                continue
            try:
                carried = runner.sink.restore(self.clock.now_ns())
            except Exception as exc:  # reported; the run goes on without history
                log.error("sink %s could not restore: %s", runner.name, _one_line(exc))
                continue
            if carried is not None:
                states.append(carried)
        self._carried = merge_carried(states)

    def _take_venue_markets(self) -> None:
        """A venue that resolves the pipeline's market selection (series, patterns...) in ``open`` reports
        the result through ``markets()``; it replaces the explicit tickers."""
        venue = self.parts.venue
        if not isinstance(venue, SelectingVenue):
            return
        resolved = venue.markets()
        if resolved:
            self.markets = tuple(resolved)
        venue.on_markets_changed(self.markets_changed)

    async def markets_changed(self, joined: Sequence[str], left: Sequence[str]) -> None:
        """The venue re-resolved the selection: quote ``joined`` from now on; drain ``left`` (stop
        quoting, cancel their orders, verify on the venue that none rest there)."""
        for ticker in joined:
            if ticker not in self.markets:
                self.markets = (*self.markets, ticker)
                self._drained.discard(ticker)
                self.core.market(ticker)
                log.info("market %s joined the selection", ticker)
        gone = set(left) & set(self.markets)
        if not gone:
            return
        self._drained |= gone
        for ticker in gone:
            self.core.stop_quoting(ticker)
        self.markets = tuple(t for t in self.markets if t not in gone)
        cancels: list[OrderAction] = [
            CancelOrder(client_order_id=o.client_order_id, ticker=o.ticker)
            for o in self.core.tracker.live()
            if o.ticker in gone and o.status.value != "pending_cancel"
        ]
        now = self.clock.now_ns()
        for cancel in cancels:
            self.core.tracker.submitted(cancel, now)
        log.info("draining %s (left the selection): cancelling %d order(s)", ", ".join(sorted(gone)), len(cancels))
        await self._submit(cancels)
        remaining: Sequence[WorkingOrder] = ()
        with anyio.move_on_after(self._shutdown_timeout_s):
            while True:
                await anyio.sleep(0.2)
                remaining = [o for o in await self.parts.executor.open_orders() if o.ticker in gone]
                if not remaining:
                    log.info("drained %s: no order rests there", ", ".join(sorted(gone)))
                    return
        log.error("drain of %s: %d order(s) still resting", ", ".join(sorted(gone)), len(remaining))

    def _adopt(self, snapshot: AccountSnapshot) -> list[OrderAction]:
        """Carry the books in (`_carry_in`, or the venue's positions at its cost without a journal)
        and take over (or cancel) orders already resting on the venue; returns the cancels of
        foreign orders to send before quoting."""
        if self._carried is not None:
            self._carry_in(snapshot, self._carried)
        else:
            self._release_held()  # the venue's positions read after them count them already
            for ticker, position in snapshot.positions.items():
                if position:
                    self.core.market_state(ticker).position.seed(position, snapshot.avg_prices.get(ticker, 0))
                    log.info("position carried in at the venue's cost: %s %s", ticker, format_count(position))
        foreign: list[WorkingOrder] = []
        for order in snapshot.open_orders:
            if self.core.owns(order.client_order_id) or self.parts.foreign_orders == "adopt":
                self.core.tracker.adopt(order)
                self.core.market_state(order.ticker)
                # The first quoting pass decides its fate: kept or moved in a pipeline market,
                # cancelled anywhere else (nothing of ours rests by accident).
                self.core.mark_dirty(order.ticker)
                log.info("adopted resting order %s in %s", order.client_order_id, order.ticker)
            else:
                foreign.append(order)
        if foreign and self.parts.foreign_orders == "refuse":
            raise StartupError(
                f"{len(foreign)} resting order(s) not placed by this pipeline (e.g. {foreign[0].ticker}); "
                "cancel them or set runtime.foreign_orders to cancel or adopt"
            )
        cancels: list[OrderAction] = []
        for order in foreign:
            if self.parts.foreign_orders == "cancel" and order.ticker in self.markets:
                self.core.tracker.adopt(order)
                cancel = CancelOrder(client_order_id=order.client_order_id, ticker=order.ticker)
                self.core.tracker.submitted(cancel, self.clock.now_ns())
                cancels.append(cancel)
                log.warning("cancelling foreign resting order %s in %s", order.client_order_id, order.ticker)
        # The executor cancels at shutdown only the orders it owns: hand it the adopted ones.
        if isinstance(self.parts.executor, AdoptingExecutor):
            self.parts.executor.adopt([o.client_order_id for o in snapshot.open_orders if self.core.tracker.get(o.client_order_id)])
        return cancels

    def _release_held(self) -> list[OrderFilled]:
        held, self._held_fills = self._held_fills or [], None
        for fill in held:
            self.publish(fill)
        return held

    def _carry_in(self, snapshot: AccountSnapshot, carried: CarriedState) -> None:
        """The restart rule (`mmframe.domain.carry`): positions from the journal's fills at their
        exact cost; fills the venue made since (not journaled: read at start or reported meanwhile)
        booked on top, so the journal gets them exactly once; the venue's position is the check."""
        core = self.core
        ledger = core.ledger
        venue = {ticker: position for ticker, position in snapshot.positions.items() if position}
        wanted = set(self.markets) | set(venue)
        carried_tickers = {t for t, item in carried.positions.items() if item.position and t in wanted}
        for ticker in sorted(carried_tickers):
            item = carried.positions[ticker]
            core.market_state(ticker).position.carry(item.position, item.cost_basis_micro)
        ledger.order_fees.restore(carried.fee_rounding)
        core.remember_trades(carried.trade_ids)
        core.portfolio.day_start_micro += carried.day_start_micro(carried_tickers)
        log.info(
            "carried in from the journal (%d fills): today's net PnL before this run $%s; positions %s",
            carried.fills, format_price(core.portfolio.day_start_pnl),
            ", ".join(f"{t} {format_count(carried.positions[t].position)}" for t in sorted(carried_tickers)) or "none",
        )
        journaled = set(carried.trade_ids)
        held, self._held_fills = self._held_fills or [], None
        missed = sorted(
            (f for f in [*snapshot.fills, *held] if f.trade_id not in journaled and f.ts_ns >= carried.trade_ids_since_ns),
            key=lambda f: f.ts_ns,
        )
        booked = self.stats.fills
        for fill in missed:
            self.publish(fill)  # a fill the venue reported twice (REST and WebSocket) is booked once
        if self.stats.fills > booked:
            log.warning("%d fill(s) made while no run was up: booked and journaled", self.stats.fills - booked)
        self._close_journaled_orders(carried, snapshot)
        self._avg_prices = dict(snapshot.avg_prices)
        if getattr(self.parts.executor, "local_account", False):
            return  # a simulated account (paper): the journal's books are the account, nothing to check
        self._drift = self._differences(venue, wanted)
        if self._drift and not isinstance(self.parts.executor, PositionReader):
            self._carry_differences(self._drift)  # nothing to read the venue again with: as it stands

    def _close_journaled_orders(self, carried: CarriedState, snapshot: AccountSnapshot) -> None:
        """Orders of ours the journal last knew live but the venue no longer rests ended while no
        run was watching (their fills are booked above): the journal is told they are done."""
        resting = {order.client_order_id for order in snapshot.open_orders}
        now = self.clock.now_ns()
        for cid, ticker in carried.open_orders:
            if cid not in resting and self.core.owns(cid):
                self._emit(OrderCanceled(ts_ns=now, client_order_id=cid, ticker=ticker,
                                         reason="not resting on the venue at start"))

    def _differences(self, venue: Mapping[str, Count], tickers: set[str]) -> dict[str, Count]:
        """Per market, the venue's position where ours differs (in the pipeline's markets, or held)."""
        ledger = self.core.ledger
        out: dict[str, Count] = {}
        for ticker in sorted(tickers | {t for t, p in ledger.positions.items() if p.position}):
            ours = ledger.positions[ticker].position if ticker in ledger.positions else 0
            theirs = venue.get(ticker, 0)
            if ours != theirs and (ticker in self.markets or ticker in venue):
                out[ticker] = theirs
        return out

    async def _confirm_drift(self) -> None:
        """A position that differed from the venue's at start may only have been a fill on its way
        (the account is read piece by piece): read the venue again, up to three times a second
        apart, and carry in only a difference that stays."""
        executor = self.parts.executor
        if not isinstance(executor, PositionReader):
            return
        read = executor.positions
        for _ in range(3):
            await anyio.sleep(1.0)
            self._drift = self._differences(await read(), set(self._drift))
            if not self._drift:
                log.info("positions agree with the venue")
                return
        self._carry_differences(self._drift)

    def _carry_differences(self, theirs_by_ticker: Mapping[str, Count]) -> None:
        """Book what the fills do not explain as a carried-in fill (no fee) at the venue's average
        cost when it holds those contracts, else at ours (no PnL is made up for them), and say so."""
        ledger = self.core.ledger
        now = self.clock.now_ns()
        for ticker, theirs in sorted(theirs_by_ticker.items()):
            ours = ledger.positions[ticker].position if ticker in ledger.positions else 0
            delta = theirs - ours
            if not delta:
                continue
            same_way = theirs != 0 and (theirs > 0) == (delta > 0)
            price = self._avg_prices.get(ticker) if same_way else None
            if price is None:
                price = ledger.positions[ticker].avg_price if ticker in ledger.positions else 0
            log.warning(
                "%s: the venue holds %s, the journal's fills and the venue's since give %s; carrying in %s at %s",
                ticker, format_count(theirs), format_count(ours), format_count(delta), format_price(price),
            )
            self.publish(OrderFilled(
                ts_ns=now, client_order_id="", ticker=ticker, order_id="", trade_id=f"{CARRY_TRADE_PREFIX}{ticker}-{now}",
                side=BookSide.BID if delta > 0 else BookSide.ASK, price=price, count=abs(delta), fee=0, is_taker=False,
            ))
        self._drift = {}

    # --- reporting ------------------------------------------------------------------------------

    def status_line(self) -> str:
        """One line: state, quotes, working orders, fills, position and PnL."""
        core = self.core
        pf = core.portfolio
        quotes = []
        for ticker, state in core.markets.items():
            quote = state.last_quote
            bid = getattr(quote, "bids", ()) if quote is not None else ()
            ask = getattr(quote, "asks", ()) if quote is not None else ()
            if bid or ask:
                quotes.append(
                    f"{ticker} {format_price(bid[0].price) if bid else '-'}/{format_price(ask[0].price) if ask else '-'}"
                    f" pos {format_count(state.position.position)}"
                )
        net = pf.net_pnl()
        return (
            f"[{core.state}] quoting {len(quotes)}/{len(core.markets)} markets | working {len(core.tracker.live())}"
            f" | fills {self.stats.fills} | net PnL ${format_price(net)} fees ${format_price(pf.fees)}"
            + (f" | {'; '.join(quotes[:4])}" if quotes else "")
        )

    def summary_lines(self) -> list[str]:
        """The run's summary: fills, actions, rejects, PnL, and one line per market traded."""
        pf = self.core.portfolio
        lines = [
            f"stopped ({self.stop_reason or 'done'}): fills {self.stats.fills}"
            f" ({format_count(self.stats.filled_count)} contracts), actions {dict(self.stats.actions)},"
            f" rejects {self.stats.rejects}, realised ${format_price(pf.realised_pnl)},"
            f" unrealised ${format_price(pf.unrealised_pnl)}, fees ${format_price(pf.fees)},"
            f" net ${format_price(pf.net_pnl())}"
        ]
        for ticker, position in sorted(self.core.ledger.positions.items()):
            if position.position or position.realised_pnl or position.fees:
                lines.append(
                    f"  {ticker} position {format_count(position.position)} avg {format_price(position.avg_price)}"
                    f" realised ${format_price(position.realised_pnl)} fees ${format_price(position.fees)}"
                )
        return lines


async def _start_sink(runner: SinkRunner) -> None:
    await runner.sink.start()


def describe_order(order: WorkingOrder) -> str:
    """``TICKER bid 0.4500 x10.00 id=... (client ...)``: how a left-over order is named to the user."""
    return (
        f"{order.ticker} {order.side.value} {format_price(order.price)} x{format_count(order.remaining)}"
        f" id={order.order_id or '?'} (client {order.client_order_id})"
    )


async def _close_quietly(parts: EngineParts, *, timeout_s: float = 10.0) -> None:
    for closer in (parts.executor.stop, parts.venue.close):
        try:
            with anyio.move_on_after(timeout_s):
                await closer()
        except Exception as exc:
            log.error("error while closing: %s", _one_line(exc))


def root_cause(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (task groups wrap the error that matters)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException) -> str:
    """The root cause of ``exc`` on one line, with advice (`mmframe.runtime.errors.explain`)."""
    from mmframe.runtime.errors import explain  # it imports this module

    return explain(exc)


def seconds_to_ns(seconds: float) -> int:
    return int(seconds * NANOS_PER_SECOND)
