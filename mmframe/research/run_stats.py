"""What one backtest run did, measured while it runs: equity and inventory over time, drawdown,
per-step PnL, markouts, spread captured, fill ratio and quote uptime.

`RunRecorder` is driven by the backtest loop (`mmframe.runtime.backtest`): ``step`` at every new
simulated moment (before that moment's events), ``filled`` for each of our fills, ``offered`` for
each batch of order actions. All money is accumulated exactly, in integers (price units ×
count units where a product is needed); `RunStats` turns the totals into dollars and contracts as
`Fraction`s, and only the cross-run summary (`mmframe.research.summary`) uses floats.

Definitions (a trader reads these in the report, so they are spelled out once, here):

- **equity**: realised + unrealised (at the mid) − fees, the portfolio's net PnL.
- **per-step PnL**: the change of equity between consecutive market moments (the backtest's steps:
  the paper's ``dt`` for `as2008-midprice`, each recorded timestamp for a replay); the
  **Sharpe-like ratio** is their mean over their sample standard deviation (not annualised).
- **max drawdown**: the largest fall of equity from its running peak.
- **inventory**: time-weighted mean signed and absolute position (summed over markets), the largest
  ``|q|``, and the share of time some market's ``|q|`` was at or beyond ``inventory_limit`` (the
  pipeline's `max-position` ``per_market`` limit; none when it has no such rule).
- **markout at h**: for each filled contract, the mid h seconds after the fill minus the price paid
  (a buy) or the price received minus that mid (a sell); positive is good for us. Fills within h of
  the run's end have no markout at h and are not counted at h. **Spread captured** is the markout
  at 0 (against the mid when the fill happened).
- **fill ratio**: contracts filled ÷ contracts offered (the sizes of creates and amends).
- **quote uptime**: the share of time a market had both a bid and an ask of ours working, averaged
  over the pipeline's markets.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from mmframe.clock import NANOS_PER_SECOND
from mmframe.domain.actions import AmendOrder, CreateOrder, OrderAction
from mmframe.domain.events import OrderFilled
from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE, Count, Price
from mmframe.domain.quote import BookSide

DEFAULT_HORIZONS_S: tuple[Fraction, ...] = (Fraction(1), Fraction(10), Fraction(60))
"""Markout horizons (seconds) when the caller names none."""

CURVE_POINTS = 2_000
"""Points kept of a sample run's equity and inventory curves (evenly thinned beyond that)."""


@dataclass(frozen=True, slots=True)
class Trade:
    """One of our fills, for the report's trade list. Price units and count units."""

    ts_ns: int
    ticker: str
    side: BookSide
    price: Price
    count: Count
    fee: Price
    mid: Price | None
    """The market's mid when the fill happened (None when the book had no mid)."""


@dataclass(frozen=True, slots=True)
class Markout:
    """Markouts at one horizon: the sum over filled contracts (price × count units) and how many
    contracts were marked (count units)."""

    horizon_s: Fraction
    total: int
    contracts: Count

    @property
    def per_contract(self) -> Fraction | None:
        """Dollars per contract, None when no fill was marked at this horizon."""
        if not self.contracts:
            return None
        return Fraction(self.total, self.contracts * PRICE_SCALE)


@dataclass(frozen=True)
class RunStats:
    """The measurements of one run (see the module docstring for the definitions)."""

    duration_ns: int
    steps: int
    step_pnl_sum: int
    step_pnl_sum_sq: int
    max_drawdown: Price
    inventory_mean: Fraction
    """Time-weighted mean signed position, count units."""
    abs_inventory_mean: Fraction
    max_abs_inventory: Count
    time_at_limit: Fraction | None
    offered: Count
    filled: Count
    uptime: Fraction | None
    markouts: tuple[Markout, ...]
    """Horizon 0 first (spread captured), then the requested horizons."""
    equity_curve: tuple[tuple[int, Price], ...] = ()
    inventory_curve: tuple[tuple[int, Count], ...] = ()
    trades: tuple[Trade, ...] = ()

    @property
    def sharpe(self) -> float | None:
        """Mean per-step PnL over its sample standard deviation; None with under two steps or no
        variation."""
        n = self.steps
        if n < 2:
            return None
        mean = Fraction(self.step_pnl_sum, n)
        variance = (Fraction(self.step_pnl_sum_sq) - n * mean * mean) / (n - 1)
        if variance <= 0:
            return None
        return float(mean) / math.sqrt(variance)

    @property
    def fill_ratio(self) -> Fraction | None:
        return Fraction(self.filled, self.offered) if self.offered else None

    @property
    def spread_captured(self) -> Fraction | None:
        """Dollars per contract against the mid at the fill (the markout at 0)."""
        return self.markouts[0].per_contract if self.markouts else None


