"""Prometheus exposition: a registry per engine and a collector that reads the engine at scrape time.

Nothing is pushed into prometheus-client objects on the hot path; the collector builds every
family from the engine's counters and the `ControlMonitor` when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from mmframe.clock import NANOS_PER_SECOND
from mmframe.control.monitor import ControlMonitor
from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STATES = ("active", "paused", "halted")


def _dollars(price: int) -> float:
    return price / PRICE_SCALE


def _contracts(count: int) -> float:
    return count / COUNT_SCALE


class EngineCollector(Collector):
    """Builds every mmframe metric family from a running engine."""

    def __init__(self, engine: Engine, monitor: ControlMonitor) -> None:
        self._engine = engine
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        yield from self._run()
        yield from self._pnl()
        yield from self._trading()
        yield from self._venue()
        yield from self._latency()

    def _run(self) -> Iterator[Metric]:
        engine = self._engine
        up = GaugeMetricFamily("mmframe_uptime_seconds", "Seconds since the engine started.")
        started = engine.stats.started_ns
        up.add_metric([], (engine.clock.now_ns() - started) / NANOS_PER_SECOND if started else 0.0)
        yield up
        ready = GaugeMetricFamily("mmframe_ready", "1 when the engine is ready to quote (see /health).")
        ready.add_metric([], 1.0 if engine.ready else 0.0)
        yield ready
        state = GaugeMetricFamily("mmframe_trading_state", "1 for the current trading state.", labels=["state"])
        for name in _STATES:
            state.add_metric([name], 1.0 if engine.core.state == name else 0.0)
        yield state
        events = CounterMetricFamily("mmframe_events", "Events handled, by type.", labels=["kind"])
        for kind, count in sorted(engine.stats.events.items()):
            events.add_metric([kind], count)
        yield events
        malformed = CounterMetricFamily("mmframe_malformed_events", "Events that could not be applied.")
        malformed.add_metric([], engine.stats.malformed_events)
        yield malformed

    def _pnl(self) -> Iterator[Metric]:
        pf = self._engine.core.portfolio
        for name, doc, value in (
            ("mmframe_pnl_realised_dollars", "Realised PnL of this run, before fees.", pf.realised_pnl),
            ("mmframe_pnl_unrealised_dollars", "Unrealised PnL of open positions, marked to mid.", pf.unrealised_pnl),
            ("mmframe_fees_dollars", "Fees paid in this run.", pf.fees),
            ("mmframe_pnl_day_start_dollars", "Net PnL carried in from earlier runs today.", pf.day_start_pnl),
            ("mmframe_pnl_net_dollars", "Today's net PnL: realised + unrealised - fees + carried in.", pf.net_pnl()),
        ):
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], _dollars(value))
            yield family
        position = GaugeMetricFamily("mmframe_position_contracts", "Signed YES position.", labels=["market"])
        realised = GaugeMetricFamily(
            "mmframe_market_realised_pnl_dollars", "Realised PnL per market, before fees.", labels=["market"]
        )
        for ticker, pos in sorted(pf.positions.items()):
            if pos.position or pos.realised_pnl or pos.fees:
                position.add_metric([ticker], _contracts(pos.position))
                realised.add_metric([ticker], _dollars(pos.realised_pnl))
        yield position
        yield realised

    def _trading(self) -> Iterator[Metric]:
        engine, monitor = self._engine, self._monitor
        fills = CounterMetricFamily("mmframe_fills", "Fills of our orders, by market.", labels=["market"])
        filled = CounterMetricFamily(
            "mmframe_filled_contracts", "Contracts filled, by market.", labels=["market"]
        )
        for ticker in sorted(monitor.fills_by_market):
            fills.add_metric([ticker], monitor.fills_by_market[ticker])
            filled.add_metric([ticker], _contracts(monitor.filled_by_market[ticker]))
        yield fills
        yield filled
        ratio = GaugeMetricFamily("mmframe_fill_ratio", "Contracts filled per contract placed (fill rate).")
        ratio.add_metric([], monitor.fill_ratio)
        yield ratio
        monitor.uptime.flush()
        uptime = GaugeMetricFamily(
            "mmframe_quote_uptime_ratio", "Share of time with a two-sided quote resting.", labels=["market"]
        )
        quoted = CounterMetricFamily(
            "mmframe_quote_two_sided_seconds", "Seconds with a two-sided quote resting.", labels=["market"]
        )
        for ticker in monitor.uptime.tickers():
            uptime.add_metric([ticker], monitor.uptime.ratio(ticker))
            quoted.add_metric([ticker], monitor.uptime.quoted_ns[ticker] / NANOS_PER_SECOND)
        yield uptime
        yield quoted
        actions = CounterMetricFamily("mmframe_order_actions", "Order actions sent, by type.", labels=["type"])
        for kind in ("create", "amend", "decrease", "cancel"):
            actions.add_metric([kind], engine.stats.actions.get(kind, 0))
        yield actions
        rejects = CounterMetricFamily("mmframe_order_rejects", "Actions the venue refused, by code.", labels=["code"])
        for code, count in sorted(monitor.rejects_by_code.items()):
            rejects.add_metric([code], count)
        yield rejects
        throttled = CounterMetricFamily("mmframe_rate_limited", "Actions refused with 429 (too many requests).")
        throttled.add_metric([], monitor.rate_limited)
        yield throttled
        yield from self._reject_guard()
        incentive = GaugeMetricFamily(
            "mmframe_incentive_score_contracts",
            "Estimated Liquidity Incentive Program score of our resting orders now: contracts within the "
            "target size, weighted by the distance multiplier (docs/avellaneda-stoikov-binary.md).",
            labels=["market"],
        )
        for ticker, score in engine.core.incentive_scores().items():
            incentive.add_metric([ticker], _contracts(score))
        yield incentive
        working = GaugeMetricFamily("mmframe_working_orders", "Live orders (resting or in flight).")
        working.add_metric([], len(engine.core.tracker.live()))
        yield working

    def _reject_guard(self) -> Iterator[Metric]:
        core = self._engine.core
        guard = core.rejects
        dropped = CounterMetricFamily(
            "mmframe_post_only_dropped", "Quote levels dropped because they would have rested at or through the book."
        )
        dropped.add_metric([], core.post_only_dropped)
        yield dropped
        counted = CounterMetricFamily(
            "mmframe_rejects_counted", "Venue rejects of creates and amends that counted towards backoff and quarantine."
        )
        counted.add_metric([], guard.counted)
        yield counted
        quarantines = CounterMetricFamily(
            "mmframe_quarantines", "Markets quarantined after a reject storm or a plugin error."
        )
        quarantines.add_metric([], guard.quarantines)
        yield quarantines
        plugin_errors = CounterMetricFamily(
            "mmframe_plugin_errors", "Exceptions raised by a strategy, risk rule or pipeline feed while running."
        )
        plugin_errors.add_metric([], core.plugin_faults)
        yield plugin_errors
        for name, doc, value in (
            ("mmframe_quarantined_markets", "Markets quarantined now (orders pulled).", len(guard.quarantined)),
            ("mmframe_markets_backing_off", "Markets writing no creates or amends after a reject.",
             len(guard.backing_off())),
            ("mmframe_balance_blocked", "1 while insufficient_balance stops creates everywhere.",
             0 if guard.balance_block_left_ns() is None else 1),
        ):
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], float(value))
            yield family

    def _venue(self) -> Iterator[Metric]:
        monitor = self._monitor
        reconnects = CounterMetricFamily("mmframe_ws_reconnects", "Venue WebSocket reconnects.")
        reconnects.add_metric([], monitor.reconnects)
        yield reconnects
        gaps = CounterMetricFamily(
            "mmframe_book_invalidations", "Books invalidated (sequence gaps, reconnects) and rebuilt."
        )
        gaps.add_metric([], monitor.book_invalidations)
        yield gaps
        connected = GaugeMetricFamily("mmframe_venue_connected", "1 while the venue reports connected.")
        connected.add_metric([], 1.0 if self._engine.venue_status == "connected" else 0.0)
        yield connected

    def _latency(self) -> Iterator[Metric]:
        engine, histogram = self._engine, self._monitor.latency
        histogram.consume(engine.core.latencies_ns, engine.stats.latency_samples_dropped)
        family = HistogramMetricFamily(
            "mmframe_event_to_order_latency_seconds", "From a market turning dirty to its order actions."
        )
        family.add_metric([], histogram.cumulative(), sum_value=histogram.sum_ns / NANOS_PER_SECOND)
        yield family


def build_registry(engine: Engine, monitor: ControlMonitor) -> CollectorRegistry:
    """A fresh registry holding only this engine's collector (never the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine, monitor))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The exposition text of ``registry``."""
    return generate_latest(registry)
