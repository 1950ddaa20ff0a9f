"""Which events become alerts, and their wording.

Stateful where the alert is about a pattern rather than one event: a loss threshold fires once as
today's net PnL crosses it; a disconnect is reported once it has lasted ``disconnect_ns`` (and its
end, when it was reported); rejects are an alert only as a storm (``storm_count`` in
``storm_window_ns`` in one market); the stop alert carries the run's summary (PnL, fills, rejects,
positions); the daily summary goes out once a UTC day at ``daily_hour``.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mmframe.api import (
    NANOS_PER_SECOND,
    Event,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    PortfolioMarked,
    RunStarted,
    RunStopped,
    TradingHalted,
    TradingPaused,
    TradingResumed,
    VenueStatusChanged,
    format_count,
    format_price,
)
from mmframe_sinks.alerting.model import FAILURE, INFO, SUCCESS, WARNING, Alert

QUARANTINE_EVENT = "MarketQuarantined"
"""Handled by kind name: the event is another part's; any event of that kind with a ``ticker`` counts."""
STOPPING_REASON = "stopping"
"""The pause the engine itself makes when it stops: the stop alert says it instead."""
_DOWN = frozenset({"disconnected", "reconnecting"})
_DAY_NS = 86_400 * NANOS_PER_SECOND


@dataclass
class RuleConfig:
    """The rules' thresholds, in mmframe units (price units for money, ns for time)."""

    loss_thresholds: Sequence[int] = ()
    disconnect_ns: int = 30 * NANOS_PER_SECOND
    storm_count: int = 5
    storm_window_ns: int = 10 * NANOS_PER_SECOND
    daily_hour: int = 0


@dataclass
class _Tally:
    """Counters since a point in time (the run's start, the last daily summary)."""

    fills: int = 0
    contracts: int = 0
    rejects: int = 0
    by_code: collections.Counter[str] = field(default_factory=collections.Counter)


