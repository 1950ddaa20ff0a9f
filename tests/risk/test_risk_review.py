"""Risk-rule edge cases found in review."""

from __future__ import annotations

from mmframe_risk.max_exposure import MaxExposureRule

from mmframe.api import BookSide, VerdictKind
from tests.risk.risk_views import market, order, portfolio_of, quote


def test_max_exposure_when_an_amend_is_in_flight_elsewhere_counts_its_worse_terms() -> None:
    # OTHER: a bid of 10 at 0.40 being amended to 20 at 0.50 can lose $10 if NO wins: the whole
    # $10 budget, so nothing new may be quoted here.
    view, other = market(), market()
    other.ticker = other.position.ticker = "OTHER"
    amending = order(BookSide.BID, 4000, 1000, ticker="OTHER")
    amending.pending_change, amending.pending_price, amending.pending_size = True, 5000, 2000
    other.working_orders = [amending]
    verdict = MaxExposureRule({"max_loss": 10}).check(quote([(5000, 1000)]), view, portfolio_of(view, other))
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote()
