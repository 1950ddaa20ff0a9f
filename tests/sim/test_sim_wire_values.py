"""The simulator writes money the way Kalshi does, judged against the demo wire captures in
``shared/kalshi/samples`` and API.md §3/§9: prices with 4 decimals, costs/fees/PnL with 6 (and every digit
the exact amount has), position ``fees_paid_dollars`` as the plain sum of the fills' ``fee_cost``, and
cash moved by the per-order rounded fee."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mmframe_sim.engine import Exchange, MarketSpec
from mmframe_sim.money import parse_dollars

from mmframe.api import Clock
from tests.kalshi.samples import sample
from tests.sim.kalshi_test_client import KalshiTestClient, KalshiWs, assert_shape
from tests.sim.sim_harness import EVENT, MARKET_A, order, quiet_exchange, running

pytestmark = pytest.mark.anyio

FRAC = "SIMT-26NOV-FRAC"


def with_fractional_market(clock: Clock) -> Exchange:
    """The quiet exchange plus a deci-cent market that trades fractional contracts."""
    ex = quiet_exchange(clock)
    ex.add_market(MarketSpec(FRAC, EVENT, "Fractional", price_level_structure="deci_cent",
                             fractional_trading_enabled=True))
    return ex


async def _json(response: httpx.Response, schema: str, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_shape(schema, body)
    return body


async def _balance_cents(client: KalshiTestClient) -> int:
    return int((await _json(await client.get("/portfolio/balance"), "get_balance.json"))["balance"])


def _pick(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: body[k] for k in keys}


async def _truth(sim: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(sim.admin_url + "/truth")).json()  # type: ignore[no-any-return]


async def test_wire_values_when_demo_capture_replayed_match_it_field_for_field() -> None:
    """The capture's account: two IOC buys of 1 @ $0.99 and one IOC bid at $0.99 filled 1 @ $0.52."""
    captured_fills = sample("get_portfolio_fills_response")[0]["fills"]
    captured_position = sample("get_portfolio_positions_response")[0]["market_positions"][0]
    captured_event = sample("get_portfolio_positions_response")[0]["event_positions"][0]
    captured_create = sample("create_order_v2_response")[2]
    captured_order = sample("get_portfolio_orders_response")[0]["orders"][0]
    async with running() as s:
        start = await _balance_cents(s.alice)
        for price in ("0.9900", "0.9900", "0.5200"):
            await _json(await s.bob.post("/portfolio/events/orders",
                                         json=order(side="ask", price=price, count="1.00")), "create_order_v2.json", 201)
            created = await _json(await s.alice.post("/portfolio/events/orders",
                                                     json=order(price="0.9900", count="1.00", tif="immediate_or_cancel")),
                                  "create_order_v2.json", 201)
        keys = ("fill_count", "remaining_count", "average_fill_price", "average_fee_paid")
        assert _pick(created, keys) == _pick(captured_create, keys) == {
            "fill_count": "1.00", "remaining_count": "0.00", "average_fill_price": "0.5200", "average_fee_paid": "0.0175"}

        fills = (await _json(await s.alice.get("/portfolio/fills"), "get_fills.json"))["fills"]
        keys = ("count_fp", "fee_cost", "yes_price_dollars", "no_price_dollars", "is_taker", "book_side",
                "outcome_side", "side", "action")
        assert [_pick(f, keys) for f in fills] == [_pick(f, keys) for f in captured_fills]
        assert [f["fee_cost"] for f in fills] == ["0.017500", "0.000700", "0.000700"]

        positions = await _json(await s.alice.get("/portfolio/positions"), "get_positions.json")
        keys = ("position_fp", "market_exposure_dollars", "total_traded_dollars", "realized_pnl_dollars",
                "fees_paid_dollars", "resting_orders_count")
        assert _pick(positions["market_positions"][0], keys) == _pick(captured_position, keys)
        assert positions["market_positions"][0]["fees_paid_dollars"] == "0.018900"  # the plain sum
        keys = ("total_cost_dollars", "total_cost_shares_fp", "event_exposure_dollars", "realized_pnl_dollars",
                "fees_paid_dollars")
        assert _pick(positions["event_positions"][0], keys) == _pick(captured_event, keys)

        executed = (await _json(await s.alice.get("/portfolio/orders", params={"status": "executed"}),
                                "get_orders.json"))["orders"]
        keys = ("status", "yes_price_dollars", "no_price_dollars", "fill_count_fp", "remaining_count_fp",
                "initial_count_fp", "taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars",
                "maker_fees_dollars")
        assert _pick(executed[0], keys) == _pick(captured_order, keys)

        # API.md §9: each order's balance change (revenue - fee) is floored to the cent:
        # 0.99 + 0.0007 -> 1.00, twice; 0.52 + 0.0175 -> 0.54. Cash paid $0.04 of fees, not $0.0189.
        assert start - await _balance_cents(s.alice) == 254
        truth = await _truth(s.sim)
        alice_id = s.sim.server.keys.get(s.alice.signer.key_id).account_id
        position = next(p for p in truth["positions"] if p["user_id"] == alice_id and p["ticker"] == MARKET_A)
        assert (position["fees_paid_dollars"], position["fees_charged_dollars"]) == ("0.018900", "0.040000")
        # conservation total in dollars (it was once printed 100x too large)
        assert parse_dollars(truth["total_money_dollars"]) == s.sim.exchange.total_deposits()


