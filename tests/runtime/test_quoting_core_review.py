"""QuotingCore edge cases found in review: stray tickers, duplicate fills, pause, payout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import (
    BookInvalidated,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    Event,
    Level,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    MarketView,
    OrderAccepted,
    OrderFilled,
    Quote,
)
from mmframe.runtime.quoting import QuotingCore


class FixedStrategy:
    """Bids 0.40 and asks 0.60, one contract each, in any market it is asked about."""

    def __init__(self) -> None:
        self.quoted: list[str] = []

    def quote(self, market: MarketView) -> Quote:
        self.quoted.append(market.ticker)
        return Quote(market.ticker, (Level(4_000, 100),), (Level(6_000, 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


def _core() -> tuple[QuotingCore, FixedStrategy, list[Event]]:
    strategy = FixedStrategy()
    emitted: list[Event] = []
    core = QuotingCore(strategy=strategy, rules=[], now_ns=lambda: 0, emit=emitted.append)
    core.market("PIPE")
    return core, strategy, emitted


def _snapshot(ticker: str) -> BookSnapshotReceived:
    return BookSnapshotReceived(ts_ns=0, ticker=ticker, yes_bids=((3_000, 1_000),), no_bids=((3_000, 1_000),))


def _fill(ticker: str, trade_id: str, client_order_id: str = "gone-1", count: int = 100) -> OrderFilled:
    return OrderFilled(
        ts_ns=0,
        client_order_id=client_order_id,
        ticker=ticker,
        order_id="o-1",
        trade_id=trade_id,
        side=BookSide.BID,
        price=4_000,
        count=count,
        fee=0,
        is_taker=False,
    )


def test_quoting_core_when_event_for_unknown_ticker_never_quotes_it() -> None:
    core, strategy, _ = _core()
    core.apply(_snapshot("STRAY"))
    core.apply(_fill("STRAY", "t-1"))
    actions = [a for t in core.take_dirty() for a in core.requote(t)] + [
        a for t in ["STRAY"] for a in core.requote(t)
    ]
    core.housekeeping()
    actions += [a for t in core.take_dirty() for a in core.requote(t)]
    assert "STRAY" not in strategy.quoted
    assert not [a for a in actions if a.ticker == "STRAY"]
    # ... but the fill is money and is booked.
    assert core.ledger.position("STRAY").position == 100


def test_quoting_core_when_order_rests_in_stray_market_cancels_it() -> None:
    core, _, _ = _core()
    core.tracker.submitted(
        CreateOrder(client_order_id="old-1", ticker="STRAY", side=BookSide.BID, price=4_000, size=100), 0
    )
    core.apply(OrderAccepted(ts_ns=0, client_order_id="old-1", ticker="STRAY", order_id="o-1"))
    actions = core.requote("STRAY")
    assert actions == [CancelOrder(client_order_id="old-1", ticker="STRAY")]


def test_quoting_core_when_fill_repeated_books_it_once() -> None:
    core, _, _ = _core()
    core.apply(_snapshot("PIPE"))
    [create, *_] = [a for a in core.requote("PIPE") if isinstance(a, CreateOrder) and a.side is BookSide.BID]
    core.apply(OrderAccepted(ts_ns=0, client_order_id=create.client_order_id, ticker="PIPE", order_id="o-1"))
    core.apply(_fill("PIPE", "t-9", create.client_order_id, count=40))
    core.apply(_fill("PIPE", "t-9", create.client_order_id, count=40))  # WS and REST both report it
    assert core.ledger.position("PIPE").position == 40


def test_quoting_core_when_fill_repeated_after_order_finished_books_it_once() -> None:
    core, _, _ = _core()
    core.apply(_fill("PIPE", "t-1", "unknown-1"))
    core.apply(_fill("PIPE", "t-1", "unknown-1"))
    assert core.ledger.position("PIPE").position == 100


def test_quoting_core_when_paused_pulls_quotes_of_quiet_markets() -> None:
    core, _, _ = _core()
    core.apply(_snapshot("PIPE"))
    created = [a for t in core.take_dirty() for a in core.requote(t)]
    for action in created:
        assert isinstance(action, CreateOrder)
        core.apply(OrderAccepted(ts_ns=0, client_order_id=action.client_order_id, ticker="PIPE", order_id="o"))
    core.take_dirty()
    core.pause()
    actions = [a for t in core.take_dirty() for a in core.requote(t)]
    assert sorted(a.client_order_id for a in actions if isinstance(a, CancelOrder)) == sorted(
        a.client_order_id for a in created
    )


def test_quoting_core_when_market_payout_is_not_one_dollar_position_uses_it() -> None:
    core, _, _ = _core()
    core.apply(MarketInfoReceived(ts_ns=0, ticker="PIPE", info=MarketInfo("PIPE", payout=5_000)))
    assert core.ledger.position("PIPE").payout == 5_000
    core.market("OTHER", MarketInfo("OTHER", payout=2_500))
    assert core.ledger.position("OTHER").payout == 2_500


def test_quoting_core_when_close_time_moves_the_market_info_follows() -> None:
    core, _, _ = _core()
    core.apply(MarketInfoReceived(ts_ns=0, ticker="PIPE", info=MarketInfo("PIPE", close_ts_ns=10**18)))
    core.apply(MarketStatusChanged(ts_ns=0, ticker="PIPE", status="active", close_ts_ns=5 * 10**17))
    info = core.markets["PIPE"].info
    assert info is not None and info.close_ts_ns == 5 * 10**17
    core.apply(MarketStatusChanged(ts_ns=0, ticker="NEW", status="active", close_ts_ns=7))
    info = core.markets["NEW"].info
    assert info is not None and info.close_ts_ns == 7


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["PIPE", "STRAY", "OTHER"]), st.integers(0, 3)), max_size=30))
def test_quoting_core_when_random_events_then_orders_only_go_to_pipeline_markets(
    steps: list[tuple[str, int]],
) -> None:
    core, strategy, _ = _core()
    for n, (ticker, kind) in enumerate(steps):
        if kind == 0:
            core.apply(_snapshot(ticker))
        elif kind == 1:
            core.apply(_fill(ticker, f"t-{n}", f"x-{n}"))
        elif kind == 2:
            core.apply(MarketStatusChanged(ts_ns=0, ticker=ticker, status="active"))
        else:
            core.housekeeping()
        for dirty in core.take_dirty():
            for action in core.requote(dirty):
                assert action.ticker == "PIPE" or isinstance(action, CancelOrder), action
    assert set(strategy.quoted) <= {"PIPE"}


def test_portfolio_when_book_invalidated_marks_position_at_last_mid_not_zero() -> None:
    core, _, _ = _core()
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="PIPE", yes_bids=((2_900, 1_000),), no_bids=((6_900, 1_000),)))
    core.apply(_fill("PIPE", "t1", count=1_000))  # bought 10 at 0.40 (see _fill); the mid is 0.30
    loss = core.portfolio.unrealised_pnl
    assert loss < 0

    core.apply(BookInvalidated(ts_ns=1, ticker="PIPE", reason="seq gap"))

    assert core.portfolio.unrealised_pnl == loss


def test_quoting_core_when_fill_repeated_returns_false_and_changes_nothing() -> None:
    core, _, _ = _core()
    assert core.apply(_fill("PIPE", "t-9")) is True
    core.take_dirty()
    position = core.market_state("PIPE").position.position

    assert core.apply(_fill("PIPE", "t-9")) is False  # the same trade, reported again (REST after WS)
    assert core.market_state("PIPE").position.position == position == 100
    assert core.take_dirty() == []
