"""The queue-aware ``backtest`` executor: joining a level, trades at and through our price, cancels,
trade/decrease pairing, post-only, takers, fees, amend/decrease/cancel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_backtest.queue import QueueExecutor

from mmframe.api import (
    AmendOrder,
    BookDeltaReceived,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    Event,
    FeeType,
    Leg,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
    TickGrid,
    TradeReported,
)

T = "KX-TEST"
MS = 1_000_000


def _executor(fee_type: FeeType = FeeType.QUADRATIC, **config: object) -> QueueExecutor:
    executor = QueueExecutor(dict(config))
    executor.reset(0)
    info = MarketInfo(T, grid=TickGrid.linear_cent(), fee_type=fee_type)
    executor.on_market_event(MarketInfoReceived(ts_ns=0, ticker=T, info=info))
    # YES bids 0.40 x 10, 0.39 x 5; YES asks 0.45 x 20 (NO bid 0.55), 0.46 x 7 (NO 0.54).
    executor.on_market_event(
        BookSnapshotReceived(ts_ns=0, ticker=T, yes_bids=((4000, 1000), (3900, 500)),
                             no_bids=((5500, 2000), (5400, 700)))
    )
    return executor


def _bid(executor: QueueExecutor, price: int = 4000, size: int = 300, coid: str = "b1", *, post_only: bool = True,
         immediate_or_cancel: bool = False) -> list[Event]:
    return executor.execute([CreateOrder(client_order_id=coid, ticker=T, side=BookSide.BID, price=price, size=size,
                                         post_only=post_only, immediate_or_cancel=immediate_or_cancel)], 1)


def _ask(executor: QueueExecutor, price: int = 4500, size: int = 300, coid: str = "a1") -> list[Event]:
    return executor.execute([CreateOrder(client_order_id=coid, ticker=T, side=BookSide.ASK, price=price, size=size)], 1)


def _sell(price: int, count: int, ts: int = 10 * MS) -> TradeReported:
    """A taker selling YES: hits bids."""
    return TradeReported(ts_ns=ts, ticker=T, price=price, count=count, taker_side=BookSide.ASK)


def _buy(price: int, count: int, ts: int = 10 * MS) -> TradeReported:
    """A taker buying YES: lifts asks."""
    return TradeReported(ts_ns=ts, ticker=T, price=price, count=count, taker_side=BookSide.BID)


def _yes_delta(price: int, delta: int, ts: int = 10 * MS) -> BookDeltaReceived:
    return BookDeltaReceived(ts_ns=ts, ticker=T, leg=Leg.YES, price=price, delta=delta)


def _filled(events: list[Event]) -> int:
    return sum(e.count for e in events if isinstance(e, OrderFilled))


@dataclass(frozen=True)
class QueueCase:
    name: str
    events: tuple[Event, ...]
    filled: int
    queue_left: int | None


# Our bid: 3 contracts at 0.40 behind 10 contracts. Count units: 100 = 1 contract.
QUEUE_CASES = [
    QueueCase("trade smaller than the queue only advances it", (_sell(4000, 400),), 0, 600),
    QueueCase("trade larger than the queue fills the excess", (_sell(4000, 1200),), 200, 0),
    QueueCase("trade consuming queue and all of us fills fully", (_sell(4000, 2000),), 300, None),
    QueueCase("trade through our price fills fully", (_sell(3900, 100),), 300, None),
    QueueCase("trade at a better price does not reach us", (_sell(4100, 5000),), 0, 1000),
    QueueCase("a trade lifting asks never fills a bid", (_buy(4500, 5000),), 0, 1000),
    QueueCase("trade then its book decrease counts once", (_sell(4000, 400), _yes_delta(4000, -400, 11 * MS)), 0, 600),
    QueueCase("decrease then its trade counts once", (_yes_delta(4000, -400), _sell(4000, 400, 11 * MS)), 0, 600),
    QueueCase("decrease then trade reaching us fills the excess",
              (_yes_delta(4000, -1000), _sell(4000, 1200, 11 * MS)), 200, 0),
    QueueCase("a cancel behind us leaves our place", (_yes_delta(4000, -300),), 0, 700),
    QueueCase("a level shrinking below our place moves us up", (_yes_delta(4000, -800),), 0, 200),
    QueueCase("a cancel then a later unrelated trade both count",
              (_yes_delta(4000, -800), _sell(4000, 300, 2_000 * MS)), 100, 0),
    QueueCase("the other side reaching our price fills fully",
              (BookDeltaReceived(ts_ns=10 * MS, ticker=T, leg=Leg.NO, price=6000, delta=100),), 300, None),
]


@pytest.mark.parametrize("case", QUEUE_CASES, ids=[c.name for c in QUEUE_CASES])
def test_queue_executor_when_market_trades_fills_by_queue_position(case: QueueCase) -> None:
    executor = _executor()
    accepted = _bid(executor)
    assert [type(e) for e in accepted] == [OrderAccepted]
    assert executor.orders["b1"].queue == 1000

    produced: list[Event] = []
    for event in case.events:
        produced += executor.on_market_event(event)

    assert _filled(produced) == case.filled
    order = executor.orders.get("b1")
    assert (order.queue if order is not None else None) == case.queue_left
    if order is None:
        assert case.filled == 300


def test_queue_executor_when_joining_empty_level_is_first_in_queue() -> None:
    executor = _executor()
    _bid(executor, price=4100)
    assert executor.orders["b1"].queue == 0
    assert _filled(executor.on_market_event(_sell(4100, 100))) == 100


def test_queue_executor_when_ask_joins_reads_no_ladder_depth() -> None:
    executor = _executor()
    _ask(executor, price=4600)  # NO bid 0.54 x 7 rests there
    assert executor.orders["a1"].queue == 700
    assert _filled(executor.on_market_event(_buy(4600, 800))) == 100


def test_queue_executor_when_post_only_crosses_rejects() -> None:
    executor = _executor()
    events = _bid(executor, price=4500)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == "post_only_cross" and events[0].action == "create"
    assert "b1" not in executor.orders


def test_queue_executor_when_taker_ioc_crosses_takes_then_cancels_rest() -> None:
    executor = _executor()
    events = _bid(executor, price=4600, size=3000, post_only=False, immediate_or_cancel=True)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.price, f.count, f.is_taker) for f in fills] == [(4500, 2000, True), (4600, 700, True)]
    # 20 @ 0.45 taker: 0.07 x 20 x 0.45 x 0.55 = $0.3465, the trade fee the venue reports (fee_cost);
    # the ledger charges the order's balance $0.35 (per-order rounding, API.md §9).
    assert fills[0].fee == 3465
    assert isinstance(events[-1], OrderCanceled) and events[-1].reason == "immediate_or_cancel"
    assert "b1" not in executor.orders


def test_queue_executor_when_maker_fee_series_charges_maker_fee() -> None:
    executor = _executor(FeeType.QUADRATIC_WITH_MAKER_FEES)
    _bid(executor, price=4100, size=1000)
    fill = executor.on_market_event(_sell(4100, 1000))[0]
    assert isinstance(fill, OrderFilled) and not fill.is_taker
    # 0.0175 x 10 x 0.41 x 0.59 = 0.04233 -> $0.0424, rounded up to $0.0001 (the ledger charges $0.05).
    assert fill.fee == 424


def test_queue_executor_when_fees_disabled_charges_nothing() -> None:
    executor = _executor(FeeType.QUADRATIC_WITH_MAKER_FEES, fees=False)
    _bid(executor, price=4100, size=1000)
    fill = executor.on_market_event(_sell(4100, 1000))[0]
    assert isinstance(fill, OrderFilled) and fill.fee == 0


def test_queue_executor_when_amended_same_price_smaller_keeps_queue() -> None:
    executor = _executor()
    _bid(executor)
    executor.on_market_event(_sell(4000, 400))
    events = executor.execute([AmendOrder(client_order_id="b1", new_client_order_id="b2", ticker=T,
                                          side=BookSide.BID, price=4000, size=200)], 2)
    assert isinstance(events[0], OrderAmended) and events[0].new_client_order_id == "b2"
    assert executor.orders["b2"].queue == 600 and executor.orders["b2"].remaining == 200


def test_queue_executor_when_amended_to_new_price_joins_back_of_level() -> None:
    executor = _executor()
    _bid(executor)
    executor.execute([AmendOrder(client_order_id="b1", new_client_order_id="b2", ticker=T, side=BookSide.BID,
                                 price=3900, size=300)], 2)
    assert executor.orders["b2"].queue == 500


def test_queue_executor_when_amend_would_cross_rejects_and_keeps_order() -> None:
    executor = _executor()
    _bid(executor)
    events = executor.execute([AmendOrder(client_order_id="b1", new_client_order_id="b2", ticker=T,
                                          side=BookSide.BID, price=4600, size=300)], 2)
    assert isinstance(events[0], OrderRejected) and events[0].action == "amend"
    assert "b1" in executor.orders


def test_queue_executor_when_decreased_keeps_queue_and_zero_cancels() -> None:
    executor = _executor()
    _bid(executor)
    events = executor.execute([DecreaseOrder(client_order_id="b1", ticker=T, size=100)], 2)
    assert isinstance(events[0], OrderDecreased) and events[0].remaining == 100
    assert executor.orders["b1"].queue == 1000
    events = executor.execute([DecreaseOrder(client_order_id="b1", ticker=T, size=0)], 3)
    assert isinstance(events[0], OrderCanceled)


def test_queue_executor_when_unknown_order_changed_rejects_not_found() -> None:
    executor = _executor()
    events = executor.execute([CancelOrder(client_order_id="nope", ticker=T)], 2)
    assert isinstance(events[0], OrderRejected) and events[0].code == "not_found" and events[0].action == "cancel"


def test_queue_executor_when_cancelled_no_longer_fills() -> None:
    executor = _executor()
    _bid(executor)
    events = executor.execute([CancelOrder(client_order_id="b1", ticker=T)], 2)
    assert isinstance(events[0], OrderCanceled)
    assert executor.on_market_event(_sell(3000, 5000)) == []


def test_queue_executor_when_market_closes_cancels_resting_orders() -> None:
    executor = _executor()
    _bid(executor)
    events = executor.on_market_event(MarketStatusChanged(ts_ns=5, ticker=T, status="closed"))
    assert [type(e) for e in events] == [OrderCanceled]
    assert executor.orders == {}


def test_queue_executor_when_duplicate_client_id_rejects() -> None:
    executor = _executor()
    _bid(executor)
    events = _bid(executor)
    assert isinstance(events[0], OrderRejected) and events[0].code == "order_already_exists"


def test_queue_executor_when_reset_forgets_orders_and_books() -> None:
    executor = _executor()
    _bid(executor)
    executor.reset(1)
    assert executor.orders == {} and executor.books == {}


def test_queue_executor_when_config_unknown_key_raises_clear_error() -> None:
    with pytest.raises(ValueError, match=r"backtest: .*'bogus'"):
        QueueExecutor({"bogus": 1})


_LEVEL_EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.integers(3800, 4200), st.integers(1, 2000)),
        st.tuples(st.just("delta"), st.integers(3900, 4100), st.integers(-1500, 1500)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(events=_LEVEL_EVENTS, gaps=st.lists(st.integers(0, 800), min_size=30, max_size=30))
def test_queue_executor_when_any_trades_and_deltas_fills_never_exceed_size_or_traded_volume(
    events: list[tuple[str, int, int]], gaps: list[int]
) -> None:
    executor = _executor(fill_on_cross=False)
    _bid(executor)
    now = 10 * MS
    traded_at_or_through = 0
    filled = 0
    for (kind, price, amount), gap in zip(events, gaps, strict=False):
        now += gap * MS
        if kind == "trade":
            event: Event = _sell(price, amount, now)
            if price <= 4000:
                traded_at_or_through += amount
        else:
            event = _yes_delta(price, amount, now)
        for produced in executor.on_market_event(event):
            assert isinstance(produced, OrderFilled) and produced.price == 4000 and produced.count > 0
            filled += produced.count
        order = executor.orders.get("b1")
        assert order is None or order.queue >= 0
    assert filled <= 300
    assert filled <= traded_at_or_through or any(k == "trade" and p < 4000 for k, p, _ in events)
