"""Backtests: a pipeline's strategy and risk rules driven by a recorded or modelled market, in
simulated time, synchronously and deterministically for a seed.

One run: merge the pipeline's `BacktestFeed` events by timestamp; at every new timestamp first
quote the markets that changed (strategy -> risk -> reconciler -> `SimulatedExecutor`), then move
the clock, let the executor report fills that arrived meanwhile (``on_step``), then apply the
events of that timestamp (each also shown to the executor, which fills orders the market traded
at or through). Quotes made at time t therefore rest until the next timestamp, as in a live market
and as in Avellaneda & Stoikov's simulation. Between timestamps the periodic housekeeping (time
rules such as stale data, auto-resume after a halt) runs at its scheduled simulated times, as the
live engine's timer would. The control plane is not run; the pipeline's sinks get every run's
events (a journal records each run as a backtest run, which `mmframe report --mode backtest` reports
and live runs never restore from), written once the run is over. All money is exact integers; only
the summary statistics across runs are floats.
"""

from __future__ import annotations

import asyncio
import fnmatch
import heapq
import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import anyio

from mmframe.clock import NANOS_PER_SECOND
from mmframe.components import BacktestFeed, SimulatedExecutor, Sink, Strategy
from mmframe.domain.events import (
    Event,
    MarketEvent,
    OrderActionsSubmitted,
    OrderFilled,
    PortfolioMarked,
    PositionMark,
    RunStarted,
    RunStopped,
)
from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE, Count, Price
from mmframe.domain.plugin_policy import PluginErrorPolicy
from mmframe.domain.quote import Quote
from mmframe.domain.reconciler import ReconcilePolicy
from mmframe.domain.trading import TradingState
from mmframe.pipeline.model import MarketSelection, Pipeline
from mmframe.plugins import Registry
from mmframe.research.metrics import BASE_METRICS, catalogue, stats_values
from mmframe.research.run_stats import DEFAULT_HORIZONS_S, RunRecorder, RunStats, inventory_limit_of
from mmframe.research.summary import Distribution, distribution
from mmframe.runtime.build import BuildError, ComponentBuilder, order_id_slug, pipeline_context
from mmframe.runtime.quoting import NamedRule, QuotingCore

T = TypeVar("T")

METRICS = tuple(metric.name for metric in BASE_METRICS)
"""The first per-run metrics `BacktestReport` summarises, in the order of the JSON output (the
measurements of `mmframe.research.metrics.RUN_METRICS` and the markouts follow)."""


class BacktestError(RuntimeError):
    """The pipeline cannot be backtested (a component is not a backtest component, a feed is out of
    order); the message says which and what to use instead."""


class BacktestClock:
    """Simulated time, set from event timestamps. Implements `mmframe.clock.Clock`; nothing in a
    backtest sleeps, so ``sleep`` is refused."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def set(self, now_ns: int) -> None:
        """Move to ``now_ns``."""
        self._now = now_ns

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("nothing sleeps in a backtest: time moves with the recorded events")


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """What one run produced. Money in price units (1/10,000 dollar), contracts in count units."""

    seed: int
    profit: Price
    """Net PnL with open positions marked at the final mid (terminal wealth x + q·S_T), after fees."""
    fees: Price
    fills: int
    """Number of fills (a partial fill counts once)."""
    filled: Count
    spread_total: Price
    """Sum of the quoted spread (best ask - best bid) over every two-sided quote decision."""
    spread_samples: int
    final_inventory: Count
    """Signed YES position summed over the pipeline's markets at the end."""
    events: int
    actions: int = 0
    """Order actions handed to the executor (creates, amends, decreases, cancels)."""
    stats: RunStats | None = None
    """What the run measured as it went (drawdown, markouts, uptime, ...; `mmframe.research.run_stats`)."""

    @property
    def average_spread(self) -> Fraction | None:
        """Average quoted spread in price units, None when no two-sided quote was made."""
        return Fraction(self.spread_total, self.spread_samples) if self.spread_samples else None

    def values(self) -> dict[str, Fraction | float | None]:
        """The metrics in dollars, contracts and ratios; exact but for the Sharpe-like ratio."""
        spread = self.average_spread
        values: dict[str, Fraction | float | None] = {
            "profit": Fraction(self.profit, PRICE_SCALE),
            "final_inventory": Fraction(self.final_inventory, COUNT_SCALE),
            "spread": None if spread is None else spread / PRICE_SCALE,
            "fills": Fraction(self.fills),
            "fees": Fraction(self.fees, PRICE_SCALE),
        }
        if self.stats is not None:
            values.update(stats_values(self.stats))
        return values


