"""``stale-data``: quotes are pulled while the book is invalid, old, crossed or locked."""

from __future__ import annotations

from mmframe_risk.stale_data import StaleDataRule

from mmframe.api import NANOS_PER_SECOND, VerdictKind
from tests.risk.risk_views import NOW_NS, MarketState, market, portfolio_of, quote

Q = quote([(4800, 100)], [(5200, 100)])


def check(view: MarketState, **config: object):  # type: ignore[no-untyped-def]
    return StaleDataRule({"max_age_seconds": 10, **config}).check(Q, view, portfolio_of(view))


def test_stale_data_when_book_is_fresh_passes() -> None:
    view = market()
    view.now_ns = NOW_NS + 10 * NANOS_PER_SECOND
    assert check(view).kind is VerdictKind.PASS


def test_stale_data_when_book_is_older_than_max_age_blocks() -> None:
    view = market()
    view.now_ns = NOW_NS + 10 * NANOS_PER_SECOND + 1
    verdict = check(view)
    assert verdict.kind is VerdictKind.BLOCK
    assert "10.000s" in verdict.reason


def test_stale_data_when_book_is_invalid_blocks() -> None:
    view = market()
    view.book.invalidate()
    assert "invalid" in check(view).reason


def test_stale_data_when_no_update_arrived_yet_blocks() -> None:
    view = market()
    view.last_book_update_ns = None
    assert check(view).kind is VerdictKind.BLOCK


def test_stale_data_when_book_is_locked_blocks_unless_told_not_to() -> None:
    view = market([(5000, 100)], [(5000, 100)])
    assert check(view).kind is VerdictKind.BLOCK
    assert check(view, block_crossed=False).kind is VerdictKind.PASS
