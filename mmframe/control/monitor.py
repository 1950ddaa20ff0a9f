"""Counters the engine does not keep itself, fed synchronously by every event (`Engine.add_observer`).

Everything here is O(1) per event: the control plane reads it at scrape time.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmframe.domain.actions import CreateOrder
from mmframe.domain.events import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    Event,
    OrderActionsSubmitted,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    PortfolioMarked,
    RiskVerdictIssued,
    TradeReported,
    VenueStatusChanged,
)
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide

RATE_LIMIT_CODES = frozenset({"429", "too_many_requests", "rate_limited"})
RECONNECT_STATUSES = frozenset({"reconnecting"})
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
)
HISTORY_POINTS = 3600
VERDICT_GROUPS = 500
"""Distinct (market, rule, verdict) groups kept; the least recently seen goes first."""

_RESTING = frozenset({OrderStatus.RESTING, OrderStatus.PARTIALLY_FILLED})
_HOT_AND_IGNORED: frozenset[type[Event]] = frozenset({BookDeltaReceived, BookSnapshotReceived, TradeReported})


class QuoteUptime:
    """Per market, how long a two-sided quote (a resting bid and a resting ask) was on the venue.

    The state is re-evaluated whenever one of the market's orders changes; the time since the last
    change is credited to the state that held during it, so the share is exact, not sampled.
    """

    def __init__(self, now_ns: Callable[[], int], working: Callable[[str], Sequence[WorkingOrder]]) -> None:
        self._now = now_ns
        self._working = working
        self._since: dict[str, int] = {}
        self._two_sided: dict[str, bool] = {}
        self.quoted_ns: collections.Counter[str] = collections.Counter()
        self.observed_ns: collections.Counter[str] = collections.Counter()

    def track(self, ticker: str) -> None:
        """Start the clock for ``ticker`` (called for every market at start)."""
        if ticker not in self._since:
            self._since[ticker] = self._now()
            self._two_sided[ticker] = False

    def changed(self, ticker: str) -> None:
        """One of ``ticker``'s orders changed: close the running interval, re-read the state."""
        self.track(ticker)
        self._credit(ticker, self._now())
        sides = {o.side for o in self._working(ticker) if o.status in _RESTING and o.remaining > 0}
        self._two_sided[ticker] = BookSide.BID in sides and BookSide.ASK in sides

    def flush(self) -> None:
        """Credit every market up to now (before reading the counters)."""
        now = self._now()
        for ticker in self._since:
            self._credit(ticker, now)

    def ratio(self, ticker: str) -> float:
        """Share of observed time with a two-sided quote resting (0 before any time passed)."""
        observed = self.observed_ns[ticker]
        return self.quoted_ns[ticker] / observed if observed else 0.0

    def tickers(self) -> list[str]:
        return sorted(self._since)

    def _credit(self, ticker: str, now: int) -> None:
        elapsed = max(0, now - self._since[ticker])
        self.observed_ns[ticker] += elapsed
        if self._two_sided[ticker]:
            self.quoted_ns[ticker] += elapsed
        self._since[ticker] = now


