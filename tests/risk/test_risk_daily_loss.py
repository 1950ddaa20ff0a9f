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


def test_daily_loss_when_halted_stays_halted_until_the_cool_down_ends() -> None:
    rule = DailyLossRule({"max_loss": 100, "max_drawdown": 20, "resume_after_seconds": 60})
    rule.check(Q, VIEW, pnl(realised=300_000))
    first = rule.check(Q, VIEW, pnl(realised=100_000))
    assert (first.kind, first.resume_after_ns) == (VerdictKind.HALT, 60 * NANOS_PER_SECOND)
    later = rule.check(Q, VIEW, pnl(realised=100_000, now_ns=NOW_NS + 59 * NANOS_PER_SECOND))
    assert (later.kind, later.resume_after_ns) == (VerdictKind.HALT, NANOS_PER_SECOND)
    # After the cool-down the high-water mark restarts from the current PnL.
    resumed = rule.check(Q, VIEW, pnl(realised=100_000, now_ns=NOW_NS + 60 * NANOS_PER_SECOND))
    assert resumed.kind is VerdictKind.PASS
    assert rule.high_water == 100_000


def test_daily_loss_when_operator_resumes_clears_the_halt() -> None:
    rule = DailyLossRule({"max_loss": 10})
    assert rule.check(Q, VIEW, pnl(realised=-100_000)).kind is VerdictKind.HALT
    assert rule.check(Q, VIEW, pnl(realised=0)).kind is VerdictKind.HALT
    rule.observe(TradingResumed(ts_ns=NOW_NS, reason="operator"))
    assert rule.check(Q, VIEW, pnl(realised=0)).kind is VerdictKind.PASS
