"""``price-band``: prices stay inside absolute bounds and near the mid and the last trade."""

from __future__ import annotations

from decimal import Decimal

from mmframe_risk.price_band import PriceBandRule

from mmframe.api import VerdictKind
from tests.risk.risk_views import MarketState, market, portfolio_of, quote

D = Decimal


def check(q, view: MarketState | None = None, **config: object):  # type: ignore[no-untyped-def]
    view = view or market()  # mid 0.50
    return PriceBandRule(config).check(q, view, portfolio_of(view))


def test_price_band_when_inside_passes() -> None:
    assert (
        check(quote([(4800, 100)], [(5200, 100)]), min_price=D("0.03"), max_price=D("0.97")).kind
        is VerdictKind.PASS
    )


def test_price_band_when_a_bid_is_above_the_band_moves_it_down_to_the_edge() -> None:
    wide = market([(4000, 1000)], [(4000, 1000)])  # 0.40 / 0.60, mid 0.50
    verdict = check(quote([(5600, 100), (5400, 100)], [(5800, 100)]), wide, max_distance_from_mid=D("0.05"))
    assert verdict.kind is VerdictKind.ADJUST
    # band 0.45..0.55: the bid 0.56 moves to 0.55, the ask 0.58 is out on the harmless side: dropped.
    assert verdict.quote == quote([(5500, 100), (5400, 100)], [])


def test_price_band_when_clipping_a_bid_would_reach_the_best_ask_drops_it_instead() -> None:
    # Book 0.48 / 0.52, band 0.45..0.55 around the mid: the 0.60 bid clipped to 0.55 would rest above
    # the best ask (a post-only reject, and before issue 11 a storm of them); it is dropped.
    verdict = check(quote([(6000, 100), (5000, 100)], [(6200, 100)]), max_distance_from_mid=D("0.05"))
    assert verdict.kind is VerdictKind.ADJUST
    assert verdict.quote == quote([(5000, 100)], [])


def test_price_band_when_clipping_a_bid_would_land_on_the_best_ask_drops_it() -> None:
    book = market([(4800, 1000)], [(4500, 1000)])  # 0.48 / 0.55, mid 0.515: band top 0.565 -> ask 0.55
    verdict = check(quote([(6000, 100)], [(6100, 100)]), book, max_distance_from_mid=D("0.04"))
    # band 0.475..0.555: 0.60 -> 0.55 = the best ask: dropped; the ask 0.61 is above the band: dropped.
    assert verdict.quote == quote([], [])


def test_price_band_when_clipping_an_ask_would_reach_the_best_bid_drops_it_instead() -> None:
    book = market([(5000, 1000)], [(4900, 1000)])  # 0.50 / 0.51
    verdict = check(quote([(4800, 100)], [(4000, 100), (5300, 100)]), book, min_price=D("0.50"))
    # the 0.40 ask moved up to the 0.50 minimum would rest on the best bid: dropped, never moved there.
    assert verdict.quote == quote([], [(5300, 100)])


def test_price_band_when_an_ask_is_below_the_minimum_moves_it_up() -> None:
    low = market([(100, 1000)], [(9500, 1000)])  # 0.01 / 0.05
    verdict = check(quote([(100, 100)], [(200, 100), (400, 100)]), low, min_price=D("0.03"))
    assert verdict.quote == quote([], [(300, 100), (400, 100)])


def test_price_band_when_last_trade_is_far_uses_the_tighter_band() -> None:
    view = market()
    view.last_trade_price = 4000
    verdict = check(quote([(4800, 100)], [(5200, 100)]), view, max_distance_from_last_trade=D("0.1"))
    assert verdict.quote == quote([(4800, 100)], [])


def test_price_band_when_no_trade_yet_skips_the_last_trade_band() -> None:
    assert check(quote([(4800, 100)]), max_distance_from_last_trade=D("0.01")).kind is VerdictKind.PASS


def test_price_band_when_action_is_block_blocks_on_any_breach() -> None:
    verdict = check(quote([(4800, 100)], [(9900, 100)]), max_price=D("0.98"), action="block")
    assert verdict.kind is VerdictKind.BLOCK
    assert "0.9800" in verdict.reason


def test_price_band_when_mid_is_needed_but_book_is_one_sided_blocks() -> None:
    verdict = check(quote([(4800, 100)]), market([(4800, 100)], []), max_distance_from_mid=D("0.05"))
    assert verdict.kind is VerdictKind.BLOCK