@dataclass
class _Pending:
    """A fill waiting for the mid ``horizon`` after it."""

    due_ns: int
    ticker: str
    signed_count: int
    """+count for a buy, −count for a sell."""
    price: Price
    horizon_index: int


@dataclass
class RunRecorder:
    """Measures one backtest run as it goes (see the module docstring).

    ``equity``, ``positions``, ``mid`` and ``two_sided`` read the run's quoting core; the recorder
    calls them at every step. ``keep_curves`` keeps the equity/inventory curves and the trade list
    (the report's sample runs); otherwise only the totals are kept.
    """

    equity: Callable[[], Price]
    positions: Callable[[], Iterable[Count]]
    """Our signed position in each market, count units."""
    mid: Callable[[str], Price | None]
    two_sided: Callable[[str], bool]
    markets: Sequence[str]
    horizons_s: Sequence[Fraction] = DEFAULT_HORIZONS_S
    inventory_limit: Count | None = None
    keep_curves: bool = False

    _start_ns: int | None = None
    _last_ns: int = 0
    _last_equity: Price = 0
    _peak: Price = 0
    _max_drawdown: Price = 0
    _steps: int = 0
    _pnl_sum: int = 0
    _pnl_sum_sq: int = 0
    _inv_area: int = 0
    _abs_inv_area: int = 0
    _max_abs_inv: Count = 0
    _at_limit_ns: int = 0
    _up_ns: int = 0
    _inventory: Count = 0
    _largest: Count = 0
    _up: int = 0
    _offered: Count = 0
    _filled: Count = 0
    _pending: list[_Pending] = field(default_factory=list)
    _mark_total: list[int] = field(default_factory=list)
    _mark_count: list[int] = field(default_factory=list)
    _equity_curve: list[tuple[int, Price]] = field(default_factory=list)
    _inventory_curve: list[tuple[int, Count]] = field(default_factory=list)
    _trades: list[Trade] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._horizons_ns = [0] + [int(h * NANOS_PER_SECOND) for h in self.horizons_s]
        self._mark_total = [0] * len(self._horizons_ns)
        self._mark_count = [0] * len(self._horizons_ns)

    # --- driven by the backtest loop ---------------------------------------------------------------

    def step(self, now_ns: int) -> None:
        """Simulated time reached ``now_ns``: account for the interval since the last step (the
        state it had), then sample equity and inventory now."""
        if self._start_ns is None:
            self._start_ns = self._last_ns = now_ns
            self._sample(now_ns, first=True)
            return
        if now_ns <= self._last_ns:
            return
        dt = now_ns - self._last_ns
        self._inv_area += self._inventory * dt
        self._abs_inv_area += abs(self._inventory) * dt
        if self.inventory_limit is not None and self._largest >= self.inventory_limit:
            self._at_limit_ns += dt
        self._up_ns += self._up * dt
        self._last_ns = now_ns
        self._resolve(now_ns)
        self._sample(now_ns, first=False)

    def settle(self) -> None:
        """After the moment's events and quotes: the state that holds until the next step."""
        positions = list(self.positions())
        self._inventory = sum(positions)
        self._largest = max((abs(q) for q in positions), default=0)
        self._max_abs_inv = max(self._max_abs_inv, abs(self._inventory))
        self._up = sum(1 for ticker in self.markets if self.two_sided(ticker))

    def offered(self, actions: Iterable[OrderAction]) -> None:
        """Order actions handed to the executor: creates and amends offer their size."""
        for action in actions:
            if isinstance(action, CreateOrder | AmendOrder):
                self._offered += action.size

    def filled(self, fill: OrderFilled) -> None:
        """One of our fills: its markouts become due at each horizon."""
        self._filled += fill.count
        signed = fill.count if fill.side is BookSide.BID else -fill.count
        mid = self.mid(fill.ticker)
        if mid is not None:
            self._mark(0, signed, fill.price, mid)
        for index, horizon in enumerate(self._horizons_ns[1:], start=1):
            self._pending.append(_Pending(fill.ts_ns + horizon, fill.ticker, signed, fill.price, index))
        if self.keep_curves:
            self._trades.append(Trade(fill.ts_ns, fill.ticker, fill.side, fill.price, fill.count, fill.fee, mid))

    def end(self) -> None:
        """The run's last moment is over: sample equity once more (its events' PnL is the last step)."""
        if self._start_ns is not None:
            self._resolve(self._last_ns)
            self._sample(self._last_ns, first=False)

    def finish(self) -> RunStats:
        """The run is over: its stats (fills still waiting for a horizon are not marked)."""
        duration = 0 if self._start_ns is None else self._last_ns - self._start_ns
        n_markets = max(len(self.markets), 1)
        return RunStats(
            duration_ns=duration,
            steps=self._steps,
            step_pnl_sum=self._pnl_sum,
            step_pnl_sum_sq=self._pnl_sum_sq,
            max_drawdown=self._max_drawdown,
            inventory_mean=Fraction(self._inv_area, duration) if duration else Fraction(self._inventory),
            abs_inventory_mean=Fraction(self._abs_inv_area, duration) if duration else Fraction(abs(self._inventory)),
            max_abs_inventory=self._max_abs_inv,
            time_at_limit=(Fraction(self._at_limit_ns, duration) if duration else None)
            if self.inventory_limit is not None else None,
            offered=self._offered,
            filled=self._filled,
            uptime=Fraction(self._up_ns, duration * n_markets) if duration else None,
            markouts=tuple(
                Markout(Fraction(h, NANOS_PER_SECOND), total, count)
                for h, total, count in zip(self._horizons_ns, self._mark_total, self._mark_count, strict=True)
            ),
            equity_curve=_thinned(self._equity_curve),
            inventory_curve=_thinned(self._inventory_curve),
            trades=tuple(self._trades),
        )

    # --- internals ---------------------------------------------------------------------------------

    def _sample(self, now_ns: int, *, first: bool) -> None:
        equity = self.equity()
        if first:
            self._peak = equity
        else:
            change = equity - self._last_equity
            self._steps += 1
            self._pnl_sum += change
            self._pnl_sum_sq += change * change
            self._peak = max(self._peak, equity)
        self._max_drawdown = max(self._max_drawdown, self._peak - equity)
        self._last_equity = equity
        if self.keep_curves:
            self._equity_curve.append((now_ns, equity))
            self._inventory_curve.append((now_ns, self._inventory))

    def _resolve(self, now_ns: int) -> None:
        if not self._pending:
            return
        waiting: list[_Pending] = []
        for pending in self._pending:
            if pending.due_ns > now_ns:
                waiting.append(pending)
                continue
            mid = self.mid(pending.ticker)
            if mid is not None:
                self._mark(pending.horizon_index, pending.signed_count, pending.price, mid)
        self._pending = waiting

    def _mark(self, index: int, signed_count: int, price: Price, mid: Price) -> None:
        self._mark_total[index] += (mid - price) * signed_count
        self._mark_count[index] += abs(signed_count)


def _thinned(points: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """At most `CURVE_POINTS` points, evenly spaced by index, first and last kept."""
    if len(points) <= CURVE_POINTS:
        return tuple(points)
    last = len(points) - 1
    indexes = sorted({round(i * last / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS)})
    return tuple(points[i] for i in indexes)


def markout_at(markouts: Sequence[Markout], horizon_s: Fraction) -> Markout | None:
    """The markout at ``horizon_s`` (None when it was not measured)."""
    keys = [m.horizon_s for m in markouts]
    i = bisect.bisect_left(keys, horizon_s)
    return markouts[i] if i < len(keys) and keys[i] == horizon_s else None


def inventory_limit_of(risk: Iterable[tuple[str, Mapping[str, object]]]) -> Count | None:
    """The tightest per-market position limit of a pipeline's `max-position` rules, count units (None
    when the pipeline has none)."""
    limits = []
    for name, config in risk:
        if name != "max-position":
            continue
        value = config.get("per_market", 100)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            limits.append(round(Fraction(str(value)) * COUNT_SCALE))
    return min(limits) if limits else None
