"""``sweep-guard``: a burst of one-way taker volume pulls the swept side for a cool-down, then keeps
it beyond the sweep's furthest trade for the reprice time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mmframe_risk.sweep_guard import SweepGuardRule

from mmframe.api import (
    NANOS_PER_SECOND,
    BookSide,
    ConfigError,
    TradeReported,
    VerdictKind,
)
from tests.risk.risk_views import NOW_NS, TICKER, market, portfolio_of, quote

MS = 1_000_000
Q = quote([(4900, 1000), (4800, 1000)], [(5100, 1000), (5200, 1000)])


def trade(ts_ns: int, contracts: int, price: int, taker: BookSide = BookSide.BID, ticker: str = TICKER) -> TradeReported:
    return TradeReported(ts_ns=ts_ns, ticker=ticker, price=price, count=contracts * 100, taker_side=taker)


def rule(**config: object) -> SweepGuardRule:
    return SweepGuardRule({"min_contracts": 30, "window_seconds": 0.25, "cooldown_seconds": 2, **config})


def check_at(guard: SweepGuardRule, now_ns: int, q=Q):  # type: ignore[no-untyped-def]
    view = market()
    view.now_ns = now_ns
    return guard.check(q, view, portfolio_of(view))


def test_sweep_guard_when_takers_buy_under_the_threshold_passes() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS - 100 * MS, 20, 5100))
    guard.observe(trade(NOW_NS, 9, 5100))
    guard.observe(trade(NOW_NS, 20, 4900, BookSide.ASK))  # the other direction does not add up
    assert check_at(guard, NOW_NS).kind is VerdictKind.PASS
    assert guard.sweeps == 0


def test_sweep_guard_when_buyers_sweep_the_asks_pulls_our_asks_only() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS - 100 * MS, 10, 5100))
    guard.observe(trade(NOW_NS, 20, 5300))
    verdict = check_at(guard, NOW_NS + MS)
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(4900, 1000), (4800, 1000)], [])
    assert "asks swept (30+ contracts within 0.25s)" in verdict.reason
    assert guard.sweeps == 1


def test_sweep_guard_when_sellers_sweep_the_bids_pulls_our_bids_only() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS, 30, 4700, BookSide.ASK))
    verdict = check_at(guard, NOW_NS)
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([], [(5100, 1000), (5200, 1000)])


def test_sweep_guard_when_trades_are_further_apart_than_the_window_does_not_add_them() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS - 250 * MS, 20, 5100))
    guard.observe(trade(NOW_NS, 20, 5100))
    assert check_at(guard, NOW_NS).kind is VerdictKind.PASS


def test_sweep_guard_when_the_cooldown_ends_quotes_again() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS, 40, 5300))
    assert check_at(guard, NOW_NS + 2 * NANOS_PER_SECOND).kind is VerdictKind.ADJUST
    assert check_at(guard, NOW_NS + 2 * NANOS_PER_SECOND + 1).kind is VerdictKind.PASS


def test_sweep_guard_when_pull_is_both_blocks_the_market() -> None:
    guard = rule(pull="both")
    guard.observe(trade(NOW_NS, 40, 5300))
    verdict = check_at(guard, NOW_NS)
    assert verdict.kind is VerdictKind.BLOCK
    assert "sweep-guard" in verdict.reason


def test_sweep_guard_when_both_sides_were_swept_blocks() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS, 40, 5300))
    guard.observe(trade(NOW_NS, 40, 4700, BookSide.ASK))
    assert check_at(guard, NOW_NS).kind is VerdictKind.BLOCK


def test_sweep_guard_only_pulls_the_swept_market() -> None:
    guard = rule()
    guard.observe(trade(NOW_NS, 40, 5300, ticker="OTHER"))
    assert check_at(guard, NOW_NS).kind is VerdictKind.PASS


def test_sweep_guard_after_the_cooldown_keeps_the_swept_side_beyond_the_sweep() -> None:
    guard = rule(reprice_seconds=10, reprice_margin=0.02)
    guard.observe(trade(NOW_NS, 20, 5200))
    guard.observe(trade(NOW_NS + 10 * MS, 20, 5400))  # the furthest the buyers paid: 54c
    guard.observe(trade(NOW_NS + 3 * NANOS_PER_SECOND, 5, 5500))  # more buying while it lasts
    verdict = check_at(guard, NOW_NS + 3 * NANOS_PER_SECOND)
    assert verdict.kind is VerdictKind.ADJUST
    # Asks moved together so the best is 2c beyond 55c; bids untouched.
    assert verdict.quote == quote([(4900, 1000), (4800, 1000)], [(5700, 1000), (5800, 1000)])
    assert "kept $0.0200 beyond the sweep" in verdict.reason
    after = NOW_NS + 10 * MS + 12 * NANOS_PER_SECOND + 1
    assert check_at(guard, after).kind is VerdictKind.PASS


def test_sweep_guard_reprices_bids_below_a_sell_sweep() -> None:
    guard = rule(reprice_seconds=10, reprice_margin=0.01, cooldown_seconds=0)
    guard.observe(trade(NOW_NS, 35, 4850, BookSide.ASK))
    verdict = check_at(guard, NOW_NS + 1)
    assert verdict.quote == quote([(4700, 1000), (4600, 1000)], [(5100, 1000), (5200, 1000)])


def test_sweep_guard_with_no_margin_keeps_bids_at_or_below_a_sell_sweep() -> None:
    """A zero margin is still a side's own direction: bids at most the sweep's lowest price."""
    guard = rule(reprice_seconds=10, reprice_margin=0, cooldown_seconds=0)
    guard.observe(trade(NOW_NS, 35, 4850, BookSide.ASK))
    verdict = check_at(guard, NOW_NS + 1)
    assert verdict.quote == quote([(4800, 1000), (4700, 1000)], [(5100, 1000), (5200, 1000)])
    guard.observe(trade(NOW_NS + 2, 35, 5000, BookSide.ASK))  # bids at 49c: already below 50c
    assert check_at(guard, NOW_NS + 3).kind is VerdictKind.ADJUST  # still the sweep's 48.5c


def test_sweep_guard_when_the_quote_is_already_beyond_passes() -> None:
    guard = rule(reprice_seconds=10, cooldown_seconds=0)
    guard.observe(trade(NOW_NS, 35, 4900))
    assert check_at(guard, NOW_NS + 1).kind is VerdictKind.PASS  # asks at 51c >= 49c + 2c


def test_sweep_guard_reprice_drops_levels_beyond_the_grid() -> None:
    guard = rule(reprice_seconds=10, cooldown_seconds=0)
    guard.observe(trade(NOW_NS, 35, 9800))
    verdict = check_at(guard, NOW_NS + 1, quote([(4900, 100)], [(5100, 100), (5200, 100)]))
    assert verdict.quote == quote([(4900, 100)], [])


def test_sweep_guard_counts_one_sweep_per_episode() -> None:
    guard = rule()
    for i in range(10):
        guard.observe(trade(NOW_NS + i * 100 * MS, 40, 5300))
    assert guard.sweeps == 1
    guard.observe(trade(NOW_NS + 5 * NANOS_PER_SECOND, 40, 5300))
    assert guard.sweeps == 2


@pytest.mark.parametrize(
    "config",
    [{"min_contracts": 0}, {"window_seconds": 0}, {"cooldown_seconds": -1}, {"pull": "half"},
     {"reprice_margin": 2}, {"min_contracts": "30"}, {"surprise": 1}],
)
def test_sweep_guard_refuses_bad_config(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SweepGuardRule(config)


@given(
    trades=st.lists(
        st.tuples(
            st.integers(0, 5_000),  # ms after NOW
            st.integers(1, 60),  # contracts
            st.integers(1, 99),  # cents
            st.sampled_from([BookSide.BID, BookSide.ASK]),
        ),
        max_size=20,
    ),
    at_ms=st.integers(0, 20_000),
    margin=st.sampled_from([0, 0.01, 0.02]),
)
def test_sweep_guard_never_adds_risk(trades: list[tuple[int, int, int, BookSide]], at_ms: int, margin: float) -> None:
    """Whatever the tape: the verdict only removes levels or moves them away from the other side,
    keeps sizes, and never leaves a quote on a side within its cool-down."""
    guard = rule(reprice_seconds=5, reprice_margin=margin)
    for ms, contracts, cents, taker in sorted(trades):
        guard.observe(trade(NOW_NS + ms * MS, contracts, cents * 100, taker))
    now = NOW_NS + at_ms * MS
    verdict = check_at(guard, now)
    if verdict.kind is VerdictKind.PASS:
        return
    if verdict.kind is VerdictKind.BLOCK:
        return
    assert verdict.quote is not None
    out = verdict.quote
    assert [lv.size for lv in out.bids] == [lv.size for lv in Q.bids][: len(out.bids)]
    assert [lv.size for lv in out.asks] == [lv.size for lv in Q.asks][: len(out.asks)]
    assert all(a.price <= b.price for a, b in zip(out.bids, Q.bids, strict=False))
    assert all(a.price >= b.price for a, b in zip(out.asks, Q.asks, strict=False))
    for side, levels in ((BookSide.BID, out.bids), (BookSide.ASK, out.asks)):
        pulled, _ = guard.state(TICKER, side, now)
        assert not (pulled and levels)
