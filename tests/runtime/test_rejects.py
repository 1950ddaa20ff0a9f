"""Reject storms: the post-only step, backoff, quarantine and the balance stop, on exact clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import (
    BookSide,
    BookSnapshotReceived,
    CreateOrder,
    Level,
    MarketQuarantined,
    MarketReleased,
    MarketView,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    Quote,
    TestClock,
)
from mmframe.domain.book import OrderBook
from mmframe.domain.post_only import post_only_safe
from mmframe.domain.reject_policy import RejectPolicy
from mmframe.runtime.quoting import QuotingCore
from mmframe.runtime.rejects import RejectGuard

MS = 1_000_000
S = 1_000_000_000
POLICY = RejectPolicy(backoff_ns=250 * MS, max_backoff_ns=30 * S, quarantine_after=5, window_ns=60 * S,
                      cooldown_ns=300 * S)


def _reject(ticker: str = "T", code: str = "invalid_order", action: str = "create") -> OrderRejected:
    return OrderRejected(ts_ns=0, client_order_id="c", ticker=ticker, code=code, message="m", action=action)


def _book(bid: int, ask: int) -> OrderBook:
    book = OrderBook("T")
    book.apply_snapshot(((bid, 1_000),), ((10_000 - ask, 1_000),), 0)
    return book


def test_post_only_safe_when_bid_at_or_above_best_ask_drops_it() -> None:
    quote = Quote("T", (Level(5_200, 100), Level(4_900, 100)), (Level(4_800, 100), Level(5_300, 100)))
    safe, dropped = post_only_safe(quote, _book(4_800, 5_200))
    assert safe.bids == (Level(4_900, 100),)
    assert safe.asks == (Level(5_300, 100),)
    assert dropped == 2


def test_post_only_safe_when_nothing_crosses_keeps_the_quote() -> None:
    quote = Quote("T", (Level(5_100, 100),), (Level(5_150, 100),))
    assert post_only_safe(quote, _book(4_800, 5_200)) == (quote, 0)


def test_guard_when_rejected_backs_off_with_jitter_then_allows_again() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    guard.observe(_reject())
    assert not guard.writes_allowed("T")
    assert guard.writes_allowed("OTHER")
    clock.advance(0.250)
    assert guard.writes_allowed("T")  # jittered into [125, 250] ms


def test_guard_backoff_doubles_per_repeat_and_resets_on_acceptance() -> None:
    clock = TestClock()
    guard = RejectGuard(replace(POLICY, quarantine_after=100), clock.monotonic_ns)
    for _ in range(3):
        guard.observe(_reject())
        clock.advance(1.0)
    # fourth reject: backoff up to 2 s, at least 1 s
    guard.observe(_reject())
    clock.advance(0.999)
    assert not guard.writes_allowed("T")
    guard.observe(OrderAccepted(ts_ns=0, client_order_id="c", ticker="T", order_id="o", remaining=1))
    clock.advance(1.001)
    assert guard.writes_allowed("T")
    guard.observe(_reject())
    clock.advance(0.250)
    assert guard.writes_allowed("T")  # the streak restarted


def test_guard_when_n_rejects_in_window_quarantines_once_and_releases_on_resume() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    raised = []
    for _ in range(5):
        raised += guard.observe(_reject())
        clock.advance(1.0)
    raised += guard.observe(_reject())
    assert [type(e) for e in raised] == [MarketQuarantined]
    assert "T" in guard.quarantined and not guard.writes_allowed("T")
    released = guard.release()
    assert [type(e) for e in released] == [MarketReleased]
    assert guard.writes_allowed("T")


def test_guard_quarantine_ends_after_cooldown() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    for _ in range(5):
        guard.observe(_reject())
    clock.advance(299)
    assert guard.expire() == []
    clock.advance(1)
    assert [e.reason for e in guard.expire()] == ["cool-down elapsed"]  # type: ignore[attr-defined]


def test_guard_ignores_rejects_that_are_not_the_venue_refusing_us() -> None:
    guard = RejectGuard(POLICY, TestClock().monotonic_ns)
    for code in ("gate_closed", "shutdown", "unknown_order"):
        guard.observe(_reject(code=code))
    guard.observe(_reject(action="cancel"))
    assert guard.writes_allowed("T") and guard.counted == 0


def test_guard_insufficient_balance_stops_creates_everywhere_until_a_fill() -> None:
    guard = RejectGuard(POLICY, TestClock().monotonic_ns)
    guard.observe(_reject(ticker="A", code="insufficient_balance"))
    assert not guard.creates_allowed()
    guard.observe(OrderFilled(ts_ns=0, client_order_id="x", ticker="B", order_id="o", trade_id="t",
                              side=BookSide.BID,
                              price=5_000, count=100, fee=0, is_taker=False))
    assert guard.creates_allowed()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2_000), st.booleans()), max_size=40))
def test_guard_property_never_allows_before_expiry_and_quarantines_at_exactly_n(steps: list[tuple[int, bool]]) -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    times: list[int] = []
    earliest = 0
    for wait_ms, reject in steps:
        clock.advance(wait_ms / 1000)
        now = clock.monotonic_ns()
        if now < earliest:
            assert not guard.writes_allowed("T")
        if reject:
            before = "T" in guard.quarantined
            guard.observe(_reject())
            times.append(now)
            earliest = max(earliest, now + POLICY.backoff_ns // 2)  # at least half the first backoff
            in_window = [t for t in times if t > now - POLICY.window_ns]
            if not before:
                assert ("T" in guard.quarantined) == (len(in_window) >= POLICY.quarantine_after)


class AboveMid:
    """A strategy with a bug: bids above the best ask."""

    def quote(self, market: MarketView) -> Quote:
        return Quote(market.ticker, (Level(6_000, 100),), (Level(6_200, 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


def test_core_when_strategy_bids_through_the_book_drops_the_level_and_counts_it() -> None:
    clock = TestClock()
    core = QuotingCore(strategy=AboveMid(), rules=[], now_ns=clock.now_ns, emit=lambda e: None)
    core.market("T")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="T", yes_bids=((4_800, 1_000),), no_bids=((4_800, 1_000),)))
    actions = core.requote("T")  # best ask 0.52: the 0.60 bid would cross
    assert [(a.side.value, a.price) for a in actions if isinstance(a, CreateOrder)] == [("ask", 6_200)]
    assert core.post_only_dropped == 1


def test_core_when_market_quarantined_pulls_it_until_resume() -> None:
    clock = TestClock()
    emitted: list[object] = []
    core = QuotingCore(strategy=AboveMid(), rules=[], now_ns=clock.now_ns, emit=emitted.append,
                       reject_policy=POLICY)
    core.market("T")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="T", yes_bids=((4_800, 1_000),), no_bids=((3_000, 1_000),)))
    core.requote("T")
    for _ in range(5):
        core.apply(_reject())
    assert any(isinstance(e, MarketQuarantined) for e in emitted)
    assert "T" in core.rejects.quarantined
    core.apply(OrderAccepted(ts_ns=0, client_order_id="mm-1", ticker="T", order_id="o1", remaining=100))
    assert [a.type.value for a in core.plan("T")] == ["cancel"]  # quarantined: its order is pulled
    core.resume("operator")
    assert "T" not in core.rejects.quarantined
    assert any(isinstance(e, MarketReleased) for e in emitted)
