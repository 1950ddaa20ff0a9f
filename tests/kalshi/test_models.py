"""REST sample bodies -> typed results with exact integers."""

from __future__ import annotations

import pytest
from mmframe_kalshi.errors import InsufficientBalance, MalformedMessageError
from mmframe_kalshi.models import (
    Balance,
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderAmendedResult,
    Orderbook,
    OrderCanceledResult,
    OrderDecreasedResult,
    OrderPlaced,
    Series,
    rfc3339_ns,
)

from mmframe.api import BookSide, FeeType, OrderStatus
from mmframe.domain.grid import PriceRange
from tests.kalshi.samples import sample


def test_market_when_wire_sample_parses_exact_fields() -> None:
    market = Market.from_json(sample("get_market_response")[0]["market"])
    assert market.ticker == "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
    assert (market.yes_bid, market.yes_ask, market.last_price) == (4700, 5200, 9900)
    assert (market.volume, market.open_interest) == (200, 200)
    assert market.grid is not None and market.grid.ranges == (PriceRange(0, 10_000, 100),)
    assert market.close_ts_ns == 1_782_403_200 * 10**9
    assert market.series_guess == "KXWTACHALLENGERMATCH"


def test_market_when_tapered_grid_builds_three_ranges_and_info() -> None:
    market = Market.from_json(sample("get_markets_response")[1]["markets"][0])
    assert market.grid is not None
    assert market.grid.ranges == (
        PriceRange(0, 1000, 10),
        PriceRange(1000, 9000, 100),
        PriceRange(9000, 10_000, 10),
    )
    info = market.to_info(FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000)
    assert (info.ticker, info.status, info.fee_type, info.event_ticker) == (
        "KXHIGHNY-26JUN12-T88",
        "active",
        FeeType.QUADRATIC_WITH_MAKER_FEES,
        "KXHIGHNY-26JUN12",
    )
    assert info.grid is market.grid


def test_orderbook_when_docs_sample_keeps_both_ladders_in_leg_prices() -> None:
    book = Orderbook.from_json("T", sample("get_market_orderbook_response")[0])
    assert book.yes_bids[0] == (100, 20_000)
    assert book.yes_bids[-1] == (4200, 1300)
    assert book.no_bids[-1] == (5600, 1700)
    assert len(book.yes_bids) == 12 and len(book.no_bids) == 10


def test_positions_when_samples_parse_signed_counts() -> None:
    real = MarketPosition.from_json(sample("get_portfolio_positions_response")[0]["market_positions"][0])
    assert (real.position, real.exposure, real.fees_paid, real.resting_orders_count) == (300, 25_000, 189, 0)
    short = MarketPosition.from_json(sample("get_portfolio_positions_response")[1]["market_positions"][0])
    assert short.position == -1000


def test_fills_when_samples_parse_fee_side_and_price() -> None:
    taker = Fill.from_json(sample("get_portfolio_fills_response")[0]["fills"][0])
    assert (taker.side, taker.price, taker.count, taker.fee, taker.is_taker) == (
        BookSide.BID,
        5200,
        100,
        175,
        True,
    )
    assert taker.trade_id == "f4a42159-b500-57c6-efa2-c31d94d916c1"
    assert taker.ts_ns == rfc3339_ns("2026-06-11T06:29:30.164956Z") == 1_781_159_370_164_956_000
    maker = Fill.from_json(sample("get_portfolio_fills_response")[1]["fills"][0])
    assert (maker.side, maker.price, maker.count, maker.fee, maker.is_taker) == (
        BookSide.ASK,
        970,
        1000,
        0,
        False,
    )


def test_orders_when_samples_parse_status_side_and_counts() -> None:
    orders = [Order.from_json(o) for o in sample("get_portfolio_orders_response")[1]["orders"]]
    bid, ask = orders
    assert (bid.side, bid.price, bid.remaining, bid.status, bid.order_group_id) == (
        BookSide.BID,
        950,
        2500,
        "resting",
        "3f9c1d2e-7a8b-4c6d-9e0f-1a2b3c4d5e6f",
    )
    assert (ask.side, ask.price, ask.filled, ask.remaining, ask.initial) == (
        BookSide.ASK,
        970,
        1000,
        2500,
        3500,
    )
    working = ask.to_working()
    assert working.status is OrderStatus.PARTIALLY_FILLED and working.client_order_id == "mm-ask-0001"
    wire = [Order.from_json(o) for o in sample("get_portfolio_orders_response")[0]["orders"]]
    assert wire[0].status == "executed" and wire[0].fees == 175
    assert wire[4].side is BookSide.ASK and wire[4].price == 200


def test_create_results_when_samples_parse_including_fills_and_errors() -> None:
    ioc = OrderPlaced.from_json(sample("create_order_v2_response")[2])
    assert (ioc.filled, ioc.remaining, ioc.average_fill_price, ioc.average_fee_paid) == (100, 0, 5200, 175)
    batch = [OrderPlaced.from_json(i) for i in sample("batch_create_orders_v2_response")[1]["orders"]]
    assert batch[0].error is None and batch[0].remaining == 1000
    assert isinstance(batch[1].error, InsufficientBalance)
    assert batch[1].client_order_id == "2a0e3fc9-b593-4aa3-96e5-82f7f7566c2a"


def test_cancel_amend_decrease_results_when_samples_parse() -> None:
    cancel = OrderCanceledResult.from_json(sample("cancel_order_v2_response")[1])
    assert (cancel.order_id, cancel.client_order_id, cancel.reduced_by) == (
        "2597b999-f887-4195-8bac-c3f97a1f2021",
        "",
        100,
    )
    amend = OrderAmendedResult.from_json(sample("amend_order_v2_response")[1])
    assert (amend.remaining, amend.filled, amend.average_fill_price, amend.average_fee_paid) == (
        300,
        500,
        5800,
        171,
    )
    decrease = OrderDecreasedResult.from_json(sample("decrease_order_v2_response")[0])
    assert decrease.remaining == 800


def test_balance_when_cents_convert_to_price_units() -> None:
    assert Balance.from_json({"balance": 12345, "portfolio_value": 500}) == Balance(1_234_500, 50_000)


def test_series_when_fee_fields_parse() -> None:
    series = Series.from_json(
        {"ticker": "KXHIGHNY", "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 1}
    )
    assert (series.fee_type, series.fee_multiplier_bps) == (FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000)
    assert Series.from_json({"ticker": "X", "fee_multiplier": 0.5}).fee_multiplier_bps == 5_000


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"ticker": "T", "status": "resting", "book_side": "bid", "yes_price_dollars": "0.5"}, "order_id"),
        (
            {
                "order_id": "o",
                "ticker": "T",
                "status": "resting",
                "book_side": "bid",
                "yes_price_dollars": "0.123456",
                "remaining_count_fp": "1.00",
            },
            "more than 4 decimal places",
        ),
        (
            {
                "order_id": "o",
                "ticker": "T",
                "status": "resting",
                "yes_price_dollars": "0.5",
                "remaining_count_fp": "1.00",
            },
            "book_side",
        ),
    ],
)
def test_order_when_malformed_raises_typed_error_naming_field(body: dict[str, str], match: str) -> None:
    with pytest.raises(MalformedMessageError, match=match):
        Order.from_json(body)
