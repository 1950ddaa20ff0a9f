"""The sim-only admin API (/_sim): faults, lifecycle, ground truth, time; loopback only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from mmframe_sim.faults import parse_fault_plan
from websockets.exceptions import ConnectionClosed

from tests.sim.kalshi_test_client import KalshiWs, assert_shape
from tests.sim.sim_harness import EVENT, MARKET_A, MARKET_B, Session, order, running

pytestmark = pytest.mark.anyio


async def _admin(s: Session, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient() as http:
        if body is None:
            response = await http.get(s.sim.admin_url + path)
        else:
            response = await http.post(s.sim.admin_url + path, json=body)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def _book_ws(s: Session) -> KalshiWs:
    ws = await s.bob.connect_ws()
    await ws.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A]})
    await ws.recv()
    assert (await ws.recv())["seq"] == 1
    return ws


async def test_admin_when_client_not_loopback_returns_403() -> None:
    async with running() as s:
        transport = httpx.ASGITransport(app=s.sim.server.app, client=("10.1.2.3", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            response = await http.get("/_sim/truth")
        assert response.status_code == 403
        # Kalshi's own paths are not loopback-restricted (they are signed)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            assert (await http.get("/trade-api/v2/exchange/status")).status_code == 401


async def test_ground_truth_when_orders_rest_lists_every_account() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.6000"))
        truth = await _admin(s, "/truth")
        assert {(o["ticker"], o["book_side"]) for o in truth["resting_orders"]} == {(MARKET_A, "bid"), (MARKET_A, "ask")}
        assert len(truth["balances"]) == 2
        assert set(truth["fair_values"]) >= {MARKET_A, MARKET_B}


async def test_fault_burst_429_when_set_refuses_next_requests() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "burst_429", "count": 2})
        codes = [(await s.alice.get("/exchange/status")).status_code for _ in range(3)]
        assert codes == [429, 429, 200]


async def test_fault_fail_writes_when_placed_executes_order_but_answers_500() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "fail_writes", "share": 1.0, "placed": True})
        response = await s.alice.post("/portfolio/events/orders", json=order(price="0.4000", client_order_id="ghost"))
        assert response.status_code == 500
        truth = await _admin(s, "/truth")
        assert [o["client_order_id"] for o in truth["resting_orders"]] == ["ghost"]  # the dangerous case
        await _admin(s, "/faults", {"action": "fail_writes", "share": 1.0, "placed": False})
        response = await s.alice.post("/portfolio/events/orders", json=order(price="0.3000", client_order_id="never"))
        assert response.status_code == 500
        assert len((await _admin(s, "/truth"))["resting_orders"]) == 1
        await _admin(s, "/faults", {"action": "clear"})
        assert (await s.alice.post("/portfolio/events/orders", json=order(price="0.3000"))).status_code == 201


async def test_fault_delay_when_set_slows_responses() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "delay", "ms": 300})
        with pytest.raises(TimeoutError), anyio.fail_after(0.15):
            await s.alice.get("/exchange/status")
        await _admin(s, "/faults", {"action": "delay", "ms": 0})
        assert (await s.alice.get("/exchange/status")).status_code == 200


async def test_exchange_pause_when_set_reports_trading_inactive_and_rejects_orders() -> None:
    async with running() as s:
        resting = (await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))).json()
        await _admin(s, "/faults", {"action": "pause_exchange"})
        status = (await s.alice.get("/exchange/status")).json()
        assert status["trading_active"] is False
        rejected = await s.alice.post("/portfolio/events/orders", json=order(price="0.3000"))
        assert rejected.status_code == 400
        assert rejected.json()["error"]["code"] == "trading_is_paused"
        assert (await s.alice.delete(f"/portfolio/events/orders/{resting['order_id']}")).status_code == 200
        await _admin(s, "/exchange", {"trading_active": True})
        assert (await s.alice.get("/exchange/status")).json()["trading_active"] is True


async def test_market_deactivation_when_applied_cancels_resting_orders() -> None:
    async with running() as s:
        resting = (await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))).json()
        body = await _admin(s, f"/markets/{MARKET_A}/deactivate", {})
        assert body["market"]["status"] == "inactive"
        status = (await s.alice.get(f"/portfolio/orders/{resting['order_id']}")).json()["order"]["status"]
        assert status == "canceled"
        assert (await _admin(s, "/truth"))["resting_orders"] == []
        await _admin(s, f"/markets/{MARKET_A}/activate", {})
        await _admin(s, f"/markets/{MARKET_A}/determine", {"result": "no"})
        settled = await _admin(s, f"/markets/{MARKET_A}/settle", {})
        assert (settled["market"]["status"], settled["market"]["result"]) == ("finalized", "no")


async def test_admin_orders_when_orders_finished_lists_every_status_with_creation_time() -> None:
    async with running() as s:
        before = (await _admin(s, "/truth"))["time_ns"]
        first = (await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))).json()
        await s.alice.post("/portfolio/events/orders", json=order(price="0.3000"))
        await s.alice.delete(f"/portfolio/events/orders/{first['order_id']}")
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.6000"))
        user = s.sim.server.keys.get(s.alice.signer.key_id).account_id
        orders = (await _admin(s, f"/orders?user_id={user}"))["orders"]
        assert sorted((o["yes_price_dollars"], o["status"]) for o in orders) == [
            ("0.3000", "resting"), ("0.4000", "canceled")]
        assert all(o["user_id"] == user and o["created_ns"] >= before for o in orders)


async def test_admin_orders_when_account_unknown_or_missing_refuses() -> None:
    async with running() as s, httpx.AsyncClient() as http:
        assert (await http.get(s.sim.admin_url + "/orders?user_id=nobody")).status_code == 404
        assert (await http.get(s.sim.admin_url + "/orders")).status_code == 400


async def test_admin_requests_when_writes_sent_logs_each_with_route_items_and_status() -> None:
    async with running() as s:
        await s.alice.get("/exchange/status")  # a read: not logged
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))
        await _admin(s, "/faults", {"action": "burst_429", "count": 1})
        batch = {"orders": [order(price="0.3000"), order(price="0.2000")]}
        assert (await s.alice.post("/portfolio/events/orders/batched", json=batch)).status_code == 429
        since = (await _admin(s, "/truth"))["time_ns"]
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.6000"))
        user = s.sim.server.keys.get(s.alice.signer.key_id).account_id
        logged = (await _admin(s, f"/requests?user_id={user}"))["requests"]
        assert [(r["method"], r["route"], r["items"], r["status"]) for r in logged] == [
            ("POST", "/portfolio/events/orders", 1, 201),
            ("POST", "/portfolio/events/orders/batched", 2, 429),
        ]
        everyone = (await _admin(s, f"/requests?since_ns={since}"))["requests"]
        assert [(r["user_id"] != user, r["status"]) for r in everyone] == [(True, 201)]


async def test_admin_requests_when_since_not_integer_returns_400() -> None:
    async with running() as s, httpx.AsyncClient() as http:
        response = await http.get(s.sim.admin_url + "/requests?since_ns=soon")
        assert response.status_code == 400
        assert "since_ns" in response.json()["error"]


async def test_fault_skip_seq_when_set_leaves_a_gap_and_duplicate_repeats() -> None:
    async with running() as s:
        ws = await _book_ws(s)
        await _admin(s, "/faults", {"action": "skip_seq"})
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4000"))
        await s.alice.post("/portfolio/events/orders", json=order(price="0.3000"))
        assert [(await ws.recv())["seq"] for _ in range(2)] == [3, 4]  # 2 skipped
        await _admin(s, "/faults", {"action": "duplicate"})
        await s.alice.post("/portfolio/events/orders", json=order(price="0.2000"))
        assert [(await ws.recv())["seq"] for _ in range(2)] == [5, 5]
        await _admin(s, "/faults", {"action": "reorder"})
        await s.alice.post("/portfolio/events/orders", json=order(price="0.1000"))
        await s.alice.post("/portfolio/events/orders", json=order(price="0.1100"))
        assert [(await ws.recv())["seq"] for _ in range(2)] == [7, 6]
        await ws.close()


async def test_fault_drop_ws_when_applied_closes_connections() -> None:
    async with running() as s:
        ws = await _book_ws(s)
        body = await _admin(s, "/faults", {"action": "drop_ws"})
        assert body["dropped"] == 1
        with pytest.raises(ConnectionClosed):
            await ws.recv()


async def test_time_control_when_frozen_and_advanced_moves_exchange_clock() -> None:
    async with running() as s:
        frozen = await _admin(s, "/time", {"freeze": True})
        assert frozen["frozen"] is True
        await anyio.sleep(0.1)
        assert (await _admin(s, "/time", {}))["time_ns"] == frozen["time_ns"]
        later = await _admin(s, "/time", {"advance_seconds": 3600})
        assert later["time_ns"] == frozen["time_ns"] + 3600 * 10**9
        resumed = await _admin(s, "/time", {"resume": True})
        assert resumed["frozen"] is False
        # signatures are still checked against real time
        assert (await s.alice.get("/portfolio/balance")).status_code == 200


async def test_fault_plan_when_posted_fires_at_its_times() -> None:
    async with running() as s:
        await _admin(s, "/faults/plan", {"faults": [{"at_seconds": 0.05, "action": "pause_exchange"},
                                                    {"at_seconds": 0.1, "action": "burst_429", "count": "1"}]})
        with anyio.fail_after(3):
            while (await _admin(s, "/truth"))["exchange"]["trading_active"]:
                await anyio.sleep(0.02)
            while "burst_429" not in " ".join((await _admin(s, "/faults"))["log"]):
                await anyio.sleep(0.02)


async def test_admin_when_request_invalid_returns_400_with_reason() -> None:
    async with running() as s, httpx.AsyncClient() as http:
        response = await http.post(s.sim.admin_url + "/faults", json={"action": "explode"})
        assert response.status_code == 400 and "unknown action" in response.json()["error"]
        response = await http.post(s.sim.admin_url + "/faults", json={"action": "fail_writes", "share": 2})
        assert response.status_code == 400
        response = await http.post(s.sim.admin_url + "/markets/NOPE/close", json={})
        assert response.status_code == 404


async def test_admin_accounts_when_created_return_a_working_key() -> None:
    async with running() as s:
        created = await _admin(s, "/accounts", {"balance": "250.00", "tier": "prime"})
        from tests.sim.sim_harness import client_for

        async with client_for(s.sim, created["key_id"], created["private_key_pem"].encode()) as client:
            balance = (await client.get("/portfolio/balance")).json()
            assert balance["balance"] == 25_000
            assert (await client.get("/account/limits")).json()["usage_tier"] == "prime"


def test_parse_fault_plan_when_entry_invalid_names_it() -> None:
    with pytest.raises(ValueError, match=r"faults\[1\].action: unknown 'boom'"):
        parse_fault_plan([{"at_seconds": 1, "action": "drop_ws"}, {"at_seconds": 2, "action": "boom"}])
    with pytest.raises(ValueError, match=r"faults\[0\]: needs 'at_seconds' and 'action'"):
        parse_fault_plan([{"action": "drop_ws"}])
    steps = parse_fault_plan([{"at_seconds": 5, "action": "delay", "ms": 10}, {"at_seconds": 1, "action": "drop_ws"}])
    assert [s.action for s in steps] == ["drop_ws", "delay"]


SCENARIO = """\
name: faulty
seed: 5
participants:
  enabled: false
