"""Reject storms: the post-only step, backoff, quarantine and the balance stop, on exact clocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from mmframe.api import (
    AmendOrder,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    Level,
    MarketQuarantined,
    MarketReleased,
    MarketView,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
    Quote,
    TestClock,
)
from mmframe.domain.book import OrderBook
from mmframe.domain.post_only import post_only_safe
from mmframe.domain.reconciler import reconcile
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


# --- what counts, and how long ------------------------------------------------------------------------


def test_guard_when_reject_is_not_a_refusal_or_pulls_risk_never_counts() -> None:
    guard = RejectGuard(POLICY, TestClock().monotonic_ns)
    for code in ("too_many_requests", "not_found", "amend_unknown", "not_placed", "order_already_exists",
                 "stale_intent", "outcome_unknown"):
        guard.observe(_reject(code=code, action="amend"))
    guard.observe(_reject(action="decrease"))
    guard.observe(_reject(code="insufficient_balance", action="cancel"))
    assert guard.writes_allowed("T") and guard.creates_allowed() and guard.counted == 0


def test_guard_backoff_is_jittered_within_half_to_full_and_capped() -> None:
    guard = RejectGuard(POLICY, TestClock().monotonic_ns)
    for streak, full in ((1, 250 * MS), (2, 500 * MS), (3, 1 * S), (8, 30 * S), (60, 30 * S)):
        draws = {guard.backoff_ns(streak) for _ in range(200)}
        assert full - full // 2 <= min(draws) and max(draws) <= full
        assert len(draws) > 1  # jittered


def test_guard_when_seeded_draws_the_same_backoffs() -> None:
    import random

    first = RejectGuard(POLICY, TestClock().monotonic_ns, rng=random.Random(5))
    second = RejectGuard(POLICY, TestClock().monotonic_ns, rng=random.Random(5))
    assert [first.backoff_ns(k) for k in range(1, 9)] == [second.backoff_ns(k) for k in range(1, 9)]


def test_guard_when_account_wide_reason_repeats_backs_off_but_never_quarantines() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    raised = []
    for code in ("insufficient_balance", "trading_is_paused", "exchange_closed") * 4:
        raised += guard.observe(_reject(code=code))
    assert raised == [] and guard.quarantined == {}
    assert not guard.writes_allowed("T")


def test_guard_balance_stop_ends_after_its_own_cooldown_not_the_quarantine_one() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    guard.observe(_reject(ticker="A", code="insufficient_balance"))
    assert not guard.creates_allowed()
    assert guard.describe()["balance_blocked_seconds"] == 30
    clock.advance(29.999)
    assert not guard.creates_allowed()
    clock.advance(0.001)
    assert guard.creates_allowed()


def test_guard_balance_streak_survives_amends_and_ends_with_an_accepted_create() -> None:
    clock = TestClock()
    guard = RejectGuard(replace(POLICY, max_backoff_ns=600 * S), clock.monotonic_ns)
    for _ in range(4):  # streak 4: backoff at least 1 s
        guard.observe(_reject(code="insufficient_balance"))
    guard.observe(OrderAmended(ts_ns=0, client_order_id="c", ticker="T", new_client_order_id="d", price=1,
                               remaining=1))
    clock.advance(2.0)
    guard.observe(_reject(code="insufficient_balance"))  # streak 5: 2..4 s, the amend proved nothing
    clock.advance(1.999)
    assert not guard.writes_allowed("T")
    guard.observe(OrderAccepted(ts_ns=0, client_order_id="c", ticker="T", order_id="o", remaining=1))
    clock.advance(2.001)
    guard.observe(_reject(code="insufficient_balance"))  # streak 1 again
    clock.advance(0.250)
    assert guard.writes_allowed("T")


def test_guard_rejects_answering_writes_sent_before_the_quarantine_change_nothing() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    for _ in range(5):
        guard.observe(_reject())
    until = guard.quarantined["T"]
    clock.advance(10)
    assert guard.observe(_reject()) == [] and guard.quarantined["T"] == until and guard.quarantines == 1


def test_guard_release_of_one_market_leaves_the_others_quarantined() -> None:
    guard = RejectGuard(POLICY, TestClock().monotonic_ns)
    for ticker in ("A", "B"):
        for _ in range(5):
            guard.observe(_reject(ticker=ticker))
    assert [e.ticker for e in guard.release("A")] == ["A"]  # type: ignore[attr-defined]
    assert guard.writes_allowed("A") and "B" in guard.quarantined
    assert guard.release("A") == []  # not quarantined any more: nothing to announce


def test_guard_describe_shows_quarantines_backoffs_and_the_balance_stop() -> None:
    clock = TestClock()
    guard = RejectGuard(POLICY, clock.monotonic_ns)
    for _ in range(5):
        guard.observe(_reject(ticker="Q"))
    guard.observe(_reject(ticker="B"))
    guard.observe(_reject(ticker="C", code="insufficient_balance"))
    clock.advance(0.1)
    described = guard.describe()
    assert described["quarantined"] == {"Q": 300}
    backing_off = described["backing_off"]
    assert isinstance(backing_off, dict) and set(backing_off) == {"Q", "B", "C"}
    assert 0 < backing_off["B"] <= 150 and 0 < backing_off["C"] <= 150  # first rejects: 125..250 ms
    assert 0 < backing_off["Q"] <= 3_900  # the fifth: 2..4 s
    assert described["balance_blocked_seconds"] == 30
    assert described["rejects_counted"] == 7 and described["quarantines"] == 1


# --- the post-only step's log line -------------------------------------------------------------------


def test_core_post_only_drops_are_logged_once_per_interval_with_a_count(caplog: Any) -> None:
    import logging

    clock = TestClock()
    core = QuotingCore(strategy=AboveMid(), rules=[], now_ns=clock.now_ns, monotonic_ns=clock.monotonic_ns,
                       emit=lambda e: None)
    core.market("T")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="T", yes_bids=((4_800, 1_000),), no_bids=((4_800, 1_000),)))
    with caplog.at_level(logging.WARNING, logger="mmframe.quoting"):
        for _ in range(50):
            core.plan("T")
        clock.advance(10)
        core.plan("T")
    lines = [r.getMessage() for r in caplog.records if r.name == "mmframe.quoting"]
    assert core.post_only_dropped == 51
    assert lines == [
        "T: dropped 1 quote level(s) at or through the book (best bid 0.4800, best ask 0.5200)",
        "T: dropped 1 quote level(s) at or through the book (best bid 0.4800, best ask 0.5200)"
        " (49 more since the last such line)",
    ]


# --- the guard inside the core: a property over interleavings ----------------------------------------


class Steerable:
    """A strategy whose quote the test sets (bid, ask; None pulls a side)."""

    def __init__(self) -> None:
        self.bid: int | None = 4_000
        self.ask: int | None = 6_000

    def quote(self, market: MarketView) -> Quote:
        bids = () if self.bid is None else (Level(self.bid, 100),)
        asks = () if self.ask is None else (Level(self.ask, 100),)
        return Quote(market.ticker, bids, asks)

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


_CODES = ("invalid_order", "invalid_price", "market_closed", "insufficient_balance", "trading_is_paused",
          "shutdown", "too_many_requests", "not_found", "gate_closed")
_ADVANCE = st.tuples(st.just("advance"), st.integers(0, 3_000))
_QUOTE = st.tuples(st.just("quote"), st.sampled_from([None, 3_000, 3_500, 4_000, 4_500]),
                   st.sampled_from([None, 5_500, 6_000, 6_500, 7_000]))
_ANSWER = st.tuples(st.just("answer"), st.sampled_from((None, *_CODES)))  # None: every pending action accepted
_REFUSE = st.tuples(st.just("answer"), st.sampled_from(("invalid_order", "invalid_price")))
# Weighted towards what builds storms: answers (refusals above all) between moves of the quote and time.
_OPS = st.one_of(_ADVANCE, _ADVANCE, _QUOTE, _QUOTE, _ANSWER, _ANSWER, _REFUSE, _REFUSE, _REFUSE,
                 st.tuples(st.just("fill"), st.just(0)), st.tuples(st.just("resume"), st.just(0)))


def _pending_answers(pending: list[Any], code: str | None, ts: int) -> list[Any]:
    events: list[Any] = []
    for action in pending:
        cid, ticker = action.client_order_id, action.ticker
        if code is not None:
            events.append(OrderRejected(ts_ns=ts, client_order_id=cid, ticker=ticker, code=code, message="m",
                                        action=action.type.value))
        elif isinstance(action, CreateOrder):
            events.append(OrderAccepted(ts_ns=ts, client_order_id=cid, ticker=ticker, order_id=f"o-{cid}",
                                        remaining=action.size))
        elif isinstance(action, AmendOrder):
            events.append(OrderAmended(ts_ns=ts, client_order_id=cid, ticker=ticker,
                                       new_client_order_id=action.new_client_order_id, price=action.price,
                                       remaining=action.size))
        elif isinstance(action, DecreaseOrder):
            events.append(OrderDecreased(ts_ns=ts, client_order_id=cid, ticker=ticker, remaining=action.size))
        else:
            events.append(OrderCanceled(ts_ns=ts, client_order_id=cid, ticker=ticker))
    return events


@settings(max_examples=300, deadline=None)
@given(st.lists(_OPS, min_size=30, max_size=120), st.integers(0, 2**32))
def test_core_property_cancels_always_pass_no_write_before_expiry_quarantine_at_exactly_n(
    ops: list[tuple[Any, ...]], seed: int
) -> None:
    import random

    clock = TestClock()
    strategy = Steerable()
    core = QuotingCore(strategy=strategy, rules=[], now_ns=clock.now_ns, monotonic_ns=clock.monotonic_ns,
                       emit=lambda e: None, reject_policy=POLICY)
    core.rejects._rng = random.Random(seed)
    core.market("T")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="T", yes_bids=((2_000, 1_000),), no_bids=((2_000, 1_000),)))
    pending: list[Any] = []
    counted: list[int] = []  # times of rejects that count towards quarantine, since the last release
    write_ok_from = 0  # no create or amend before this (the least backoff after the last counted reject)
    balance_until: int | None = None
    quarantine_ends: int | None = None
    trade = 0
    for op in ops:
        now = clock.monotonic_ns()
        if op[0] == "advance":
            clock.advance(op[1] / 1000)
            core.housekeeping()
            if quarantine_ends is not None and clock.monotonic_ns() >= quarantine_ends:
                assert "T" not in core.rejects.quarantined  # the cool-down released it
                counted.clear()
                quarantine_ends = None
        elif op[0] == "quote":
            strategy.bid, strategy.ask = op[1], op[2]
            core.mark_dirty("T")
        elif op[0] == "fill":
            trade += 1
            core.apply(OrderFilled(ts_ns=0, client_order_id="x", ticker="T", order_id="o", trade_id=f"t{trade}",
                                   side=BookSide.BID, price=4_000, count=1, fee=0, is_taker=False))
            balance_until = None
        elif op[0] == "resume":
            core.resume("operator")
            counted.clear()
            write_ok_from = 0
            balance_until = quarantine_ends = None
        else:
            code = op[1]
            answers, pending = _pending_answers(pending, code, clock.now_ns()), []
            quarantined_before = "T" in core.rejects.quarantined
            for answer in answers:
                core.apply(answer)
                if isinstance(answer, OrderRejected) and RejectGuard.counts(answer):
                    write_ok_from = max(write_ok_from, now + POLICY.backoff_ns // 2)
                    if answer.code == "insufficient_balance":
                        balance_until = now + POLICY.balance_cooldown_ns
                    if answer.code not in ("insufficient_balance", "trading_is_paused") and not quarantined_before:
                        counted.append(now)
                        in_window = [t for t in counted if t > now - POLICY.window_ns]
                        # quarantine after exactly N counted rejects in the window, not one sooner
                        assert ("T" in core.rejects.quarantined) == (len(in_window) >= POLICY.quarantine_after)
                        if "T" in core.rejects.quarantined:
                            quarantined_before = True
                            quarantine_ends = now + POLICY.cooldown_ns
                            event("quarantined")
        # Plan and check what goes out.
        now = clock.monotonic_ns()
        quarantined = "T" in core.rejects.quarantined
        wanted = Quote.empty("T") if quarantined else strategy.quote(core.markets["T"])
        expected = reconcile(wanted, core.markets["T"].working_orders, core.policy, lambda: "new")
        actions = core.requote("T")
        pulls = [a for a in expected if isinstance(a, CancelOrder | DecreaseOrder)]
        assert [a for a in actions if isinstance(a, CancelOrder | DecreaseOrder)] == pulls  # always pass
        writes = [a for a in actions if isinstance(a, CreateOrder | AmendOrder)]
        until = core.rejects.backoff_until("T")
        if writes:
            assert not quarantined
            assert now >= write_ok_from
            assert until is None or now >= until
        elif until is not None and [a for a in expected if isinstance(a, CreateOrder | AmendOrder)]:
            event("a write held back by a backoff")
        if balance_until is not None and now < balance_until:
            assert not [a for a in actions if isinstance(a, CreateOrder)]
            if [a for a in expected if isinstance(a, CreateOrder)]:
                event("a create held back by the balance stop")
        if pulls:
            event("cancels or decreases went out")
        pending.extend(actions)