Summary = Distribution
"""One metric across runs (mean, sample std, 95% interval of the mean, percentiles)."""


@dataclass(frozen=True)
class BacktestReport:
    """Every run of a backtest and their summary."""

    pipeline: str
    runs: tuple[RunMetrics, ...]
    horizons_s: tuple[Fraction, ...] = DEFAULT_HORIZONS_S
    """The markout horizons (seconds) the runs were measured at."""

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric of these runs, in report order (`METRICS` first)."""
        if not any(run.stats is not None for run in self.runs):
            return METRICS
        return tuple(metric.name for metric in catalogue(self.horizons_s))

    def summary(self) -> dict[str, Distribution]:
        """Each metric across runs (`mmframe.research.summary.distribution`), in dollars, contracts
        and ratios; a run without a value (no fill to mark, nothing quoted) does not count."""
        columns: dict[str, list[Fraction | float]] = {name: [] for name in self.metric_names}
        for run in self.runs:
            for name, value in run.values().items():
                if value is not None and name in columns:
                    columns[name].append(value)
        return {name: distribution(values) for name, values in columns.items()}

    def to_json(self) -> dict[str, Any]:
        """``{"runs": N, "metrics": {name: {"mean": .., "std": ..}}, "distribution": {name: {"n",
        "mean", "std", "ci95": [low, high], "min", "p05", "p50", "p95", "max"}}, "per_run": [{"seed",
        name: value, ...}]}``: ``metrics`` as in the first release (its first five names are
        `METRICS`), the rest added after."""
        summary = self.summary()
        return {
            "runs": len(self.runs),
            "metrics": {name: {"mean": s.mean, "std": s.std} for name, s in summary.items()},
            "distribution": {name: s.to_json() for name, s in summary.items()},
            "per_run": [
                {"seed": run.seed, **{name: _plain(value) for name, value in run.values().items()}}
                for run in self.runs
            ],
        }


def _plain(value: Fraction | float | None) -> float | None:
    return None if value is None else float(value)


# --- building --------------------------------------------------------------------------------------


@dataclass
class BacktestParts:
    """The components of a pipeline built for backtesting. Feeds and the executor are reused across
    runs (they are reseeded); the strategy and risk rules are built fresh for every run."""

    name: str
    markets: tuple[str, ...]
    selection: MarketSelection | None
    feeds: list[BacktestFeed]
    executor: SimulatedExecutor
    build_strategy: Callable[[], Strategy]
    build_rules: Callable[[], list[NamedRule]]
    policy: ReconcilePolicy
    clock: BacktestClock
    housekeeping_ns: int = NANOS_PER_SECOND
    prefix: str = "bt-"
    build_sinks: Callable[[], list[tuple[str, Sink]]] = list
    """Fresh sinks for one run: the pipeline's sinks that record backtests (a class attribute
    ``records_backtests = True``: the journal, the event log), none by default."""
    sinks_wanted: bool = False
    inventory_limit: Count | None = None
    """The tightest `max-position` per-market limit (count units), for the time-at-limit metric."""


def build_backtest(pipeline: Pipeline, registry: Registry) -> BacktestParts:
    """Build ``pipeline``'s components for a backtest (as `mmframe.runtime.build` builds them for
    every command); `BacktestError` when a feed or the executor cannot run without a live venue."""
    clock = BacktestClock()
    builder = ComponentBuilder(pipeline, registry, pipeline_context(pipeline, clock, backtest=True))
    return _refusing(lambda: _backtest_parts(pipeline, builder, clock))()


def _refusing(build: Callable[[], T]) -> Callable[[], T]:
    """``build``, with a component that refuses its config reported as a `BacktestError`."""

    def call() -> T:
        try:
            return build()
        except BuildError as exc:
            cause = exc.__cause__ or exc
            raise BacktestError(f"{exc.ref.kind} {exc.ref.name!r}: {type(cause).__name__}: {cause}") from cause

    return call


def _backtest_parts(pipeline: Pipeline, builder: ComponentBuilder, clock: BacktestClock) -> BacktestParts:
    builder.venue()
    feeds: list[BacktestFeed] = []
    names = [f"venue {pipeline.venue.name!r}"] + [f"feed {ref.name!r}" for ref in pipeline.feeds]
    for feed, name in zip(builder.feeds(), names, strict=True):
        if not isinstance(feed, BacktestFeed):
            raise BacktestError(
                f"{name} cannot run in a backtest: it has no events(rng_seed) "
                "(use venue: backtest and a backtest feed such as replay or as2008-midprice)"
            )
        feeds.append(feed)
    executor = builder.executor()
    if not isinstance(executor, SimulatedExecutor):
        what = f"executor {pipeline.executor.name!r}" if pipeline.executor else f"venue {pipeline.venue.name!r}"
        raise BacktestError(
            f"{what} cannot run in a backtest: it does not simulate fills "
            "(use venue: backtest, or an executor such as backtest or as2008-fills)"
        )
    # Sinks that record backtests (files); a live screen or an alert channel has nothing to do here.
    recording = [(i, ref) for (i, ref), (_, sink) in zip(enumerate(pipeline.sinks), builder.sinks(), strict=True)
                 if getattr(sink, "records_backtests", False)]
    runtime = pipeline.runtime

    def build_sinks() -> list[tuple[str, Sink]]:
        return list(builder.sinks(recording))

    def build_rules() -> list[NamedRule]:
        return [NamedRule(built.name, built.component) for built in builder.rules()]

    return BacktestParts(
        name=pipeline.name,
        markets=builder.ctx.markets,
        selection=pipeline.markets,
        feeds=feeds,
        executor=executor,
        build_strategy=_refusing(lambda: builder.strategy().component),
        build_rules=_refusing(build_rules),
        policy=ReconcilePolicy(
            price_tolerance=int(runtime.price_tolerance), size_tolerance=int(runtime.size_tolerance)
        ),
        clock=clock,
        housekeeping_ns=int(float(runtime.housekeeping_seconds) * NANOS_PER_SECOND),
        prefix=f"{order_id_slug(pipeline.name)}-bt-",
        build_sinks=_refusing(build_sinks),
        sinks_wanted=bool(recording),
        inventory_limit=inventory_limit_of((ref.name, ref.config) for ref in pipeline.risk),
    )


# --- running ---------------------------------------------------------------------------------------


def stream_seed(seed: int, stream: int) -> int:
    """An independent seed for one random source (``stream``) of the run seeded ``seed``."""
    return seed * 1_000_003 + stream


def _merged(feeds: Sequence[BacktestFeed], seed: int) -> Iterator[Event]:
    streams = [feed.events(stream_seed(seed, index + 1)) for index, feed in enumerate(feeds)]
    if len(streams) == 1:
        return streams[0]
    # heapq.merge is stable: events with equal timestamps keep feed order, then their own order.
    return heapq.merge(*streams, key=lambda event: event.ts_ns)


def _selector(parts: BacktestParts) -> Callable[[str], bool]:
    selection = parts.selection
    tickers = frozenset(parts.markets)
    if selection is None or selection.is_static:
        return tickers.__contains__
    prefixes = tuple(f"{s}-" for s in (*selection.series, *selection.events))
    patterns = tuple(selection.patterns)

    def wanted(ticker: str) -> bool:
        return (
            ticker in tickers
            or ticker.startswith(prefixes)
            or any(fnmatch.fnmatchcase(ticker, pattern) for pattern in patterns)
        )

    return wanted


class _Run:
    """One backtest run, made and driven by `run_backtest_once`."""

    def __init__(
        self,
        parts: BacktestParts,
        seed: int,
        *,
        record: bool = True,
        horizons_s: Sequence[Fraction] = DEFAULT_HORIZONS_S,
        keep_curves: bool = False,
    ) -> None:
        self.parts = parts
        self.seed = seed
        clock = parts.clock
        clock.set(0)
        self.recorded: list[Event] | None = [] if parts.sinks_wanted and record else None
        """Every event of the run, for the pipeline's sinks (None: no sinks)."""
        self.core = QuotingCore(
            strategy=parts.build_strategy(),
            rules=parts.build_rules(),
            now_ns=clock.now_ns,
            monotonic_ns=clock.now_ns,
            emit=_ignore if self.recorded is None else self.recorded.append,
            policy=parts.policy,
            client_order_prefix=f"{parts.prefix}{seed}-",
            # A fill model with no book to cross (the AS paper's) turns the post-only step off.
            post_only_guard=bool(getattr(parts.executor, "post_only_guard", True)),
            # A plugin that raises in a backtest fails it, named: a quarantined market would only
            # make the results quietly wrong.
            plugin_errors=PluginErrorPolicy.STOP,
        )
        for ticker in parts.markets:
            self.core.market(ticker)
        core = self.core
        self.recorder = RunRecorder(
            equity=lambda: core.portfolio.realised_pnl + core.portfolio.unrealised_pnl - core.portfolio.fees,
            positions=lambda: (core.ledger.position(t).position for t in parts.markets),
            mid=self._mid,
            two_sided=self._two_sided,
            markets=parts.markets,
            horizons_s=horizons_s,
            inventory_limit=parts.inventory_limit,
            keep_curves=keep_curves,
        )
        self.executor = parts.executor
        self.executor.reset(stream_seed(seed, 0))
        self.fills = 0
        self.filled = 0
        self.spread_total = 0
        self.spread_samples = 0
        self.events = 0
        self.actions = 0

    def _mid(self, ticker: str) -> Price | None:
        state = self.core.markets.get(ticker)
        return None if state is None else state.book.mid()

    def _two_sided(self, ticker: str) -> bool:
        sides = {order.side for order in self.core.tracker.working(ticker)}
        return len(sides) == 2

    def apply_all(self, events: list[Event]) -> None:
        apply = self.core.apply
        if self.recorded is not None:
            self.recorded.extend(events)
        for event in events:
            apply(event)
            if type(event) is OrderFilled:
                self.fills += 1
                self.filled += event.count
                self.recorder.filled(event)

    def requote(self, now_ns: int) -> None:
        core = self.core
        for ticker in core.take_dirty():
            actions = core.requote(ticker)
            if core.state == TradingState.ACTIVE:
                quote = core.markets[ticker].last_quote
                if isinstance(quote, Quote) and quote.bids and quote.asks:
                    self.spread_total += quote.asks[0].price - quote.bids[0].price
                    self.spread_samples += 1
            if actions:
                self.actions += len(actions)
                self.recorder.offered(actions)
                if self.recorded is not None:
                    self.recorded.append(OrderActionsSubmitted(ts_ns=now_ns, actions=tuple(actions)))
                if core.rules:
                    core.observe(OrderActionsSubmitted(ts_ns=now_ns, actions=tuple(actions)))
                self.apply_all(self.executor.execute(actions, now_ns))
        self.recorder.settle()

    def advance(self, now_ns: int) -> None:
        """Move simulated time to ``now_ns`` and take the fills that arrived meanwhile."""
        self.parts.clock.set(now_ns)
        self.recorder.step(now_ns)
        stepped = self.executor.on_step(now_ns)
        if stepped:
            self.apply_all(stepped)

    def housekeeping(self, before_ns: int, scheduled_ns: int) -> int:
        """Run the periodic re-evaluation (time-based rules, auto-resume) at every scheduled time
        strictly before ``before_ns``, as the live engine would between events; long quiet spells
        are visited at their first and last scheduled times only. Returns the next scheduled time."""
        interval = self.parts.housekeeping_ns
        passes = 0
        while scheduled_ns < before_ns:
            self.advance(scheduled_ns)
            self.core.housekeeping()
            if self.recorded is not None:
                self.recorded.append(self.marked(scheduled_ns))
            self.requote(scheduled_ns)
            passes += 1
            skip = (before_ns - scheduled_ns - 1) // interval
            scheduled_ns += interval * (skip if passes == 1 and skip > 2 else 1)
        return scheduled_ns

    def run(self) -> RunMetrics:
        parts = self.parts
        core = self.core
        executor = self.executor
        wanted = _selector(parts)
        scheduled = 0
        now: int | None = None
        count = 0
        for event in _merged(parts.feeds, self.seed):
            count += 1
            ts = event.ts_ns
            if ts != now:
                if now is None:
                    scheduled = ts + parts.housekeeping_ns
                else:
                    if ts < now:
                        raise BacktestError(
                            f"feed events out of order: {event.kind} at {ts} after {now} "
                            "(a backtest feed must yield events in time order)"
                        )
                    # Quotes decided at `now` rest until the market's next moment.
                    if core.dirty:
                        self.requote(now)
                    if scheduled < ts:
                        scheduled = self.housekeeping(ts, scheduled)
                now = ts
                self.advance(ts)
            if isinstance(event, MarketEvent) and not wanted(event.ticker):
                continue
            if self.recorded is not None:
                self.recorded.append(event)
            core.apply(event)
            caused = executor.on_market_event(event)
            if caused:
                self.apply_all(caused)
        self.events = count
        self.recorder.settle()
        self.recorder.end()
        if self.recorded is not None:
            self.record(0 if now is None else now)
        return self.metrics()

    def marked(self, now_ns: int) -> PortfolioMarked:
        """The portfolio valued at ``now_ns`` (as the live engine's housekeeping reports it)."""
        pf = self.core.portfolio
        marks = pf.marks()
        positions = tuple(
            PositionMark(ticker=t, position=p.position, avg_price=p.avg_price, realised_pnl=p.realised_pnl,
                         fees=p.fees, mark=marks.get(t), unrealised_pnl=p.unrealised_pnl(marks.get(t)))
            for t, p in sorted(self.core.ledger.positions.items()) if p.position or p.realised_pnl or p.fees
        )
        return PortfolioMarked(ts_ns=now_ns, realised_pnl=pf.realised_pnl, unrealised_pnl=pf.unrealised_pnl,
                               fees=pf.fees, positions=positions)

    def record(self, end_ns: int) -> None:
        """Hand the run's events to fresh sinks, framed by RunStarted and RunStopped."""
        assert self.recorded is not None
        events = self.recorded
        start_ns = events[0].ts_ns if events else end_ns
        events.insert(0, RunStarted(ts_ns=start_ns, pipeline=self.parts.name, markets=tuple(self.parts.markets)))
        events.append(self.marked(end_ns))
        events.append(RunStopped(ts_ns=end_ns, reason=f"backtest run, seed {self.seed}"))
        write_to_sinks(self.parts.build_sinks(), events, start_ns)
        self.recorded = []

    def metrics(self) -> RunMetrics:
        core = self.core
        portfolio = core.portfolio
        inventory = sum(core.ledger.position(ticker).position for ticker in core.markets)
        return RunMetrics(
            seed=self.seed,
            profit=portfolio.realised_pnl + portfolio.unrealised_pnl - portfolio.fees,
            fees=portfolio.fees,
            fills=self.fills,
            filled=self.filled,
            spread_total=self.spread_total,
            spread_samples=self.spread_samples,
            final_inventory=inventory,
            events=self.events,
            actions=self.actions,
            stats=self.recorder.finish(),
        )