async def test_wire_values_when_amounts_need_six_decimals_emit_every_digit() -> None:
    async with running(exchange_factory=with_fractional_market) as s:
        # 0.41 contract at $0.099: cost $0.040590, taker fee 0.07 x 0.41 x 0.099 x 0.901 = 0.00256.. -> 0.0026
        await s.bob.post("/portfolio/events/orders", json=order(FRAC, side="ask", price="0.0990", count="0.41"))
        frac = await _json(await s.alice.post("/portfolio/events/orders",
                                              json=order(FRAC, price="0.0990", count="0.41", tif="immediate_or_cancel")),
                           "create_order_v2.json", 201)
        assert (frac["average_fill_price"], frac["average_fee_paid"]) == ("0.0990", "0.006341")  # 0.0026 / 0.41, to the micro
        # 2 @ $0.52 + 1 @ $0.53: average $0.523333; fees 0.0350 + 0.0175 = 0.0525 -> 0.0175 per contract
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.5200", count="2.00"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.5300", count="1.00"))
        mixed = await _json(await s.alice.post("/portfolio/events/orders",
                                               json=order(price="0.5300", count="3.00", tif="immediate_or_cancel")),
                            "create_order_v2.json", 201)
        assert (mixed["average_fill_price"], mixed["average_fee_paid"]) == ("0.523333", "0.0175")
        # 7 @ $0.52 in one fill: fee 0.122304 -> 0.1224, per contract 0.017486
        await s.bob.post("/portfolio/events/orders", json=order(MARKET_A, side="ask", price="0.5200", count="7.00"))
        seven = await _json(await s.alice.post("/portfolio/events/orders",
                                               json=order(price="0.5200", count="7.00", tif="immediate_or_cancel")),
                            "create_order_v2.json", 201)
        assert (seven["average_fill_price"], seven["average_fee_paid"]) == ("0.5200", "0.017486")
        # sell 1 of the 10 held (basis 1.57 + 3.64 = $5.21): 1/10 of the basis is released, $0.521000
        await s.bob.post("/portfolio/events/orders", json=order(price="0.5000", count="1.00"))
        await s.alice.post("/portfolio/events/orders",
                           json=order(side="ask", price="0.5000", count="1.00", tif="immediate_or_cancel"))

        positions = {p["ticker"]: p for p in (await _json(await s.alice.get("/portfolio/positions"),
                                                          "get_positions.json"))["market_positions"]}
        assert _pick(positions[FRAC], ("position_fp", "market_exposure_dollars", "total_traded_dollars",
                                       "fees_paid_dollars")) == {
            "position_fp": "0.41", "market_exposure_dollars": "0.040590", "total_traded_dollars": "0.040590",
            "fees_paid_dollars": "0.002600"}
        # fees: 0.0350 + 0.0175 + 0.1224 + 0.0175 (the sale) = 0.1924, summed as charged per fill
        assert _pick(positions[MARKET_A], ("position_fp", "market_exposure_dollars", "realized_pnl_dollars",
                                           "total_traded_dollars", "fees_paid_dollars")) == {
            "position_fp": "9.00", "market_exposure_dollars": "4.689000", "realized_pnl_dollars": "-0.021000",
            "total_traded_dollars": "5.710000", "fees_paid_dollars": "0.192400"}
        fills = (await _json(await s.alice.get("/portfolio/fills", params={"ticker": FRAC}), "get_fills.json"))["fills"]
        assert [(f["count_fp"], f["yes_price_dollars"], f["fee_cost"]) for f in fills] == [("0.41", "0.0990", "0.002600")]
        orders = (await _json(await s.alice.get("/portfolio/orders", params={"ticker": FRAC}), "get_orders.json"))["orders"]
        assert (orders[0]["taker_fill_cost_dollars"], orders[0]["taker_fees_dollars"]) == ("0.040590", "0.002600")
        # bob sold YES = bought NO: 0.41 x $0.901 = $0.369410
        bob = (await s.bob.get("/portfolio/positions", params={"ticker": FRAC})).json()["market_positions"][0]
        assert (bob["position_fp"], bob["market_exposure_dollars"]) == ("-0.41", "0.369410")

        s.sim.exchange.determine_market(FRAC, "yes")
        s.sim.exchange.settle_market(FRAC)
        [settled] = (await _json(await s.alice.get("/portfolio/settlements"), "get_settlements.json"))["settlements"]
        assert _pick(settled, ("yes_count_fp", "yes_total_cost_dollars", "revenue", "fee_cost")) == {
            "yes_count_fp": "0.41", "yes_total_cost_dollars": "0.040590", "revenue": 41, "fee_cost": "0.000000"}


