"""WebSocket message shapes of API.md §6 -> mmframe events with exact integers."""

from __future__ import annotations

import orjson
import pytest
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import MalformedMessageError
from mmframe_kalshi.models import Market, Series

from mmframe.api import (
    BookDeltaReceived,
    BookSide,
    BookSnapshotReceived,
    FeeType,
    Leg,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    OrderFilled,
    PositionReported,
    TickGrid,
    TradeReported,
)
from mmframe.domain.grid import PriceRange
from tests.kalshi.samples import sample

TS = 1_700_000_000_000_000_000

SNAPSHOT = {
    "type": "orderbook_snapshot",
    "sid": 2,
    "seq": 2,
    "msg": {
        "market_ticker": "FED-23DEC-T3.00",
        "market_id": "9b0f",
        "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]],
        "no_dollars_fp": [["0.5400", "20.00"], ["0.5600", "146.00"]],
    },
}
DELTA = {
    "type": "orderbook_delta",
    "sid": 2,
    "seq": 3,
    "msg": {
        "market_ticker": "FED-23DEC-T3.00",
        "market_id": "9b0f",
        "price_dollars": "0.960",
        "delta_fp": "-54.00",
        "side": "yes",
        "ts_ms": 1669149841000,
    },
}


def test_frame_when_snapshot_parses_sid_seq_and_both_ladders_in_leg_prices() -> None:
    frame = parsing.parse_frame(orjson.dumps(SNAPSHOT))
    assert (frame.type, frame.sid, frame.seq) == ("orderbook_snapshot", 2, 2)
    event = parsing.book_snapshot(frame.msg, TS)
    assert event == BookSnapshotReceived(
        ts_ns=TS,
        ticker="FED-23DEC-T3.00",
        yes_bids=((800, 30_000), (2200, 33_300)),
        no_bids=((5400, 2000), (5600, 14_600)),
    )


def test_snapshot_when_one_side_empty_omits_it() -> None:
    event = parsing.book_snapshot({"market_ticker": "T", "no_dollars_fp": [["0.4800", "3.00"]]}, TS)
    assert event.yes_bids == () and event.no_bids == ((4800, 300),)


def test_delta_when_three_decimal_price_parses_exactly() -> None:
    event = parsing.book_delta(DELTA["msg"], TS)
    assert event == BookDeltaReceived(
        ts_ns=TS, ticker="FED-23DEC-T3.00", leg=Leg.YES, price=9600, delta=-5400
    )


def test_trade_when_taker_book_side_given_maps_side_and_yes_price() -> None:
    msg = {
        "trade_id": "t-1",
        "market_ticker": "T",
        "yes_price_dollars": "0.3600",
        "no_price_dollars": "0.6400",
        "count_fp": "136.00",
        "taker_outcome_side": "no",
        "taker_book_side": "ask",
        "ts": 1669149841,
    }
    assert parsing.trade(msg, TS) == TradeReported(
        ts_ns=TS, ticker="T", price=3600, count=13_600, taker_side=BookSide.ASK, trade_id="t-1"
    )


def test_fill_when_ws_fill_maps_fee_side_and_client_id() -> None:
    msg = {
        "trade_id": "d91bc706",
        "order_id": "ee587a1c",
        "client_order_id": "mm-1",
        "market_ticker": "HIGHNY-22DEC23-B53.5",
        "is_taker": True,
        "outcome_side": "yes",
        "book_side": "bid",
        "side": "yes",
        "action": "buy",
        "yes_price_dollars": "0.7500",
        "count_fp": "278.00",
        "fee_cost": "0.010000",
        "post_position_fp": "500.00",
        "ts": 1671899397,
        "subaccount": 0,
    }
    assert parsing.fill(msg, TS) == OrderFilled(
        ts_ns=TS,
        client_order_id="mm-1",
        ticker="HIGHNY-22DEC23-B53.5",
        order_id="ee587a1c",
        trade_id="d91bc706",
        side=BookSide.BID,
        price=7500,
        count=27_800,
        fee=100,
        is_taker=True,
    )


def test_fill_when_sell_yes_legacy_fields_only_is_ask() -> None:
    msg = {
        "trade_id": "x",
        "order_id": "o",
        "market_ticker": "T",
        "side": "yes",
        "action": "sell",
        "yes_price_dollars": "0.4000",
        "count_fp": "1.00",
    }
    assert parsing.fill(msg, TS).side is BookSide.ASK


