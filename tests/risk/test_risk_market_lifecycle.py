"""``market-lifecycle``: only active markets are quoted, and never close to their close time."""

from __future__ import annotations

from mmframe_risk.market_lifecycle import MarketLifecycleRule

from mmframe.api import NANOS_PER_SECOND, VerdictKind
from tests.risk.risk_views import NOW_NS, market, portfolio_of, quote

Q = quote([(4800, 100)], [(5200, 100)])
MINUTE = 60 * NANOS_PER_SECOND


def test_market_lifecycle_when_active_and_far_from_close_passes() -> None:
    view = market(close_ts_ns=NOW_NS + 5 * MINUTE + 1)
    assert (
        MarketLifecycleRule({"stop_before_close_minutes": 5}).check(Q, view, portfolio_of(view)).kind
        is VerdictKind.PASS
    )


def test_market_lifecycle_when_inside_the_stop_window_blocks() -> None:
    view = market(close_ts_ns=NOW_NS + 5 * MINUTE)
    verdict = MarketLifecycleRule({"stop_before_close_minutes": 5}).check(Q, view, portfolio_of(view))
    assert verdict.kind is VerdictKind.BLOCK
    assert "300s to close" in verdict.reason


def test_market_lifecycle_when_market_is_not_active_blocks() -> None:
    view = market()
    view.status = "inactive"
    verdict = MarketLifecycleRule({}).check(Q, view, portfolio_of(view))
    assert verdict.kind is VerdictKind.BLOCK
    assert "inactive" in verdict.reason


def test_market_lifecycle_when_close_time_is_unknown_passes() -> None:
    view = market()
    assert MarketLifecycleRule({}).check(Q, view, portfolio_of(view)).kind is VerdictKind.PASS