series:
  - ticker: SIMX
events:
  - ticker: SIMX-1
    series: SIMX
markets:
  - ticker: SIMX-1-A
    event: SIMX-1
faults:
  - at_seconds: 0
    action: burst_429
    params:
      count: "2"
  - at_seconds: 0
    action: pause_trading
"""


async def test_scenario_faults_when_listed_run_from_start(tmp_path: Any) -> None:
    from mmframe_sim.serve import start_simulator

    from tests.sim.sim_harness import client_for, key_pair

    path = tmp_path / "faulty.yaml"
    path.write_text(SCENARIO)
    async with start_simulator(scenario=path) as sim:
        key_id = sim.register_public_key(key_pair(0)[1])
        async with client_for(sim, key_id, key_pair(0)[0]) as client:
            with anyio.fail_after(3):
                while sim.server.faults.burst_429_remaining == 0 and not sim.server.fault_log:
                    await anyio.sleep(0.01)
            codes = [(await client.get("/exchange/status")).status_code for _ in range(3)]
            assert codes == [429, 429, 200]
            with anyio.fail_after(3):  # the engine runs its own scripted pause on its next tick
                while (await client.get("/exchange/status")).json()["trading_active"]:
                    await anyio.sleep(0.02)


async def test_scenario_faults_when_action_unknown_refuses_to_start(tmp_path: Any) -> None:
    from mmframe_sim.serve import start_simulator

    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("action: burst_429", "action: meltdown"))
    with pytest.raises(ValueError, match="meltdown"):
        async with start_simulator(scenario=path):
            pass


async def _taker_fee(s: Session, price: str = "0.5000") -> Decimal:
    """Alice rests 10 asks, Bob takes them: Bob's fill's ``fee_cost``."""
    await s.alice.post("/portfolio/events/orders", json=order(side="ask", price=price))
    await s.bob.post("/portfolio/events/orders", json=order(price=price, tif="immediate_or_cancel"))
    fills = (await s.bob.get("/portfolio/fills")).json()["fills"]
    return Decimal(fills[0]["fee_cost"])


async def test_fault_set_fee_when_event_overridden_sends_event_fee_update_and_charges_it() -> None:
    async with running() as s:
        ws = await s.bob.connect_ws()
        await ws.command("subscribe", {"channels": ["market_lifecycle_v2"]})
        assert (await ws.recv())["type"] == "subscribed"

        await _admin(s, "/faults", {"action": "set_fee", "event_ticker": EVENT, "fee_multiplier": 2})

        update = await ws.recv()
        assert_shape("ws_event_fee_update.json", update)
        assert update["msg"] == {"event_ticker": EVENT, "fee_type_override": None, "fee_multiplier_override": 2}
        event = (await s.bob.get(f"/events/{EVENT}")).json()["event"]
        assert (event["fee_type_override"], event["fee_multiplier_override"]) == (None, 2)
        series = (await s.bob.get(f"/series/{event['series_ticker']}")).json()["series"]
        assert series["fee_multiplier"] == 1  # the series itself is unchanged
        assert await _taker_fee(s) == Decimal("0.35")  # 2 x 0.07 x 10 x 0.5 x 0.5

        await _admin(s, "/faults", {"action": "set_fee", "ticker": MARKET_A})  # neither part: cleared
        cleared = await ws.recv()
        assert_shape("ws_event_fee_update.json", cleared)
        assert cleared["msg"] == {"event_ticker": EVENT, "fee_type_override": None, "fee_multiplier_override": None}
        assert await _taker_fee(s, "0.4000") == Decimal("0.168")  # 0.07 x 10 x 0.4 x 0.6, 1x again
        await ws.close()


async def test_fault_set_fee_when_fee_type_overridden_maker_pays_maker_fees() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "set_fee", "event_ticker": EVENT,
                                    "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 0.5})
        event = (await s.alice.get(f"/events/{EVENT}")).json()["event"]
        assert (event["fee_type_override"], event["fee_multiplier_override"]) == ("quadratic_with_maker_fees", 0.5)
        await _taker_fee(s)
        maker = (await s.alice.get("/portfolio/fills")).json()["fills"][0]
        # 0.5 x 0.0175 x 10 x 0.25 = 0.021875, rounded up to $0.0001
        assert Decimal(maker["fee_cost"]) == Decimal("0.0219")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"event_ticker": "NOPE"}, 404),
        ({"ticker": "NOPE"}, 404),
        ({}, 400),
        ({"event_ticker": EVENT, "fee_type": "gold"}, 400),
        ({"event_ticker": EVENT, "fee_multiplier": "lots"}, 400),
        ({"event_ticker": EVENT, "fee_multiplier": -1}, 400),
        ({"event_ticker": EVENT, "fee_multiplier": 0.00001}, 400),
    ],
)
async def test_fault_set_fee_when_parameters_bad_refuses_them(params: dict[str, Any], status: int) -> None:
    async with running() as s, httpx.AsyncClient() as http:
        response = await http.post(s.sim.admin_url + "/faults", json={"action": "set_fee", **params})
        assert response.status_code == status, response.text


def test_fault_plan_when_set_fee_scripted_is_accepted() -> None:
    (step,) = parse_fault_plan([{"at_seconds": 5, "action": "set_fee", "event_ticker": EVENT, "fee_multiplier": 2}])
    assert (step.action, dict(step.params)) == ("set_fee", {"event_ticker": EVENT, "fee_multiplier": 2})


async def test_ground_truth_when_creates_and_amends_are_refused_counts_them_per_account_and_code() -> None:
    async with running() as s:
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.5000"))
        cross = order(price="0.5000", post_only=True)
        assert (await s.alice.post("/portfolio/events/orders", json=cross)).status_code == 400
        batch = {"orders": [cross, order(price="0.4550")]}  # post-only cross again; off the cent grid
        assert (await s.alice.post("/portfolio/events/orders/batched", json=batch)).status_code == 201
        placed = await s.alice.post("/portfolio/events/orders", json=order(price="0.4000", post_only=True))
        order_id = placed.json()["order_id"]
        amend = {"ticker": MARKET_A, "side": "bid", "price": "0.5100", "count": "10.00"}
        response = await s.alice.post(f"/portfolio/events/orders/{order_id}/amend", json=amend)
        assert response.status_code == 400
        truth = await _admin(s, "/truth")
        alice, bob = (s.sim.server.keys.get(c.signer.key_id).account_id for c in (s.alice, s.bob))
        mine = [r for r in truth["rejects"] if r["user_id"] == alice]
        assert sorted((r["action"], r["code"], r["details"], r["count"]) for r in mine) == [
            ("amend", "invalid_order", "post only cross", 1),
            ("create", "invalid_order", "post only cross", 2),
            ("create", "invalid_price", "0.4550", 1),
        ]
        assert not [r for r in truth["rejects"] if r["user_id"] == bob]


async def test_ground_truth_when_accounts_trade_tags_fills_with_counterparty_and_fair_value() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "set_fair_value", "ticker": MARKET_A, "probability": 0.47})
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4500"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.4500", count="4.00"))
        truth = await _admin(s, "/truth")
        fills = sorted(truth["fills"], key=lambda f: f["is_taker"])
        assert [(f["side"], f["is_taker"], f["count_fp"], f["yes_price_dollars"]) for f in fills] == [
            ("bid", False, "4.00", "0.4500"),
            ("ask", True, "4.00", "0.4500"),
        ]
        assert {f["counterparty_class"] for f in fills} == {"account"}  # another API account, not a synthetic trader
        assert fills[0]["counterparty"] == fills[1]["user_id"]
        assert all(f["fair_value"] == 0.47 for f in fills)
        later = await _admin(s, f"/truth?since_ns={fills[0]['ts_ns'] + 1}")
        assert later["fills"] == []


async def test_fair_history_when_fair_value_is_set_lists_each_change_in_order() -> None:
    async with running() as s:
        await _admin(s, "/faults", {"action": "set_fair_value", "ticker": MARKET_A, "probability": 0.3})
        await _admin(s, "/faults", {"action": "set_fair_value", "ticker": MARKET_A, "probability": 0.6})
        history = await _admin(s, f"/fair?ticker={MARKET_A}")
        values = [p for _, p in history["series"][MARKET_A]]
        stamps = [t for t, _ in history["series"][MARKET_A]]
        assert values[-1] == 0.6 and 0.3 not in values[values.index(0.6):]
        assert stamps == sorted(stamps)
        assert history["news"] == []
        async with httpx.AsyncClient() as http:
            assert (await http.get(s.sim.admin_url + "/fair?ticker=NOPE")).status_code == 404
            assert (await http.get(s.sim.admin_url + "/fair?since_ns=soon")).status_code == 400
