"""``min-spread``: quotes narrower than the minimum are widened on the grid."""

from __future__ import annotations

from decimal import Decimal

import pytest
from mmframe_risk.min_spread import MinSpreadRule

from mmframe.api import ConfigError, VerdictKind
from tests.risk.risk_views import market, portfolio_of, quote


def check(min_spread: str, q):  # type: ignore[no-untyped-def]
    view = market()
    return MinSpreadRule({"min_spread": Decimal(min_spread)}).check(q, view, portfolio_of(view))


def test_min_spread_when_wide_enough_passes() -> None:
    assert check("0.02", quote([(4900, 100)], [(5100, 100)])).kind is VerdictKind.PASS


def test_min_spread_when_too_narrow_widens_both_sides_and_all_levels() -> None:
    verdict = check("0.03", quote([(4900, 100), (4800, 100)], [(5000, 100), (5100, 100)]))
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(4800, 100), (4700, 100)], [(5100, 100), (5200, 100)])


def test_min_spread_when_shortfall_is_odd_rounds_outward_to_the_grid() -> None:
    # 0.01 short of 0.025 is 0.015: bid -0.0075 -> 0.48, ask +0.0075 -> 0.51 (spread 0.03 >= 0.025).
    verdict = check("0.025", quote([(4900, 100)], [(5000, 100)]))
    assert verdict.quote == quote([(4800, 100)], [(5100, 100)])


def test_min_spread_when_a_level_leaves_the_grid_drops_it() -> None:
    verdict = check("0.04", quote([(200, 100), (100, 100)], [(400, 100)]))
    assert verdict.quote == quote([(100, 100)], [(500, 100)])


def test_min_spread_when_one_sided_passes() -> None:
    assert check("0.04", quote([(4900, 100)], [])).kind is VerdictKind.PASS


def test_min_spread_when_zero_is_configured_raises() -> None:
    with pytest.raises(ConfigError, match="min_spread"):
        MinSpreadRule({"min_spread": 0})