def write_to_sinks(sinks: Sequence[tuple[str, Any]], events: list[Event], start_ns: int) -> None:
    """Start each sink, write ``events`` in one batch and close it, in an event loop of its own (a
    worker thread when the caller already runs one)."""

    async def main() -> None:
        for name, sink in sinks:
            try:
                starter = sink.start
                await (starter(start_ns) if "now_ns" in inspect.signature(starter).parameters else starter())
                await sink.write(events)
            except Exception as exc:
                raise BacktestError(f"sink {name!r} failed: {type(exc).__name__}: {exc}") from exc
            finally:
                await sink.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        anyio.run(main)
        return
    failure: list[BaseException] = []

    def in_thread() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=in_thread, name="backtest-sinks")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _ignore(event: Event) -> None:
    """Runtime events (quotes computed, verdicts) are not kept in a backtest."""


def run_backtest_once(
    parts: BacktestParts,
    seed: int,
    *,
    record: bool = True,
    horizons_s: Sequence[Fraction] = DEFAULT_HORIZONS_S,
    keep_curves: bool = False,
) -> RunMetrics:
    """One independent run seeded ``seed`` (fresh strategy and rules, reseeded feeds and executor);
    ``record``: hand its events to the pipeline's recording sinks; markouts at ``horizons_s``;
    ``keep_curves``: keep its equity and inventory curves and trade list (for the report)."""
    return _Run(parts, seed, record=record, horizons_s=horizons_s, keep_curves=keep_curves).run()


def run_backtest(
    parts: BacktestParts,
    *,
    runs: int = 1,
    seed: int = 0,
    record_runs: int | None = None,
    horizons_s: Sequence[Fraction] = DEFAULT_HORIZONS_S,
    sample_runs: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    """``runs`` independent runs seeded ``seed``, ``seed + 1``, ...; the first ``record_runs`` of them
    (all: None) are recorded by the pipeline's journal (each a run of its own); the first
    ``sample_runs`` keep their curves and trades; ``progress`` is told each finished run's index."""
    if runs < 1:
        raise BacktestError(f"runs must be at least 1, got {runs}")
    recorded = runs if record_runs is None else record_runs
    results = []
    for i in range(runs):
        results.append(run_backtest_once(parts, seed + i, record=i < recorded, horizons_s=horizons_s,
                                         keep_curves=i < sample_runs))
        if progress is not None:
            progress(i)
    return BacktestReport(parts.name, tuple(results), tuple(horizons_s))
