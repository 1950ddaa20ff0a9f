"""The Avellaneda–Stoikov (2008) simulated market: the mid-price walk and the A·e^(−kδ)·dt fills."""

from __future__ import annotations

import itertools
import math

import pytest
from mmframe_backtest.as2008 import As2008FillsExecutor, As2008MidpriceFeed

from mmframe.api import (
    BookSide,
    BookSnapshotReceived,
    CreateOrder,
    Event,
    MarketInfoReceived,
    OrderBook,
    OrderFilled,
)

PAPER = {"s0": 100, "sigma": 2, "dt": 0.005, "horizon": 1}
DT_NS = 5_000_000


def _mids(events: list[Event]) -> list[int]:
    info = events[0]
    assert isinstance(info, MarketInfoReceived)
    book = OrderBook(info.ticker, info.info.payout)
    mids = []
    for event in events[1:]:
        assert isinstance(event, BookSnapshotReceived)
        book.apply(event)
        mid = book.mid()
        assert mid is not None
        mids.append(mid)
    return mids


def test_as2008_feed_when_run_walks_mid_by_sigma_sqrt_dt_each_step() -> None:
    feed = As2008MidpriceFeed(PAPER)
    events = list(feed.events(3))
    info = events[0]
    assert isinstance(info, MarketInfoReceived)
    assert info.info.payout == 10_000_000 and info.info.grid.is_valid(1_000_001)
    assert info.info.close_ts_ns - info.ts_ns == 200 * DT_NS
    mids = _mids(events)
    assert len(mids) == 201 and mids[0] == 1_000_000
    assert {abs(b - a) for a, b in itertools.pairwise(mids)} == {1414}  # $0.1414 = 2·√0.005 on the grid
    assert [e.ts_ns - info.ts_ns for e in events[1:4]] == [0, DT_NS, 2 * DT_NS]


def test_as2008_feed_when_same_seed_repeats_and_other_seed_differs() -> None:
    feed = As2008MidpriceFeed(PAPER)
    assert list(feed.events(5)) == list(feed.events(5))
    assert _mids(list(feed.events(5))) != _mids(list(feed.events(6)))


def test_as2008_feed_when_many_paths_terminal_variance_is_sigma_squared_t() -> None:
    feed = As2008MidpriceFeed(PAPER)
    finals = [(_mids(list(feed.events(seed)))[-1] - 1_000_000) / 10_000 for seed in range(800)]
    mean = sum(finals) / len(finals)
    variance = sum((x - mean) ** 2 for x in finals) / (len(finals) - 1)
    # Var(S_T - s0) = σ²T = 4; the sample variance of 800 paths has a standard error of about 0.2.
    assert abs(mean) < 0.3
    assert variance == pytest.approx(4.0, abs=0.8)


def test_as2008_feed_when_config_bad_raises_clear_error() -> None:
    with pytest.raises(ValueError, match="as2008-midprice: sigma"):
        As2008MidpriceFeed({"sigma": -1})
    with pytest.raises(ValueError, match="s0 must lie inside"):
        As2008MidpriceFeed({"s0": 2000})


def _fill_frequency(side: BookSide, depth: int, steps: int, seed: int = 11) -> float:
    """Rest one order ``depth`` price units from a fixed mid of $100; re-place it after each fill."""
    executor = As2008FillsExecutor({"A": 140, "k": 1.5})
    executor.reset(seed)
    feed = As2008MidpriceFeed(PAPER)
    info = next(iter(feed.events(0)))
    executor.on_market_event(info)
    mid = 1_000_000
    executor.on_market_event(BookSnapshotReceived(ts_ns=0, ticker="AS2008", yes_bids=((mid - 1, 100),),
                                                  no_bids=((10_000_000 - mid - 1, 100),)))
    price = mid - depth if side is BookSide.BID else mid + depth
    fills = 0
    now = 0
    executor.on_step(now)
    for i in range(steps):
        if not executor.orders:
            executor.execute([CreateOrder(client_order_id=f"o{i}", ticker="AS2008", side=side, price=price,
                                          size=100)], now)
        now += DT_NS
        for event in executor.on_step(now):
            assert isinstance(event, OrderFilled) and event.count == 100 and event.fee == 0
            assert event.price == price
            fills += 1
    return fills / steps


@pytest.mark.parametrize(
    ("side", "depth"),
    [(BookSide.BID, 5_000), (BookSide.ASK, 5_000), (BookSide.ASK, 10_000), (BookSide.BID, 20_000)],
)
def test_as2008_fills_when_quoted_at_depth_fill_probability_is_a_exp_minus_k_delta_dt(
    side: BookSide, depth: int
) -> None:
    steps = 20_000
    expected = 140 * math.exp(-1.5 * depth / 10_000) * 0.005
    observed = _fill_frequency(side, depth, steps)
    tolerance = 4 * math.sqrt(expected * (1 - expected) / steps)
    assert abs(observed - expected) < tolerance, (observed, expected)


def test_as2008_fills_when_quote_through_mid_probability_caps_at_one() -> None:
    assert _fill_frequency(BookSide.BID, -20_000, 500) == 1.0


def test_as2008_fills_when_time_does_not_move_nothing_fills() -> None:
    executor = As2008FillsExecutor({})
    executor.reset(1)
    executor.on_market_event(BookSnapshotReceived(ts_ns=0, ticker="X", yes_bids=((4999, 1),), no_bids=((4999, 1),)))
    executor.execute([CreateOrder(client_order_id="o", ticker="X", side=BookSide.BID, price=5000, size=100)], 0)
    assert executor.on_step(0) == [] and executor.on_step(0) == []
