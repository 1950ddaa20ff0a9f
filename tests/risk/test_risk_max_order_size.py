"""``max-order-size``: each level is clipped to a size and an optional dollar cap."""

from __future__ import annotations

from decimal import Decimal

from mmframe_risk.max_order_size import MaxOrderSizeRule

from mmframe.api import VerdictKind
from tests.risk.risk_views import market, portfolio_of, quote


def test_max_order_size_when_levels_fit_passes() -> None:
    view = market()
    verdict = MaxOrderSizeRule({"max_size": 10}).check(
        quote([(4800, 1000)], [(5200, 1000)]), view, portfolio_of(view)
    )
    assert verdict.kind is VerdictKind.PASS


def test_max_order_size_when_a_level_is_too_big_clips_it() -> None:
    view = market()
    verdict = MaxOrderSizeRule({"max_size": 5}).check(
        quote([(4800, 1000), (4700, 300)], [(5200, 1000)]), view, portfolio_of(view)
    )
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(4800, 500), (4700, 300)], [(5200, 500)])


def test_max_order_size_when_notional_is_capped_clips_by_cost_of_each_side() -> None:
    # $2 buys 5 YES at 0.40; an ask at 0.60 risks 0.40 per contract too: 5.
    view = market()
    rule = MaxOrderSizeRule({"max_size": 100, "max_notional": Decimal("2")})
    verdict = rule.check(quote([(4000, 1000)], [(6000, 1000)]), view, portfolio_of(view))
    assert verdict.quote == quote([(4000, 500)], [(6000, 500)])
    assert "$2.0000" in verdict.reason