class AlertRules:
    """Turns events into `Alert`s; `tick` reports what time alone makes due (a long disconnect)."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._thresholds = sorted(config.loss_thresholds)
        self._crossed: set[int] = set()
        self._down_since: int | None = None
        self._down_detail = ""
        self._down_reported = False
        self._rejects: dict[str, collections.deque[OrderRejected]] = collections.defaultdict(collections.deque)
        self._run = _Tally()
        self._day = _Tally()
        self._last_mark: PortfolioMarked | None = None
        self._next_daily_ns: int | None = None
        self._markets: tuple[str, ...] = ()

    def alerts(self, events: Iterable[Event]) -> list[Alert]:
        """The alerts ``events`` raise, in order."""
        out: list[Alert] = []
        for event in events:
            out.extend(self._one(event))
        return out

    def tick(self, now_ns: int) -> list[Alert]:
        """Alerts due by time alone: a venue down for longer than ``disconnect_ns``."""
        if self._down_since is None or self._down_reported or now_ns - self._down_since < self.config.disconnect_ns:
            return []
        self._down_reported = True
        seconds = (now_ns - self._down_since) // NANOS_PER_SECOND
        detail = f": {self._down_detail}" if self._down_detail else ""
        return [Alert("disconnect", f"venue not connected for {seconds} s{detail}", now_ns, WARNING,
                      details={"seconds": seconds, "detail": self._down_detail})]

    def _one(self, event: Event) -> list[Alert]:
        if isinstance(event, OrderRejected):
            return self._reject(event)
        if isinstance(event, OrderFilled):
            return self._fill(event)
        if isinstance(event, PortfolioMarked):
            return self._mark(event)
        if isinstance(event, VenueStatusChanged):
            return self._venue(event)
        if isinstance(event, TradingHalted):
            return [Alert("halt", f"trading halted: {event.reason}", event.ts_ns, FAILURE,
                          details={"reason": event.reason})]
        if isinstance(event, TradingPaused):
            if event.reason == STOPPING_REASON:
                return []
            return [Alert("pause", f"trading paused: {event.reason or 'operator'}", event.ts_ns, WARNING,
                          details={"reason": event.reason})]
        if isinstance(event, TradingResumed):
            return [Alert("pause", f"trading resumed: {event.reason or 'operator'}", event.ts_ns, INFO,
                          details={"reason": event.reason, "resumed": True}, variant="resumed")]
        if isinstance(event, OrderGroupTriggered):
            return [Alert("order_group", f"order group {event.order_group_id} triggered {event.detail}".strip(),
                          event.ts_ns, FAILURE, details={"order_group_id": event.order_group_id})]
        if isinstance(event, RunStarted):
            self._markets = tuple(event.markets)
            shown = ", ".join(event.markets[:10]) + (f" +{len(event.markets) - 10} more" if len(event.markets) > 10 else "")
            return [Alert("start", f"started on {len(event.markets)} market(s): {shown}", event.ts_ns, INFO,
                          details={"markets": list(event.markets)})]
        if isinstance(event, RunStopped):
            return [self._stop(event)]
        if event.kind == QUARANTINE_EVENT:
            ticker = str(getattr(event, "ticker", "") or "")
            reason = str(getattr(event, "reason", "") or getattr(event, "detail", "") or "")
            return [Alert("quarantine", f"market {ticker} quarantined{': ' + reason if reason else ''}", event.ts_ns,
                          WARNING, ticker or None, {"reason": reason})]
        return []

    def _reject(self, event: OrderRejected) -> list[Alert]:
        for tally in (self._run, self._day):
            tally.rejects += 1
            tally.by_code[str(event.code)] += 1
        window = self._rejects[event.ticker]
        window.append(event)
        while window and event.ts_ns - window[0].ts_ns > self.config.storm_window_ns:
            window.popleft()
        if len(window) < self.config.storm_count:
            return []
        codes = collections.Counter(str(r.code) for r in window)
        seconds = self.config.storm_window_ns / NANOS_PER_SECOND
        by_code = ", ".join(f"{code} ×{n}" for code, n in codes.most_common())
        message = (f"reject storm on {event.ticker}: {len(window)} rejected in {seconds:g} s ({by_code}); "
                   f"last: {event.action} {event.code} {event.message}".rstrip())
        return [Alert("reject", message, event.ts_ns, WARNING, event.ticker, {"by_code": dict(codes)})]

    def _fill(self, event: OrderFilled) -> list[Alert]:
        for tally in (self._run, self._day):
            tally.fills += 1
            tally.contracts += event.count
        return [Alert("fill", f"fill {event.ticker} {event.side.value} {format_count(event.count)} @ "
                      f"{format_price(event.price)} (fee {format_price(event.fee)})", event.ts_ns, INFO, event.ticker,
                      {"price": format_price(event.price), "count": format_count(event.count)})]

    def _mark(self, event: PortfolioMarked) -> list[Alert]:
        self._last_mark = event
        out = []
        net = event.day_net_pnl
        for threshold in self._thresholds:
            if net <= -threshold and threshold not in self._crossed:
                self._crossed.add(threshold)
                out.append(Alert("loss", f"today's net PnL ${format_price(net)} crossed -${format_price(threshold)}",
                                 event.ts_ns, FAILURE, details={"net_pnl": format_price(net),
                                                                "threshold": format_price(threshold)},
                                 variant=str(threshold)))
        out.extend(self._daily(event))
        return out

    def _venue(self, event: VenueStatusChanged) -> list[Alert]:
        if event.status in _DOWN:
            if self._down_since is None:
                self._down_since = event.ts_ns
            self._down_detail = event.detail or event.status
            return []
        if event.status != "connected" or self._down_since is None:
            return []
        was_reported, since = self._down_reported, self._down_since
        self._down_since, self._down_reported, self._down_detail = None, False, ""
        if not was_reported:
            return []  # a short blip: never worth a message
        seconds = (event.ts_ns - since) // NANOS_PER_SECOND
        return [Alert("disconnect", f"venue connected again after {seconds} s", event.ts_ns, SUCCESS,
                      details={"seconds": seconds, "reconnected": True}, variant="reconnected")]

    def _daily(self, event: PortfolioMarked) -> list[Alert]:
        if self._next_daily_ns is None:
            self._next_daily_ns = next_daily_ns(event.ts_ns, self.config.daily_hour)
            return []
        if event.ts_ns < self._next_daily_ns:
            return []
        until = dt.datetime.fromtimestamp(self._next_daily_ns // NANOS_PER_SECOND, dt.UTC).strftime("%Y-%m-%d %H:%M")
        self._next_daily_ns = next_daily_ns(event.ts_ns, self.config.daily_hour)
        tally, self._day = self._day, _Tally()
        return [Alert("daily", f"daily summary until {until} UTC: " + summary_text(event, tally), event.ts_ns, INFO)]

    def _stop(self, event: RunStopped) -> Alert:
        severity = FAILURE if event.error else SUCCESS
        head = "stopped with an error" if event.error else "stopped"
        body = summary_text(self._last_mark, self._run) if self._last_mark is not None else "no PnL marked"
        return Alert("stop", f"{head} ({event.reason}): {body}", event.ts_ns, severity,
                     details={"reason": event.reason, "error": event.error})


def summary_text(mark: PortfolioMarked | None, tally: _Tally) -> str:
    """Net PnL (and its parts), fills, rejects and open positions, in one line."""
    parts = []
    if mark is not None:
        parts.append(f"net ${format_price(mark.day_net_pnl)} (realised ${format_price(mark.realised_pnl)}, "
                     f"unrealised ${format_price(mark.unrealised_pnl)}, fees ${format_price(mark.fees)})")
    parts.append(f"fills {tally.fills} ({format_count(tally.contracts)} contracts)")
    rejects = f"rejects {tally.rejects}"
    if tally.by_code:
        rejects += " (" + ", ".join(f"{c} ×{n}" for c, n in tally.by_code.most_common(3)) + ")"
    parts.append(rejects)
    if mark is not None:
        open_positions = [p for p in mark.positions if p.position]
        parts.append("positions: " + (", ".join(f"{p.ticker} {format_count(p.position)}" for p in open_positions[:10])
                                      or "flat"))
    return "; ".join(parts)


def next_daily_ns(now_ns: int, hour: int) -> int:
    """The first ``hour``:00 UTC strictly after ``now_ns``."""
    day_start = now_ns - now_ns % _DAY_NS
    at = day_start + hour * 3600 * NANOS_PER_SECOND
    return at if at > now_ns else at + _DAY_NS
