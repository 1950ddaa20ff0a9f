"""``daily-loss``: halts on net loss or trailing drawdown, with an optional cool-down."""

from __future__ import annotations

from decimal import Decimal

from mmframe_risk.daily_loss import DailyLossRule

from mmframe.api import NANOS_PER_SECOND, TradingResumed, VerdictKind
from tests.risk.risk_views import NOW_NS, PortfolioState, market, quote

Q = quote([(4800, 100)], [(5200, 100)])
VIEW = market()


def pnl(
    realised: int = 0, unrealised: int = 0, fees: int = 0, day_start: int = 0, now_ns: int = NOW_NS
) -> PortfolioState:
    return PortfolioState(
        realised_pnl=realised, unrealised_pnl=unrealised, fees=fees, day_start_pnl=day_start, now_ns=now_ns
    )


def test_daily_loss_when_loss_is_under_the_limit_passes() -> None:
    rule = DailyLossRule({"max_loss": 100})
    assert rule.check(Q, VIEW, pnl(realised=-500_000, fees=-1)).kind is VerdictKind.PASS


def test_daily_loss_when_net_of_fees_and_carried_pnl_reaches_the_limit_halts() -> None:
    # -$40 realised - $5 fees - $30 unrealised - $25 from an earlier run = -$100.
    rule = DailyLossRule({"max_loss": 100})
    verdict = rule.check(Q, VIEW, pnl(-400_000, -300_000, 50_000, -250_000))
    assert verdict.kind is VerdictKind.HALT
    assert verdict.resume_after_ns is None
    assert "-100.0000" in verdict.reason


def test_daily_loss_when_drawdown_from_the_high_reaches_the_limit_halts() -> None:
    rule = DailyLossRule({"max_loss": 100, "max_drawdown": Decimal("20")})
    assert rule.check(Q, VIEW, pnl(realised=300_000)).kind is VerdictKind.PASS  # high $30
    assert rule.check(Q, VIEW, pnl(realised=100_001)).kind is VerdictKind.PASS
    verdict = rule.check(Q, VIEW, pnl(realised=100_000))
    assert verdict.kind is VerdictKind.HALT
    assert "high of $30.0000" in verdict.reason


def test_daily_loss_when_cool_down_is_set_asks_the_runtime_to_resume_after_it() -> None:
    rule = DailyLossRule({"max_loss": 100, "max_drawdown": 20, "resume_after_seconds": 60})
    rule.check(Q, VIEW, pnl(realised=300_000))
    verdict = rule.check(Q, VIEW, pnl(realised=100_000))
    assert (verdict.kind, verdict.resume_after_ns) == (VerdictKind.HALT, 60 * NANOS_PER_SECOND)


def test_daily_loss_when_consulted_after_a_halt_restarts_the_high_water_mark() -> None:
    # The runtime asks again only once it resumed (cool-down elapsed or an operator).
    rule = DailyLossRule({"max_loss": 100, "max_drawdown": 20, "resume_after_seconds": 60})
    rule.check(Q, VIEW, pnl(realised=300_000))
    assert rule.check(Q, VIEW, pnl(realised=100_000)).kind is VerdictKind.HALT
    later = NOW_NS + 60 * NANOS_PER_SECOND
    assert rule.check(Q, VIEW, pnl(realised=100_000, now_ns=later)).kind is VerdictKind.PASS
    assert rule.high_water == 100_000
    assert rule.check(Q, VIEW, pnl(realised=-100_000, now_ns=later)).kind is VerdictKind.HALT


def test_daily_loss_when_still_past_the_daily_limit_after_resuming_halts_again() -> None:
    rule = DailyLossRule({"max_loss": 10})
    assert rule.check(Q, VIEW, pnl(realised=-100_000)).kind is VerdictKind.HALT
    rule.observe(TradingResumed(ts_ns=NOW_NS, reason="operator"))
    assert rule.check(Q, VIEW, pnl(realised=-100_000)).kind is VerdictKind.HALT
    assert rule.check(Q, VIEW, pnl(realised=0)).kind is VerdictKind.PASS
