"""The intent scheduler: what waits for the write budget is a market's latest intent, never a stale action.

The budget here is a token bucket on a test clock (the scheduler's input); the quoting core, the
reconciler, the tracker and the gate are the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import (
    AmendOrder,
    BookSide,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    Level,
    MarketView,
    OrderAccepted,
    OrderAction,
    OrderFilled,
    Quote,
    TestClock,
)
from mmframe.runtime.gate import GateState
from mmframe.runtime.quoting import QuotingCore
from mmframe.runtime.scheduler import MISSING_QUOTE_SCORE, IntentScheduler

NS = 1_000_000_000


class Bucket:
    """Kalshi's write bucket (API.md §8): ``rate`` tokens/s up to ``capacity``; creates and amends
    cost 10, cancels 2."""

    def __init__(self, clock: TestClock, *, rate: int = 100, capacity: int = 100, start: int | None = None) -> None:
        self.clock = clock
        self.rate = rate
        self.capacity = capacity
        self._tokens_ns = (capacity if start is None else start) * NS
        self._at = clock.monotonic_ns()

    def _refill(self) -> None:
        now = self.clock.monotonic_ns()
        self._tokens_ns = min(self.capacity * NS, self._tokens_ns + (now - self._at) * self.rate)
        self._at = now

    def tokens(self) -> int:
        self._refill()
        return self._tokens_ns // NS

    def take(self, cost: int) -> None:
        self._refill()
        assert self._tokens_ns >= cost * NS, "the scheduler handed over a write the budget did not cover"
        self._tokens_ns -= cost * NS

    def cost(self, action: OrderAction) -> int:
        return 2 if isinstance(action, CancelOrder) else 10

    def seconds_until(self, tokens: int) -> float:
        missing = tokens * NS - (self.tokens() * NS)
        return max(0.0, missing / NS / self.rate)

    @property
    def refill_per_second(self) -> int:
        return self.rate


class Quoter:
    """Quotes ``mid`` ± 2¢ (one level each side) per market; a market can be told to quote nothing."""

    def __init__(self) -> None:
        self.mid: dict[str, int] = {}

    def quote(self, market: MarketView) -> Quote:
        mid = self.mid.get(market.ticker)
        if mid is None:
            return Quote.empty(market.ticker)
        return Quote(market.ticker, (Level(mid - 200, 100),), (Level(mid + 200, 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


class Harness:
    def __init__(self, markets: int, *, tokens: int | None = None) -> None:
        self.clock = TestClock()
        self.quoter = Quoter()
        self.core = QuotingCore(
            strategy=self.quoter, rules=[], now_ns=self.clock.now_ns, monotonic_ns=self.clock.monotonic_ns,
            emit=lambda e: None,
        )
        self.tickers = [f"M{i}" for i in range(markets)]
        for ticker in self.tickers:
            self.core.market(ticker)
        self.bucket = Bucket(self.clock, start=tokens)
        self.sent: list[tuple[int, OrderAction]] = []
        self.scheduler = IntentScheduler(self.core, self.bucket, self._send, self.clock.monotonic_ns)
        self._accepted = 0

    def _send(self, actions: Sequence[OrderAction]) -> None:
        for action in actions:
            assert self.core.gate.allows(action), f"{action} handed over through a closed gate"
            if isinstance(action, CreateOrder | AmendOrder):
                self.bucket.take(self.bucket.cost(action))
            # cancels go out whatever the budget: the venue client serves them first
            self.sent.append((self.clock.monotonic_ns(), action))

    def ack_all(self) -> None:
        """The venue accepts every create in flight and applies every cancel and amend."""
        for order in self.core.tracker.live():
            if order.status.value == "pending_new":
                self._accepted += 1
                self.core.apply(
                    OrderAccepted(ts_ns=0, client_order_id=order.client_order_id, ticker=order.ticker,
                                  order_id=f"v{self._accepted}", remaining=order.remaining, filled=0)
                )
        from mmframe.api import OrderAmended, OrderCanceled

        for _, action in self.sent:
            if isinstance(action, CancelOrder):
                self.core.apply(OrderCanceled(ts_ns=0, client_order_id=action.client_order_id,
                                              ticker=action.ticker, reason="canceled"))
            elif isinstance(action, AmendOrder):
                self.core.apply(OrderAmended(ts_ns=0, client_order_id=action.client_order_id,
                                             ticker=action.ticker, new_client_order_id=action.new_client_order_id,
                                             price=action.price, remaining=action.size))
        self.sent_acked = len(self.sent)

    def writes(self) -> list[OrderAction]:
        return [a for _, a in self.sent if isinstance(a, CreateOrder | AmendOrder)]


def test_scheduler_when_budget_covers_everything_sends_at_once() -> None:
    h = Harness(2)
    for ticker in h.tickers:
        h.quoter.mid[ticker] = 5_000
        h.scheduler.requote(ticker)
    assert len(h.writes()) == 4
    assert h.scheduler.waiting == 0


def test_scheduler_when_budget_short_sends_what_fits_and_keeps_the_market_waiting() -> None:
    h = Harness(3, tokens=30)
    for ticker in h.tickers:
        h.quoter.mid[ticker] = 5_000
        h.scheduler.requote(ticker)
    assert len(h.writes()) == 3  # 30 tokens: three creates
    assert h.scheduler.waiting == 2
    h.clock.advance(0.1)  # 10 tokens
    h.scheduler.turn()
    assert len(h.writes()) == 4
    h.clock.advance(1.0)
    h.scheduler.turn()
    assert len(h.writes()) == 6
    assert h.scheduler.waiting == 0
    sides = {(a.ticker, a.side) for a in h.writes()}
    assert len(sides) == 6  # one order per side and market: nothing sent twice


def test_scheduler_when_market_requoted_while_waiting_never_sends_the_old_price() -> None:
    h = Harness(2, tokens=20)
    h.quoter.mid["M0"] = 5_000
    h.scheduler.requote("M0")  # both sides of M0 take the 20 tokens
    h.quoter.mid["M1"] = 5_000
    h.scheduler.requote("M1")  # waits
    h.quoter.mid["M1"] = 6_000  # M1's quote moves while it waits
    h.clock.advance(1.0)
    h.scheduler.turn()
    m1 = [a for a in h.writes() if a.ticker == "M1"]
    assert sorted(a.price for a in m1 if isinstance(a, CreateOrder)) == [5_800, 6_200]


def test_scheduler_when_gate_closes_drops_waiting_intents_and_writes_nothing_more() -> None:
    h = Harness(4, tokens=10)
    for ticker in h.tickers:
        h.quoter.mid[ticker] = 5_000
        h.scheduler.requote(ticker)
    sent_before = len(h.writes())
    assert h.scheduler.waiting == 4
    h.core.pause("operator")
    assert h.core.gate.state is GateState.PAUSED
    assert h.scheduler.waiting == 0
    assert h.scheduler.dropped == 4
    h.clock.advance(10)
    h.scheduler.turn()
    for ticker in h.tickers:
        h.scheduler.requote(ticker)
    assert len(h.writes()) == sent_before
    assert not any(isinstance(a, CancelOrder) for _, a in h.sent)  # in flight: not cancelled blind
    h.ack_all()  # the create in flight is acknowledged after the gate closed ...
    for ticker in h.tickers:
        h.scheduler.requote(ticker)
    assert sum(isinstance(a, CancelOrder) for _, a in h.sent) == sent_before  # ... and cancelled at once


def test_scheduler_when_budget_empty_still_sends_cancels() -> None:
    h = Harness(1)
    h.quoter.mid["M0"] = 5_000
    h.scheduler.requote("M0")
    h.ack_all()
    h.bucket._tokens_ns = 0
    del h.quoter.mid["M0"]  # quote nothing: both orders must go
    h.scheduler.requote("M0")
    cancels = [a for _, a in h.sent if isinstance(a, CancelOrder)]
    assert len(cancels) == 2
    assert h.scheduler.waiting == 0


def test_scheduler_serves_a_missing_side_before_a_small_move() -> None:
    h = Harness(2)
    h.quoter.mid["M0"] = 5_000
    h.scheduler.requote("M0")
    h.ack_all()
    h.bucket._tokens_ns = 0
    h.quoter.mid["M0"] = 5_100  # both M0 orders 1¢ off: two amends
    h.scheduler.requote("M0")
    h.quoter.mid["M1"] = 5_000  # M1 has nothing: two creates
    h.scheduler.requote("M1")
    assert h.scheduler.waiting == 2
    h.clock.advance(0.1)  # one write
    h.scheduler.turn()
    (first,) = h.writes()[2:]
    assert isinstance(first, CreateOrder) and first.ticker == "M1"
    assert MISSING_QUOTE_SCORE > 100


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("quote"), st.integers(0, 5), st.integers(20, 80)),
            st.tuples(st.just("blank"), st.integers(0, 5), st.just(0)),
            st.tuples(st.just("wait"), st.integers(1, 500), st.just(0)),
            st.tuples(st.just("ack"), st.just(0), st.just(0)),
            st.tuples(st.just("pause"), st.just(0), st.just(0)),
            st.tuples(st.just("halt"), st.just(0), st.just(0)),
            st.tuples(st.just("resume"), st.just(0), st.just(0)),
        ),
        max_size=60,
    )
)
def test_scheduler_property_no_write_through_closed_gate_and_budget_never_overspent(
    steps: list[tuple[str, int, int]],
) -> None:
    h = Harness(6, tokens=25)
    for op, arg, price in steps:
        before = len(h.sent)
        if op == "quote":
            h.quoter.mid[h.tickers[arg]] = price * 100
            h.scheduler.requote(h.tickers[arg])
        elif op == "blank":
            h.quoter.mid.pop(h.tickers[arg], None)
            h.scheduler.requote(h.tickers[arg])
        elif op == "wait":
            h.clock.advance(arg / 1000)
            h.scheduler.turn()
        elif op == "ack":
            h.ack_all()
        elif op == "pause":
            h.core.pause("p")
        elif op == "halt":
            h.core.halt("h")
            h.scheduler.requote(h.tickers[0])
        elif op == "resume":
            h.core.resume("r")
        # Every write was derived from the quote in force when it was sent (never an older intent).
        for _, action in h.sent[before:]:
            if isinstance(action, CreateOrder):
                mid = h.quoter.mid.get(action.ticker)
                assert mid is not None and action.price in (mid - 200, mid + 200)
        if not h.core.gate.is_open:
            assert h.scheduler.waiting == 0
    assert all(not isinstance(a, DecreaseOrder) or a.size >= 0 for _, a in h.sent)
    # _send asserted the gate and the bucket on every hand-over
    assert all(a.side in (BookSide.BID, BookSide.ASK) for a in h.writes() if isinstance(a, CreateOrder))
