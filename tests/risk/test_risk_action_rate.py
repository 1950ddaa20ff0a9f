"""``action-rate``: a market that sent too many actions in the window is held or pulled."""

from __future__ import annotations

from mmframe_risk.action_rate import ActionRateRule

from mmframe.api import (
    NANOS_PER_SECOND,
    BookSide,
    CancelOrder,
    CreateOrder,
    OrderActionsSubmitted,
    OrderStatus,
    VerdictKind,
)
from tests.risk.risk_views import NOW_NS, TICKER, market, order, portfolio_of, quote

Q = quote([(4900, 100)], [(5100, 100)])


def submitted(ts_ns: int, count: int, ticker: str = TICKER) -> OrderActionsSubmitted:
    actions = tuple(CancelOrder(client_order_id=f"c{i}", ticker=ticker) for i in range(count))
    return OrderActionsSubmitted(ts_ns=ts_ns, actions=actions)


def test_action_rate_when_under_the_limit_passes() -> None:
    rule = ActionRateRule({"max_actions": 3, "window_seconds": 10})
    rule.observe(submitted(NOW_NS, 2))
    rule.observe(submitted(NOW_NS, 5, ticker="OTHER"))
    view = market()
    assert rule.check(Q, view, portfolio_of(view)).kind is VerdictKind.PASS


def test_action_rate_when_at_the_limit_holds_what_rests() -> None:
    rule = ActionRateRule({"max_actions": 3, "window_seconds": 10})
    rule.observe(submitted(NOW_NS - 9 * NANOS_PER_SECOND, 1))
    rule.observe(
        OrderActionsSubmitted(
            ts_ns=NOW_NS,
            actions=(
                CreateOrder(client_order_id="a", ticker=TICKER, side=BookSide.BID, price=4800, size=100),
                CreateOrder(client_order_id="b", ticker=TICKER, side=BookSide.ASK, price=5200, size=100),
            ),
        )
    )
    view = market()
    view.working_orders = [
        order(BookSide.BID, 4800, 100, n=1),
        order(BookSide.ASK, 5200, 100, OrderStatus.PENDING_NEW, n=2),
        order(BookSide.ASK, 5300, 100, OrderStatus.PENDING_CANCEL, n=3),
    ]
    verdict = rule.check(Q, view, portfolio_of(view))
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(4800, 100)], [(5200, 100)])
    assert "3 actions within 10s" in verdict.reason


def test_action_rate_when_the_window_slides_past_old_actions_passes_again() -> None:
    rule = ActionRateRule({"max_actions": 3, "window_seconds": 10})
    rule.observe(submitted(NOW_NS - 10 * NANOS_PER_SECOND, 1))
    rule.observe(submitted(NOW_NS, 2))
    view = market()
    assert rule.check(Q, view, portfolio_of(view)).kind is VerdictKind.PASS


def test_action_rate_when_mode_is_block_blocks() -> None:
    rule = ActionRateRule({"max_actions": 2, "mode": "block"})
    rule.observe(submitted(NOW_NS, 2))
    view = market()
    assert rule.check(Q, view, portfolio_of(view)).kind is VerdictKind.BLOCK


def test_action_rate_when_max_actions_is_raised_keeps_counting() -> None:
    rule = ActionRateRule({"max_actions": 2})
    rule.observe(submitted(NOW_NS, 2))
    rule.update_params({"max_actions": 3})
    view = market()
    assert rule.check(Q, view, portfolio_of(view)).kind is VerdictKind.PASS
    rule.observe(submitted(NOW_NS, 1))
    assert rule.check(Q, view, portfolio_of(view)).kind is VerdictKind.ADJUST
