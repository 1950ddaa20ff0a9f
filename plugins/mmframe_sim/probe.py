"""A naive reference maker driven in-process, and scoring of an account's fills against the truth.

`FixedQuoter` quotes a fixed distance around the book's mid (excluding its own orders) and ignores
news: the yardstick a scenario must be able to beat. `run_probe` drives an exchange on a manual
clock (no server, no wall clock) with it for a scenario and seed and returns its `ProbeResult`: PnL
after fees and settlement from the account's cash, the share of its volume each counterparty class
took, and markouts against the true fair value. Tests and ``bench/bench_news.py`` use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from mmframe.api import NANOS_PER_SECOND, TestClock
from mmframe_sim.engine import Exchange, ExchangeError, MarketStatus, OrderRequest, Side, TimeInForce
from mmframe_sim.money import ONE, Price
from mmframe_sim.participants import COUNTERPARTY_CLASS
from mmframe_sim.scenario import Scenario
from mmframe_sim.truth import TaggedFill, TruthLog

PROBE_USER = "probe"
MARKOUT_SECONDS = (1, 10, 60)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe account made. Money in price units (1/10,000 $); counts in contracts."""

    seed: int
    pnl: Price
    """Cash at the end minus cash at the start: spread, adverse selection, fees and settlement."""
    fees: Price
    contracts: float
    by_class: dict[str, float]
    """Contracts filled per counterparty class."""
    markouts_cents: dict[int, float]
    """Volume-weighted markout per contract at each horizon, cents: (fair(t+h) - price) for a buy,
    (price - fair(t+h)) for a sell; negative means the fill was adversely selected."""
    edge_cents: float
    """Volume-weighted price vs fair value at the fill itself (the spread earned), cents."""
    unsettled_markets: int

    def share(self, counterparty_class: str) -> float:
        return self.by_class.get(counterparty_class, 0.0) / self.contracts if self.contracts else 0.0


class FixedQuoter:
    """Quotes ``size`` contracts at mid -/+ ``half_spread`` (price units) in each market, re-placed
    every call of `requote`; the mid is the book's without its own orders. Never reacts to news; stops
    the side that would take its position past ``max_position`` contracts."""

    def __init__(self, exchange: Exchange, user: str, tickers: Sequence[str], *, half_spread: Price = 200,
                 size: int = 10, max_position: int = 20) -> None:
        self._x = exchange
        self.user = user
        self.tickers = list(tickers)
        self.half_spread = half_spread
        self.count = size * 100
        self.max_position = max_position * 100

    def requote(self) -> None:
        x = self._x
        x.cancel_all(self.user)
        held = {p.ticker: p.position for p in x.positions(self.user)}
        for ticker in self.tickers:
            if x.market(ticker).status is not MarketStatus.ACTIVE:
                continue
            book = x.orderbook(ticker, depth=1)
            if not book.yes or not book.no:
                continue
            mid2 = book.yes[-1][0] + ONE - book.no[-1][0]
            for side, price in ((Side.BID, (mid2 - 2 * self.half_spread) // 2),
                                (Side.ASK, -((-mid2 - 2 * self.half_spread) // 2))):
                after = held.get(ticker, 0) + (self.count if side is Side.BID else -self.count)
                if 0 < price < ONE and abs(after) <= self.max_position:
                    self._place(ticker, side, price)

    def _place(self, ticker: str, side: Side, price: Price) -> None:
        # off-grid or would-cross quotes are refused: a naive quoter just skips that side
        with contextlib.suppress(ExchangeError):
            self._x.create_order(self.user, OrderRequest(ticker, side, price, self.count,
                                                          TimeInForce.GOOD_TILL_CANCELED, post_only=True))


def markout(fill: TaggedFill, truth: TruthLog, seconds: float) -> float:
    """Per-contract markout of ``fill`` at ``seconds`` after it, in probability units."""
    later = truth.fair_at(fill.ticker, fill.ts_ns + int(seconds * NANOS_PER_SECOND))
    fair = fill.fair if later is None else later
    sign = 1.0 if fill.side is Side.BID else -1.0
    return sign * (fair - fill.price / ONE)


def score(exchange: Exchange, user: str, start_cash: Price, seed: int) -> ProbeResult:
    """Score ``user``'s fills so far from the exchange's ground truth."""
    truth = exchange.truth
    fills = truth.fills(COUNTERPARTY_CLASS, users={user})
    total = sum(f.count for f in fills) / 100
    by_class: dict[str, float] = {}
    for f in fills:
        by_class[f.counterparty_class] = by_class.get(f.counterparty_class, 0.0) + f.count / 100

    def weighted(value: object) -> float:
        if not total:
            return 0.0
        return 100 * sum(value(f) * f.count / 100 for f in fills) / total  # type: ignore[operator]

    balance = exchange.balance(user)
    unsettled = sum(1 for m in exchange.markets() if m.status is not MarketStatus.FINALIZED)
    return ProbeResult(
        seed=seed,
        pnl=balance.available + balance.locked - start_cash,
        fees=sum(f.fee for f in exchange.fills(user)),
        contracts=total,
        by_class=by_class,
        markouts_cents={h: weighted(lambda f, h=h: markout(f, truth, h)) for h in MARKOUT_SECONDS},
        edge_cents=weighted(lambda f: markout(f, truth, 0)),
        unsettled_markets=unsettled,
    )


def run_probe(scenario: Scenario, seed: int, *, hours: float = 2.0, half_spread: Price = 200, size: int = 10,
              max_position: int = 20, requote_seconds: float = 1.0,
              start_cash: Price = 10_000_000 * 10_000) -> ProbeResult:
    """Run ``scenario`` (its markets closing after ``hours``) with a `FixedQuoter` on a manual clock
    until every market has settled, and score the quoter."""
    scenario = dataclasses.replace(
        scenario,
        duration_minutes=hours * 60,
        markets=tuple(dataclasses.replace(m, close_offset_seconds=None) for m in scenario.markets),
    )
    clock = TestClock()
    exchange = scenario.build(clock, seed=seed)
    exchange.open_account(PROBE_USER, balance=start_cash)
    tickers = [m.ticker for m in exchange.markets()]
    quoter = FixedQuoter(exchange, PROBE_USER, tickers, half_spread=half_spread, size=size,
                         max_position=max_position)
    settle_s = max(m.spec.settlement_timer_seconds for m in scenario.markets)
    step_ns = int(requote_seconds * NANOS_PER_SECOND)
    end = clock.now_ns() + int((hours * 3600 + settle_s + 5) * NANOS_PER_SECOND)
    while clock.now_ns() < end:
        clock.set(clock.now_ns() + step_ns)
        exchange.advance()
        quoter.requote()
    return score(exchange, PROBE_USER, start_cash, seed)
