"""The NO ladder's price convention (``use_yes_price``), event fee overrides (``event_fee_update``) and
subaccount frames, at the parser and session level."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from mmframe_kalshi import parsing
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import MalformedMessageError
from mmframe_kalshi.fee_terms import FeeTerms
from mmframe_kalshi.models import EventFees, Orderbook
from mmframe_kalshi.session import KalshiSession

from mmframe.api import ONE_DOLLAR, FeeType, Leg, LiveClock, MarketInfo, OrderBook, format_price
from tests.kalshi.samples import sample

# --- use_yes_price ---------------------------------------------------------------------------------


def _snapshot(no: list[list[str]]) -> dict[str, Any]:
    return {"market_ticker": "T", "yes_dollars_fp": [["0.4700", "3.00"]], "no_dollars_fp": no}


def test_book_snapshot_when_yes_priced_no_ladder_gives_the_ask_kalshi_shows() -> None:
    # Demo capture (samples rest/get_market_orderbook_response[1]): YES bid 0.47, NO bid 0.48, so the
    # YES ask is 0.52. With use_yes_price the NO level arrives as "0.5200".
    rest = Orderbook.from_json("T", sample("get_market_orderbook_response")[1])
    book = OrderBook("T")
    book.apply_snapshot(rest.yes_bids, rest.no_bids)
    assert book.best_ask() == 5200

    event = parsing.book_snapshot(_snapshot([["0.5200", "3.00"]]), 0, yes_prices=True)
    ws_book = OrderBook("T")
    ws_book.apply_snapshot(event.yes_bids, event.no_bids)
    assert ws_book.best_ask() == 5200 and event.no_bids == rest.no_bids

    # read without the flag, the same frame mirrors the ask (the bug: 0.48 instead of 0.52)
    wrong = parsing.book_snapshot(_snapshot([["0.5200", "3.00"]]), 0, yes_prices=False)
    mirrored = OrderBook("T")
    mirrored.apply_snapshot(wrong.yes_bids, wrong.no_bids)
    assert mirrored.best_ask() == 4800


@given(
    st.integers(min_value=1, max_value=ONE_DOLLAR - 1),
    st.integers(min_value=-100_000, max_value=100_000),
    st.sampled_from(["yes", "no"]),
)
def test_book_delta_when_either_convention_gives_the_same_event(price: int, delta: int, side: str) -> None:
    leg_price = price
    yes_leg_price = price if side == "yes" else ONE_DOLLAR - price
    count = f"{delta / 100:.2f}" if delta >= 0 else f"-{-delta / 100:.2f}"
    no_leg = parsing.book_delta(
        {"market_ticker": "T", "side": side, "price_dollars": format_price(leg_price), "delta_fp": count}, 0
    )
    yes_leg = parsing.book_delta(
        {"market_ticker": "T", "side": side, "price_dollars": format_price(yes_leg_price), "delta_fp": count},
        0,
        yes_prices=True,
    )
    assert no_leg == yes_leg
    assert no_leg.leg is (Leg.YES if side == "yes" else Leg.NO) and no_leg.price == price


def test_book_delta_when_yes_priced_and_malformed_still_names_the_field() -> None:
    with pytest.raises(MalformedMessageError, match="price_dollars"):
        parsing.book_delta({"market_ticker": "T", "side": "no", "price_dollars": "0.52001", "delta_fp": "1.00"},
                           0, yes_prices=True)


# --- event_fee_update ----------------------------------------------------------------------------


def test_event_fee_update_when_set_and_cleared_parses_both_parts() -> None:
    update = parsing.event_fee_update(
        {"event_ticker": "E", "fee_type_override": "quadratic_with_maker_fees", "fee_multiplier_override": 0.5}
    )
    assert update == EventFees("E", FeeType.QUADRATIC_WITH_MAKER_FEES, 5_000)
    cleared = parsing.event_fee_update({"event_ticker": "E", "fee_type_override": None,
                                        "fee_multiplier_override": None})
    assert cleared == EventFees("E", None, None)
    assert parsing.event_fee_update({"event_ticker": "E", "fee_multiplier_override": 1.25}).multiplier_bps == 12_500


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        ({"fee_type_override": "quadratic"}, "event_ticker"),
        ({"event_ticker": "E", "fee_type_override": "per_contract_gold"}, "unknown fee type"),
        ({"event_ticker": "E", "fee_multiplier_override": "lots"}, "not a number"),
        ({"event_ticker": "E", "fee_multiplier_override": True}, "fee_multiplier_override"),
        ({"event_ticker": "E", "fee_multiplier_override": -1}, "negative"),
        ("not an object", "not an object"),
    ],
)
def test_event_fee_update_when_malformed_raises_naming_the_problem(msg: Any, match: str) -> None:
    with pytest.raises(MalformedMessageError, match=match):
        parsing.event_fee_update(msg)


def test_fee_terms_when_override_set_then_cleared_returns_to_series_terms() -> None:
    terms = FeeTerms()
    terms.set_series("E", FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000)
    info = MarketInfo("M", event_ticker="E", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES)
    assert terms.apply(info) is info

    terms.set_override(EventFees("E", None, 5_000))  # only the multiplier is overridden
    halved = terms.apply(info)
    assert (halved.fee_type, halved.fee_multiplier_bps) == (FeeType.QUADRATIC_WITH_MAKER_FEES, 5_000)

    terms.set_override(EventFees("E", FeeType.QUADRATIC, None))  # a new override replaces the old
    assert (terms.apply(info).fee_type, terms.apply(info).fee_multiplier_bps) == (FeeType.QUADRATIC, 10_000)

    terms.set_override(EventFees("E", None, None))
    assert terms.apply(halved) == info
    assert terms.apply(MarketInfo("X", event_ticker="OTHER")).fee_type is FeeType.QUADRATIC


# --- subaccounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "msg", "delivered"),
    [
        (0, {"subaccount": 0}, True),
        (0, {"subaccount": 2}, False),
        (2, {"subaccount": 2}, True),
        (2, {"subaccount_number": 0}, False),
        (0, {}, True),  # names none: kept, it may be ours
        (2, {}, True),
    ],
)
def test_session_when_account_frame_names_a_subaccount_delivers_only_ours(
    rsa_key: rsa.RSAPrivateKey, ours: int, msg: dict[str, Any], delivered: bool
) -> None:
    session = KalshiSession(
        "http://127.0.0.1:1/trade-api/v2",
        "ws://127.0.0.1:1/trade-api/ws/v2",
        KalshiCredentials("k", rsa_key),
        LiveClock(),
        presign=False,
        subaccount=ours,
    )
    got: list[str] = []
    session.on_frames(("fill", "user_order", "market_position", "trade"), lambda f, ts: got.append(f.type))
    for kind in ("fill", "user_order", "market_position"):
        session._dispatch(parsing.parse_frame(orjson.dumps({"type": kind, "msg": msg})), 0)
    # market data is never filtered by subaccount
    session._dispatch(parsing.parse_frame(orjson.dumps({"type": "trade", "msg": {"subaccount": 9}})), 0)
    assert got == (["fill", "user_order", "market_position"] if delivered else []) + ["trade"]
    assert session.foreign_subaccount_frames == (0 if delivered else 3)