def test_user_order_when_asyncapi_example_parses_to_order() -> None:
    msg = {
        "order_id": "ee587a1c",
        "ticker": "FED-23DEC-T3.00",
        "status": "resting",
        "side": "yes",
        "is_yes": True,
        "yes_price_dollars": "0.3500",
        "fill_count_fp": "0.00",
        "remaining_count_fp": "10.00",
        "initial_count_fp": "10.00",
        "client_order_id": "my-order-1",
        "order_group_id": "og_123",
        "created_time": "2024-12-01T10:00:00Z",
    }
    order = parsing.user_order(msg)
    assert (order.side, order.price, order.remaining, order.order_group_id) == (
        BookSide.BID,
        3500,
        1000,
        "og_123",
    )


def test_market_position_when_negative_is_short_yes() -> None:
    msg = {"user_id": "u", "market_ticker": "T", "position_fp": "-10.00", "position_cost_dollars": "9.0300"}
    assert parsing.market_position(msg, TS) == PositionReported(ts_ns=TS, ticker="T", position=-1000)


def test_order_group_update_when_triggered_parses() -> None:
    update = parsing.order_group_update(
        {"event_type": "triggered", "order_group_id": "g-1", "contracts_limit_fp": "50.00", "ts_ms": 1}
    )
    assert update == parsing.OrderGroupUpdate("triggered", "g-1", 5000)


def test_lifecycle_when_deactivated_reports_inactive_and_updates_info() -> None:
    info = MarketInfo(ticker="T", status="active", grid=TickGrid.linear_cent())
    events = parsing.lifecycle(
        {"event_type": "deactivated", "market_ticker": "T", "is_deactivated": True}, TS, info
    )
    assert events[0] == MarketStatusChanged(ts_ns=TS, ticker="T", status="inactive")
    assert isinstance(events[1], MarketInfoReceived) and events[1].info.status == "inactive"


def test_lifecycle_when_determined_carries_result() -> None:
    events = parsing.lifecycle(
        {"event_type": "determined", "market_ticker": "T", "result": "yes", "determination_ts": 1}, TS, None
    )
    assert events == [MarketStatusChanged(ts_ns=TS, ticker="T", status="determined", result="yes")]


def test_lifecycle_when_grid_changes_publishes_new_info() -> None:
    info = MarketInfo(ticker="T", grid=TickGrid.linear_cent())
    ranges = [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]
    msg = {"event_type": "price_level_structure_updated", "market_ticker": "T", "price_ranges": ranges}
    (event,) = parsing.lifecycle(msg, TS, info)
    assert isinstance(event, MarketInfoReceived)
    assert event.info.grid.ranges == (PriceRange(0, 10_000, 10),)


def test_lifecycle_when_close_date_updated_moves_close_time() -> None:
    info = MarketInfo(ticker="T", close_ts_ns=5)
    (event,) = parsing.lifecycle(
        {"event_type": "close_date_updated", "market_ticker": "T", "close_ts": 1700}, TS, info
    )
    assert event.info.close_ts_ns == 1700 * 10**9


def test_market_info_when_series_has_maker_fees_carries_fee_type() -> None:
    market = Market.from_json(sample("get_markets_response")[1]["markets"][0])
    series = Series(ticker="KXHIGHNY", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES)
    event = parsing.market_info(market, series, TS)
    assert event.info.fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES
    assert event.info.grid.min_price == 10 and event.info.grid.is_valid(1100)


@pytest.mark.parametrize(
    ("parse", "msg", "match"),
    [
        (
            parsing.book_delta,
            {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1.00", "side": "up"},
            "yes/no",
        ),
        (
            parsing.book_delta,
            {"market_ticker": "T", "price_dollars": 0.5, "delta_fp": "1.00", "side": "yes"},
            "str",
        ),
        (parsing.book_snapshot, {"market_ticker": "T", "yes_dollars_fp": [["0.5"]]}, "price, count"),
        (parsing.fill, {"trade_id": "x", "market_ticker": "T"}, "order_id"),
        (parsing.trade, "not an object", "not an object"),
    ],
)
def test_parse_when_message_malformed_raises_typed_error(parse: object, msg: object, match: str) -> None:
    with pytest.raises(MalformedMessageError, match=match):
        parse(msg, TS)  # type: ignore[operator]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'{"type": 5}', b'{"type": "x", "seq": "1"}'])
def test_frame_when_not_a_kalshi_frame_raises_typed_error(raw: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        parsing.parse_frame(raw)
