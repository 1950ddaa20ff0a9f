"""``max-exposure``: total worst-case contracts and dollars across markets."""

from __future__ import annotations

from mmframe_risk.max_exposure import MaxExposureRule

from mmframe.api import BookSide, VerdictKind
from tests.risk.risk_views import MarketState, market, order, portfolio_of, quote


def other_market(position: int) -> MarketState:
    view = market(position=position)  # seeded at avg 0.50
    view.ticker = view.position.ticker = "OTHER"
    return view


def test_max_exposure_when_within_both_caps_passes() -> None:
    view = market()
    verdict = MaxExposureRule({"max_contracts": 100, "max_loss": 100}).check(
        quote([(4800, 1000)], [(5200, 1000)]), view, portfolio_of(view)
    )
    assert verdict.kind is VerdictKind.PASS


def test_max_exposure_when_other_markets_use_the_contracts_clips_this_one() -> None:
    view, other = market(), other_market(9000)
    verdict = MaxExposureRule({"max_contracts": 100}).check(
        quote([(4800, 2000)], [(5200, 2000)]), view, portfolio_of(view, other)
    )
    assert verdict.quote == quote([(4800, 1000)], [(5200, 1000)])
    assert "100.00 contracts" in verdict.reason


def test_max_exposure_when_worst_case_dollars_exceed_the_cap_clips_to_fit() -> None:
    # Other market: long 10 YES at 0.50 can lose $5. Cap $10 leaves $5 here:
    # bids at 0.50 can lose 0.50 each if NO wins -> 10 contracts; asks at 0.50 lose 0.50 if YES wins -> 10.
    view, other = market(), other_market(1000)
    verdict = MaxExposureRule({"max_loss": 10}).check(
        quote([(5000, 2000)], [(5100, 3000)]), view, portfolio_of(view, other)
    )
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(5000, 1000)], [(5100, 1000)])


def test_max_exposure_when_live_orders_elsewhere_count_them() -> None:
    view, other = market(), other_market(0)
    other.working_orders = [order(BookSide.BID, 4000, 2500, ticker="OTHER")]  # can lose $10
    verdict = MaxExposureRule({"max_loss": 10}).check(quote([(5000, 1000)]), view, portfolio_of(view, other))
    assert verdict.quote == quote()


def test_max_exposure_when_an_amend_is_in_flight_counts_its_worse_terms() -> None:
    # A bid of 10 at 0.40 being amended to 20 at 0.50: up to $10 if NO wins, the whole $10 budget.
    view = market()
    amending = order(BookSide.BID, 4000, 1000)
    amending.pending_change, amending.pending_price, amending.pending_size = True, 5000, 2000
    view.working_orders = [amending]
    verdict = MaxExposureRule({"max_loss": 10}).check(quote([(4900, 1000)]), view, portfolio_of(view))
    assert verdict.quote == quote()