async def _subscribed(ws: KalshiWs, channels: list[str]) -> None:
    await ws.command("subscribe", {"channels": channels})
    message = await ws.recv()
    assert message["type"] == "subscribed", message


async def test_wire_values_when_sent_over_websocket_carry_six_decimals() -> None:
    async with running(exchange_factory=with_fractional_market) as s:
        ws = await s.alice.connect_ws()
        await _subscribed(ws, ["fill"])
        await _subscribed(ws, ["market_positions"])
        await s.bob.post("/portfolio/events/orders", json=order(FRAC, side="ask", price="0.0990", count="0.41"))
        await s.alice.post("/portfolio/events/orders",
                           json=order(FRAC, price="0.0990", count="0.41", tif="immediate_or_cancel"))
        messages = {m["type"]: m for m in [await ws.recv(), await ws.recv()]}
        assert_shape("ws_fill.json", messages["fill"])
        assert_shape("ws_market_position.json", messages["market_position"])
        fill, position = messages["fill"]["msg"], messages["market_position"]["msg"]
        assert (fill["yes_price_dollars"], fill["count_fp"], fill["fee_cost"]) == ("0.0990", "0.41", "0.002600")
        assert _pick(position, ("position_fp", "position_cost_dollars", "realized_pnl_dollars", "fees_paid_dollars")) == {
            "position_fp": "0.41", "position_cost_dollars": "0.040590", "realized_pnl_dollars": "0.000000",
            "fees_paid_dollars": "0.002600"}
        await ws.close()


@pytest.mark.parametrize(
    ("price", "count", "status", "code"),
    [
        ("0.520000", "1.00", 201, None),  # six decimals, whole $0.0001: the type allows it
        ("0.52", "1", 201, None),
        ("0.5200001", "1.00", 400, "invalid_price"),  # more than FixedPointDollars' 6 decimals
        ("0.52005", "1.00", 400, "invalid_price"),  # finer than $0.0001
        ("-0.52", "1.00", 400, "invalid_price"),
        ("0.52", "1.001", 400, "bad_request"),  # counts take 0-2 decimals
        ("0.52", "1e2", 400, "bad_request"),
    ],
)
async def test_order_request_when_fixed_point_strings_parsed_by_the_simulators_rules(
    price: str, count: str, status: int, code: str | None
) -> None:
    async with running() as s:
        response = await s.alice.post("/portfolio/events/orders", json=order(price=price, count=count))
        assert response.status_code == status, response.text
        if code is not None:
            assert response.json()["error"]["code"] == code
