"""Every REST endpoint of the simulator, over real sockets, validated against JSON Schemas of Kalshi's shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sim.kalshi_test_client import KalshiTestClient, assert_shape
from tests.sim.sim_harness import EVENT, MARKET_A, MARKET_B, MARKET_F, SERIES, order, running

pytestmark = pytest.mark.anyio


async def _ok(response: Any, schema: str, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_shape(schema, body)
    return body


async def _error(response: Any, status: int, schema: str = "error_nested.json") -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_shape(schema, body)
    return body


async def test_market_data_endpoints_when_called_match_kalshi_shapes() -> None:
    async with running() as s:
        a = s.alice
        await a.post("/portfolio/events/orders", json=order(price="0.4000", count="5.00"))
        await a.post("/portfolio/events/orders", json=order(side="ask", price="0.6000", count="7.00"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.4000", count="2.00",
                                                                tif="immediate_or_cancel"))
        status = await _ok(await a.get("/exchange/status"), "exchange_status.json")
        assert status["trading_active"] is True
        markets = await _ok(await a.get("/markets"), "get_markets.json")
        assert [m["ticker"] for m in markets["markets"]] == [MARKET_A, MARKET_B, MARKET_F]
        market = (await _ok(await a.get(f"/markets/{MARKET_A}"), "get_market.json"))["market"]
        assert (market["yes_bid_dollars"], market["yes_bid_size_fp"]) == ("0.4000", "3.00")
        assert (market["yes_ask_dollars"], market["no_bid_dollars"]) == ("0.6000", "0.4000")
        assert market["last_price_dollars"] == "0.4000"
        assert market["volume_fp"] == "2.00"
        tapered = (await a.get(f"/markets/{MARKET_B}")).json()["market"]
        assert tapered["price_level_structure"] == "tapered_deci_cent"
        assert len(tapered["price_ranges"]) == 3
        book = await _ok(await a.get(f"/markets/{MARKET_A}/orderbook"), "get_orderbook.json")
        assert book["orderbook_fp"] == {"yes_dollars": [["0.4000", "3.00"]], "no_dollars": [["0.4000", "7.00"]]}
        books = await _ok(await a.get("/markets/orderbooks", params=[("tickers", MARKET_A), ("tickers", MARKET_B)]),
                          "get_orderbooks.json")
        assert [b["ticker"] for b in books["orderbooks"]] == [MARKET_A, MARKET_B]
        trades = await _ok(await a.get("/markets/trades", params={"ticker": MARKET_A}), "get_trades.json")
        assert [(t["yes_price_dollars"], t["count_fp"], t["taker_book_side"]) for t in trades["trades"]] == [
            ("0.4000", "2.00", "ask")
        ]
        series = await _ok(await a.get(f"/series/{SERIES}"), "get_series.json")
        assert series["series"]["fee_type"] == "quadratic"
        maker = (await a.get("/series/SIMF")).json()["series"]
        assert maker["fee_type"] == "quadratic_with_maker_fees"
        event = await _ok(await a.get(f"/events/{EVENT}"), "get_event.json")
        assert {m["ticker"] for m in event["markets"]} == {MARKET_A, MARKET_B}
        events = await _ok(await a.get("/events", params={"with_nested_markets": "true"}), "get_events.json")
        assert len(events["events"]) == 2
        await _ok(await a.get("/exchange/user_data_timestamp"), "user_data_timestamp.json")
        listed = await _ok(await a.get("/series"), "get_series_list.json")
        assert {x["ticker"] for x in listed["series"]} == {SERIES, "SIMF"}


async def test_markets_when_filtered_and_paged_returns_each_market_once() -> None:
    async with running() as s:
        a = s.alice
        by_event = (await a.get("/markets", params={"event_ticker": EVENT})).json()["markets"]
        assert {m["ticker"] for m in by_event} == {MARKET_A, MARKET_B}
        by_series = (await a.get("/markets", params={"series_ticker": "SIMF"})).json()["markets"]
        assert [m["ticker"] for m in by_series] == [MARKET_F]
        by_list = (await a.get("/markets", params={"tickers": f"{MARKET_B},{MARKET_F}"})).json()["markets"]
        assert {m["ticker"] for m in by_list} == {MARKET_B, MARKET_F}
        assert (await a.get("/markets", params={"status": "settled"})).json()["markets"] == []
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            body = await _ok(await a.get("/markets", params=params), "get_markets.json")
            seen.extend(m["ticker"] for m in body["markets"])
            cursor = body["cursor"]
            if not cursor:
                break
        assert seen == [MARKET_A, MARKET_B, MARKET_F]


async def test_markets_when_params_invalid_returns_400_msg() -> None:
    async with running() as s:
        body = await _error(await s.alice.get("/markets", params={"limit": 1001}), 400, "error_msg.json")
        assert "'lte' tag" in body["msg"]
        await _error(await s.alice.get("/markets", params={"status": "bogus"}), 400, "error_msg.json")
        await _error(await s.alice.get(f"/markets/{MARKET_A}/orderbook", params={"depth": 101}), 400,
                     "error_msg.json")
        await _error(await s.alice.get("/markets/orderbooks"), 400, "error_msg.json")
        await _error(await s.alice.get("/portfolio/fills", params={"cursor": "!!"}), 400, "error_msg.json")


async def test_unknown_market_or_route_when_requested_returns_404_nested() -> None:
    async with running() as s:
        await _error(await s.alice.get("/markets/NOPE-1"), 404)
        await _error(await s.alice.get("/series/NOPE"), 404)
        await _error(await s.alice.get("/events/NOPE"), 404)
        await _error(await s.alice.get("/no/such/route"), 404)
        wrong_method = await s.alice.put("/portfolio/balance")
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
        await _error(await s.alice.get("/portfolio/orders/00000000-0000-0000-0000-000000000000"), 404)


async def _trade(s: Any) -> tuple[str, str]:
    resting = (await s.alice.post("/portfolio/events/orders",
                                  json=order(price="0.5000", count="10.00", client_order_id="a-1"))).json()
    taker = (await s.bob.post("/portfolio/events/orders",
                              json=order(side="ask", price="0.5000", count="4.00", tif="immediate_or_cancel",
                                         client_order_id="b-1"))).json()
    return resting["order_id"], taker["order_id"]


async def test_portfolio_endpoints_when_account_traded_match_kalshi_shapes() -> None:
    async with running() as s:
        resting_id, taker_id = await _trade(s)
        balance = await _ok(await s.alice.get("/portfolio/balance"), "get_balance.json")
        assert balance["balance"] < 10_000_000
        positions = await _ok(await s.alice.get("/portfolio/positions"), "get_positions.json")
        assert [(p["ticker"], p["position_fp"]) for p in positions["market_positions"]] == [(MARKET_A, "4.00")]
        bob_positions = (await s.bob.get("/portfolio/positions")).json()["market_positions"]
        assert [(p["ticker"], p["position_fp"]) for p in bob_positions] == [(MARKET_A, "-4.00")]
        fills = await _ok(await s.alice.get("/portfolio/fills"), "get_fills.json")
        assert [(f["order_id"], f["is_taker"], f["count_fp"]) for f in fills["fills"]] == [(resting_id, False, "4.00")]
        bob_fills = (await s.bob.get("/portfolio/fills")).json()["fills"]
        assert bob_fills[0]["is_taker"] is True
        assert bob_fills[0]["fee_cost"] == "0.070000"  # 0.07 x 4 x 0.5 x 0.5
        orders = await _ok(await s.alice.get("/portfolio/orders"), "get_orders.json")
        assert [o["status"] for o in orders["orders"]] == ["resting"]
        one = await _ok(await s.alice.get(f"/portfolio/orders/{resting_id}"), "get_order.json")
        assert (one["order"]["fill_count_fp"], one["order"]["remaining_count_fp"]) == ("4.00", "6.00")
        assert one["order"]["client_order_id"] == "a-1"
        executed = (await s.bob.get("/portfolio/orders", params={"status": "executed"})).json()["orders"]
        assert [o["order_id"] for o in executed] == [taker_id]
        assert (await s.alice.get(f"/portfolio/orders/{taker_id}")).status_code == 404  # not alice's
        queue = await _ok(await s.alice.get(f"/portfolio/orders/{resting_id}/queue_position"), "queue_position.json")
        assert queue == {"queue_position_fp": "0.00"}
        await _ok(await s.alice.get("/portfolio/settlements"), "get_settlements.json")


async def test_settlements_when_market_settled_lists_payout() -> None:
    async with running() as s:
        await _trade(s)
        s.sim.exchange.determine_market(MARKET_A, "yes")
        s.sim.exchange.settle_market(MARKET_A)
        body = await _ok(await s.alice.get("/portfolio/settlements"), "get_settlements.json")
        [settlement] = body["settlements"]
        assert (settlement["ticker"], settlement["market_result"], settlement["revenue"]) == (MARKET_A, "yes", 400)
        market = (await s.alice.get(f"/markets/{MARKET_A}")).json()["market"]
        assert (market["status"], market["result"]) == ("finalized", "yes")


async def test_fills_when_paged_with_cursor_returns_every_fill_once() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(price="0.5000", count="50.00"))
        for _ in range(5):
            await s.bob.post("/portfolio/events/orders",
                             json=order(side="ask", price="0.5000", count="1.00", tif="immediate_or_cancel"))
        all_ids = [f["fill_id"] for f in (await s.alice.get("/portfolio/fills")).json()["fills"]]
        assert len(all_ids) == 5
        seen: list[str] = []
        cursor = ""
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            body = await _ok(await s.alice.get("/portfolio/fills", params=params), "get_fills.json")
            seen.extend(f["fill_id"] for f in body["fills"])
            cursor = body["cursor"]
            if not cursor:
                break
        assert seen == all_ids


async def test_create_order_when_valid_returns_201_and_fills_report_average() -> None:
    async with running() as s:
        created = await _ok(await s.alice.post("/portfolio/events/orders",
                                               json=order(price="0.5200", count="3.00", client_order_id="x")),
                            "create_order_v2.json", 201)
        assert (created["fill_count"], created["remaining_count"], created["client_order_id"]) == ("0.00", "3.00", "x")
        assert "average_fill_price" not in created
        taken = await _ok(await s.bob.post("/portfolio/events/orders",
                                           json=order(side="ask", price="0.5000", count="1.00",
                                                      tif="immediate_or_cancel")),
                          "create_order_v2.json", 201)
        # V2 quotes the YES leg: an ask filled against a 0.52 bid averages 0.52
        assert (taken["fill_count"], taken["average_fill_price"]) == ("1.00", "0.5200")


async def test_create_order_when_json_number_for_string_returns_400_flat_like_go() -> None:
    async with running() as s:
        body = order()
        body["count"] = 10
        error = await _error(await s.alice.post("/portfolio/events/orders", json=body), 400, "error_flat.json")
        assert error["details"] == (
            "json: cannot unmarshal number into Go struct field CreateOrderV2Request.count of type string"
        )
        bad = await s.alice.post("/portfolio/events/orders", content=b"{not json")
        await _error(bad, 400, "error_flat.json")


async def test_create_order_when_rejected_returns_kalshi_error_codes() -> None:
    async with running() as s:
        a = s.alice
        off_grid = await _error(await a.post("/portfolio/events/orders", json=order(price="0.4550")), 400)
        assert off_grid["error"]["code"] == "invalid_price"
        await a.post("/portfolio/events/orders", json=order(side="ask", price="0.6000"))
        cross = await _error(await s.bob.post("/portfolio/events/orders", json=order(price="0.6000", post_only=True)),
                             400)
        assert (cross["error"]["code"], cross["error"]["details"]) == ("invalid_order", "post only cross")
        await a.post("/portfolio/events/orders", json=order(price="0.1000", client_order_id="dup"))
        again = await _error(await a.post("/portfolio/events/orders", json=order(price="0.1000",
                                                                                  client_order_id="dup")), 409)
        assert again["error"]["code"] == "order_already_exists"
        poor = await _error(await a.post("/portfolio/events/orders", json=order(count="100000000.00")), 400)
        assert poor["error"]["code"] == "insufficient_balance"
        missing = await _error(await a.post("/portfolio/events/orders", json={"ticker": MARKET_A}), 400)
        assert missing["error"]["code"] == "bad_request"
        side = await _error(await a.post("/portfolio/events/orders", json=order(side="buy")), 400)
        assert side["error"]["code"] == "bad_request"
        unknown = await _error(await a.post("/portfolio/events/orders", json=order(ticker="NOPE")), 404)
        assert unknown["error"]["code"] == "not_found"


async def test_batch_create_when_some_items_fail_reports_errors_per_item() -> None:
    async with running() as s:
        batch = {"orders": [order(price="0.3000", client_order_id="ok-1"),
                            order(price="0.3050", client_order_id="bad-1"),
                            order(side="buy"),
                            order(side="ask", price="0.7000")]}
        body = await _ok(await s.alice.post("/portfolio/events/orders/batched", json=batch),
                         "batch_create_orders_v2.json", 201)
        results = body["orders"]
        assert results[0]["client_order_id"] == "ok-1" and "error" not in results[0]
        assert results[1]["error"]["code"] == "invalid_price" and results[1]["client_order_id"] == "bad-1"
        assert results[2]["error"]["code"] == "bad_request"
        assert results[3]["remaining_count"] == "10.00"
        # a JSON type error fails the whole body, as Go's decoder does
        typed = {"orders": [order(), {**order(), "count": 5}]}
        error = await _error(await s.alice.post("/portfolio/events/orders/batched", json=typed), 400, "error_flat.json")
        assert "BatchCreateOrdersV2Request.orders.count" in error["details"]


async def test_cancel_amend_decrease_when_applied_return_v2_shapes() -> None:
    async with running() as s:
        a = s.alice
        first = (await a.post("/portfolio/events/orders", json=order(price="0.4000", client_order_id="c1"))).json()
        second = (await a.post("/portfolio/events/orders", json=order(price="0.3000"))).json()
        third = (await a.post("/portfolio/events/orders", json=order(price="0.2000"))).json()
        amend = {"ticker": MARKET_A, "side": "bid", "price": "0.4100", "count": "8.00",
                 "client_order_id": "c1", "updated_client_order_id": "c2"}
        amended = await _ok(await a.post(f"/portfolio/events/orders/{first['order_id']}/amend", json=amend),
                            "amend_order_v2.json")
        assert amended["client_order_id"] == "c2"
        decreased = await _ok(await a.post(f"/portfolio/events/orders/{first['order_id']}/decrease",
                                           json={"reduce_by": "3.00"}), "decrease_order_v2.json")
        assert decreased["remaining_count"] == "5.00"
        await _error(await a.post(f"/portfolio/events/orders/{first['order_id']}/decrease",
                                  json={"reduce_by": "1.00", "reduce_to": "1.00"}), 400)
        canceled = await _ok(await a.delete(f"/portfolio/events/orders/{first['order_id']}"), "cancel_order_v2.json")
        assert canceled["reduced_by"] == "5.00"
        batch = {"orders": [{"order_id": second["order_id"]}, {"order_id": first["order_id"]},
                            {"order_id": "00000000-0000-0000-0000-000000000000"}]}
        results = (await _ok(await a.delete("/portfolio/events/orders/batched", json=batch),
                             "batch_cancel_orders_v2.json"))["orders"]
        assert results[0]["reduced_by"] == "10.00"
        assert "error" in results[1] and "error" in results[2]
        response = await a.delete("/portfolio/events/orders")
        assert response.status_code == 204 and response.content == b""
        status = (await a.get(f"/portfolio/orders/{third['order_id']}")).json()["order"]["status"]
        assert status == "canceled"


async def test_order_groups_when_managed_return_kalshi_shapes() -> None:
    async with running() as s:
        a: KalshiTestClient = s.alice
        created = await _ok(await a.post("/portfolio/order_groups/create", json={"contracts_limit_fp": "5.00"}),
                            "create_order_group.json", 201)
        group_id = created["order_group_id"]
        resting = (await a.post("/portfolio/events/orders",
                                json=order(price="0.3000", order_group_id=group_id))).json()
        listed = await _ok(await a.get("/portfolio/order_groups"), "get_order_groups.json")
        assert [(g["id"], g["contracts_limit_fp"]) for g in listed["order_groups"]] == [(group_id, "5.00")]
        one = await _ok(await a.get(f"/portfolio/order_groups/{group_id}"), "get_order_group.json")
        assert one["orders"] == [resting["order_id"]]
        await _ok(await a.put(f"/portfolio/order_groups/{group_id}/limit", json={"contracts_limit": 7}), "empty.json")
        assert (await a.get(f"/portfolio/order_groups/{group_id}")).json()["contracts_limit_fp"] == "7.00"
        await _ok(await a.put(f"/portfolio/order_groups/{group_id}/trigger"), "empty.json")
        order_status = (await a.get(f"/portfolio/orders/{resting['order_id']}")).json()["order"]["status"]
        assert order_status == "canceled"
        blocked = await a.post("/portfolio/events/orders", json=order(price="0.3000", order_group_id=group_id))
        assert blocked.status_code == 400
        await _ok(await a.put(f"/portfolio/order_groups/{group_id}/reset"), "empty.json")
        allowed = await a.post("/portfolio/events/orders", json=order(price="0.3000", order_group_id=group_id))
        assert allowed.status_code == 201
        await _ok(await a.delete(f"/portfolio/order_groups/{group_id}"), "empty.json")
        await _error(await a.get(f"/portfolio/order_groups/{group_id}"), 404)
        await _error(await a.put(f"/portfolio/order_groups/{group_id}/limit", json={}), 400)


def test_simulator_in_thread_when_used_synchronously_serves_signed_requests() -> None:
    from mmframe_sim.serve import simulator_in_thread

    from tests.sim.kalshi_test_client import Signer
    from tests.sim.sim_harness import key_pair, quiet_exchange

    with simulator_in_thread(exchange_factory=quiet_exchange) as (sim, portal):
        key_id = portal.call(sim.register_public_key, key_pair(0)[1])
        signer = Signer(key_id, key_pair(0)[0])
        response = httpx.get(sim.rest_url + "/portfolio/balance",
                             headers=signer.headers("GET", "/trade-api/v2/portfolio/balance"))
        assert response.status_code == 200
        assert_shape("get_balance.json", response.json())


def test_route_table_when_compared_with_endpoint_costs_lists_every_costed_route() -> None:
    from mmframe_sim.ratelimit import ENDPOINT_COSTS
    from mmframe_sim.rest import route_table

    served = set(route_table())
    assert {(c.method, c.path) for c in ENDPOINT_COSTS} <= served


async def test_batch_cancel_with_a_gone_order_answers_per_item_or_whole_under_strict_fault() -> None:
    """API.md §4: a batch cancel answers per order (a gone order gets its own ``error``, the rest are
    cancelled). The ``strict_batch_cancel`` fault makes the simulator refuse such a batch as a whole
    (HTTP 400 ``invalid_order``, nothing cancelled), as a venue may: the client's fallback is tested
    against it."""
    async with running() as s:
        a = s.alice
        ids = [(await a.post("/portfolio/events/orders", json=order(price=f"0.{30 + n}00"))).json()["order_id"]
               for n in range(3)]
        await _ok(await a.delete(f"/portfolio/events/orders/{ids[0]}"), "cancel_order_v2.json")
        async with httpx.AsyncClient() as http:
            on = await http.post(s.sim.admin_url + "/faults", json={"action": "strict_batch_cancel"})
            assert on.json()["faults"]["strict_batch_cancel"] is True
            whole = await a.delete("/portfolio/events/orders/batched",
                                   json={"orders": [{"order_id": i} for i in ids]})
            error = await _error(whole, 400)
            assert error["error"]["code"] == "invalid_order"
            statuses = [(await a.get(f"/portfolio/orders/{i}")).json()["order"]["status"] for i in ids]
            assert statuses == ["canceled", "resting", "resting"]  # nothing of the batch was cancelled
            await http.post(s.sim.admin_url + "/faults", json={"action": "clear"})
        results = (await _ok(await a.delete("/portfolio/events/orders/batched",
                                            json={"orders": [{"order_id": i} for i in ids]}),
                             "batch_cancel_orders_v2.json"))["orders"]
        assert results[0]["error"]["code"] == "invalid_order"
        assert [r["reduced_by"] for r in results[1:]] == ["10.00", "10.00"]