class LatencyHistogram:
    """A cumulative histogram of event-to-order latencies, fed from the core's sample list.

    The engine trims old samples and counts how many it dropped, so every sample is counted once.
    """

    def __init__(self, buckets_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.bounds_ns = [int(b * 1e9) for b in buckets_s]
        self.counts = [0] * (len(self.bounds_ns) + 1)
        self.sum_ns = 0
        self.count = 0
        self._consumed = 0

    def consume(self, samples: Sequence[int], dropped: int) -> None:
        """Add the samples not yet seen; ``dropped`` is how many the owner trimmed so far."""
        total = dropped + len(samples)
        new = total - self._consumed
        if new <= 0:
            return
        fresh = samples[-new:] if new <= len(samples) else samples
        for sample in fresh:
            self.counts[bisect.bisect_left(self.bounds_ns, sample)] += 1
            self.sum_ns += sample
        self.count += len(fresh)
        self._consumed = total

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs in Prometheus form, ``+Inf`` last."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip(self.bounds_ns, self.counts, strict=False):
            running += count
            out.append((repr(bound / 1e9), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


@dataclass
class VerdictGroup:
    """Every verdict of one rule, of one kind, in one market: how many, since when, the last reason."""

    ticker: str
    rule: str
    verdict: str
    count: int
    first_ns: int
    last_ns: int
    reason: str


class VerdictGroups:
    """Repeated verdicts folded into one line each (a rule adjusting every requote is one group with
    a count, not a panel full of the same row). O(1) per verdict."""

    def __init__(self, limit: int = VERDICT_GROUPS) -> None:
        self._limit = limit
        self._groups: collections.OrderedDict[tuple[str, str, str], VerdictGroup] = collections.OrderedDict()

    def add(self, event: RiskVerdictIssued) -> None:
        kind = event.verdict.kind.value
        key = (event.ticker, event.rule, kind)
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = VerdictGroup(event.ticker, event.rule, kind, 1, event.ts_ns, event.ts_ns,
                                             event.verdict.reason)
            if len(self._groups) > self._limit:
                self._groups.popitem(last=False)
            return
        group.count += 1
        group.last_ns = event.ts_ns
        group.reason = event.verdict.reason
        self._groups.move_to_end(key)

    def latest(self, n: int) -> list[VerdictGroup]:
        """The ``n`` groups seen most recently, newest first."""
        return list(reversed(self._groups.values()))[:n]


@dataclass(frozen=True)
class PnlPoint:
    """One point of the PnL chart, price units."""

    ts_ns: int
    net: int
    realised: int
    unrealised: int
    fees: int


class ControlMonitor:
    """Event-fed counters for ``/metrics``, ``/state`` and the dashboard's PnL chart."""

    def __init__(self, now_ns: Callable[[], int], working: Callable[[str], Sequence[WorkingOrder]]) -> None:
        self.uptime = QuoteUptime(now_ns, working)
        self.latency = LatencyHistogram()
        self.rejects_by_code: collections.Counter[str] = collections.Counter()
        self.rate_limited = 0
        self.reconnects = 0
        self.disconnects = 0
        self.book_invalidations = 0
        self.fills_by_market: collections.Counter[str] = collections.Counter()
        self.filled_by_market: collections.Counter[str] = collections.Counter()
        self.placed_count = 0
        self.filled_count = 0
        self.history: collections.deque[PnlPoint] = collections.deque(maxlen=HISTORY_POINTS)
        self.verdicts = VerdictGroups()

    def observe(self, event: Event) -> None:
        """Called with every event, on the quoting path: market data leaves after one set lookup."""
        if type(event) in _HOT_AND_IGNORED:
            return
        if isinstance(event, OrderEvent):
            self.uptime.changed(event.ticker)
            if isinstance(event, OrderFilled):
                self.fills_by_market[event.ticker] += 1
                self.filled_by_market[event.ticker] += event.count
                self.filled_count += event.count
            elif isinstance(event, OrderRejected):
                code = str(event.code).lower()
                self.rejects_by_code[code] += 1
                if code in RATE_LIMIT_CODES:
                    self.rate_limited += 1
        elif isinstance(event, OrderActionsSubmitted):
            for action in event.actions:
                if isinstance(action, CreateOrder):
                    self.placed_count += action.size
                self.uptime.changed(action.ticker)
        elif isinstance(event, BookInvalidated):
            self.book_invalidations += 1
        elif isinstance(event, VenueStatusChanged):
            status = event.status.lower()
            if status in RECONNECT_STATUSES:
                self.reconnects += 1
            elif status == "disconnected":
                self.disconnects += 1
        elif isinstance(event, RiskVerdictIssued):
            self.verdicts.add(event)
        elif isinstance(event, PortfolioMarked):
            self._record_pnl(event)

    def _record_pnl(self, event: PortfolioMarked) -> None:
        point = PnlPoint(event.ts_ns, event.day_net_pnl, event.realised_pnl, event.unrealised_pnl, event.fees)
        if self.history and self.history[-1].ts_ns == point.ts_ns:
            self.history[-1] = point
        else:
            self.history.append(point)

    @property
    def fill_ratio(self) -> float:
        """Contracts filled per contract placed (0 before anything was placed)."""
        return self.filled_count / self.placed_count if self.placed_count else 0.0
