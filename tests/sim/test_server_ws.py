"""The simulator's WebSocket (API.md §6) over real sockets with the independent test client."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.sim.kalshi_test_client import KalshiWs, assert_shape
from tests.sim.sim_harness import MARKET_A, MARKET_B, order, running

pytestmark = pytest.mark.anyio

SCHEMAS = {
    "subscribed": "ws_subscribed.json", "error": "ws_error.json", "orderbook_snapshot": "ws_orderbook_snapshot.json",
    "orderbook_delta": "ws_orderbook_delta.json", "ticker": "ws_ticker.json", "trade": "ws_trade.json",
    "fill": "ws_fill.json", "market_position": "ws_market_position.json", "user_order": "ws_user_order.json",
    "order_group_updates": "ws_order_group_update.json", "market_lifecycle_v2": "ws_market_lifecycle.json",
    "event_fee_update": "ws_event_fee_update.json",
}


def _checked(message: dict[str, Any]) -> dict[str, Any]:
    schema = SCHEMAS.get(message["type"])
    if schema is not None:
        assert_shape(schema, message)
    return message


async def _recv(ws: KalshiWs, n: int) -> list[dict[str, Any]]:
    return [_checked(await ws.recv()) for _ in range(n)]


async def _subscribe(ws: KalshiWs, params: dict[str, Any]) -> int:
    await ws.command("subscribe", params)
    message = _checked(await ws.recv())
    assert message["type"] == "subscribed", message
    return int(message["msg"]["sid"])


async def _expect_error(ws: KalshiWs, cmd: str, params: dict[str, Any] | None, code: int) -> None:
    cmd_id = await ws.command(cmd, params)
    message = _checked(await ws.recv())
    assert message["type"] == "error", message
    assert (message.get("id"), message["msg"]["code"]) == (cmd_id, code), message


async def test_orderbook_when_subscribed_sends_snapshot_then_contiguous_deltas() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4000", count="5.00"))
        await s.alice.post("/portfolio/events/orders", json=order(side="ask", price="0.6000", count="3.00"))
        ws = await s.bob.connect_ws()
        sid = await _subscribe(ws, {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A]})
        snapshot = _checked(await ws.recv())
        assert snapshot["type"] == "orderbook_snapshot" and snapshot["sid"] == sid and snapshot["seq"] == 1
        assert snapshot["msg"]["yes_dollars_fp"] == [["0.4000", "5.00"]]
        assert snapshot["msg"]["no_dollars_fp"] == [["0.4000", "3.00"]]
        await s.alice.post("/portfolio/events/orders", json=order(price="0.4100", count="2.00", client_order_id="q"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.4100", count="2.00",
                                                                tif="immediate_or_cancel", client_order_id="t"))
        await s.bob.post("/portfolio/events/orders", json=order(price="0.3000", count="1.00", client_order_id="own"))
        deltas = await _recv(ws, 3)
        assert [d["seq"] for d in deltas] == [2, 3, 4]
        assert [(d["msg"]["price_dollars"], d["msg"]["delta_fp"], d["msg"]["side"]) for d in deltas] == [
            ("0.4100", "2.00", "yes"), ("0.4100", "-2.00", "yes"), ("0.3000", "1.00", "yes"),
        ]
        # client_order_id only on deltas of bob's own order
        assert "client_order_id" not in deltas[0]["msg"] and "client_order_id" not in deltas[1]["msg"]
        assert deltas[2]["msg"]["client_order_id"] == "own"
        await ws.close()


async def test_fills_when_trade_happens_reach_both_parties_privately() -> None:
    async with running() as s:
        alice_ws = await s.alice.connect_ws()
        bob_ws = await s.bob.connect_ws()
        for ws in (alice_ws, bob_ws):
            await _subscribe(ws, {"channels": ["fill"]})
            await _subscribe(ws, {"channels": ["market_positions"]})
        maker = (await s.alice.post("/portfolio/events/orders",
                                    json=order(price="0.5500", count="6.00", client_order_id="m"))).json()
        taker = (await s.bob.post("/portfolio/events/orders",
                                  json=order(side="ask", price="0.5000", count="4.00", tif="immediate_or_cancel",
                                             client_order_id="t"))).json()
        alice_msgs = await _recv(alice_ws, 2)
        bob_msgs = await _recv(bob_ws, 2)
        alice_fill = next(m for m in alice_msgs if m["type"] == "fill")["msg"]
        bob_fill = next(m for m in bob_msgs if m["type"] == "fill")["msg"]
        assert (alice_fill["order_id"], alice_fill["client_order_id"], alice_fill["is_taker"]) == (
            maker["order_id"], "m", False)
        assert (bob_fill["order_id"], bob_fill["client_order_id"], bob_fill["is_taker"]) == (taker["order_id"], "t", True)
        assert alice_fill["trade_id"] == bob_fill["trade_id"]
        assert (alice_fill["yes_price_dollars"], bob_fill["yes_price_dollars"]) == ("0.5500", "0.5500")
        assert (alice_fill["post_position_fp"], bob_fill["post_position_fp"]) == ("4.00", "-4.00")
        assert (alice_fill["book_side"], bob_fill["book_side"]) == ("bid", "ask")
        alice_pos = next(m for m in alice_msgs if m["type"] == "market_position")["msg"]
        assert (alice_pos["market_ticker"], alice_pos["position_fp"]) == (MARKET_A, "4.00")
        # nothing else arrives: neither sees the other's fill
        with pytest.raises(TimeoutError):
            await alice_ws.recv(timeout=0.2)
        await alice_ws.close()
        await bob_ws.close()


async def test_public_and_order_channels_when_subscribed_send_kalshi_shapes() -> None:
    async with running() as s:
        ws = await s.alice.connect_ws()
        await _subscribe(ws, {"channels": ["ticker", "trade"], "market_tickers": [MARKET_A]})
        await ws.recv()  # the second "subscribed"
        await _subscribe(ws, {"channels": ["user_orders"]})
        await _subscribe(ws, {"channels": ["order_group_updates"]})
        await _subscribe(ws, {"channels": ["market_lifecycle_v2"]})
        await s.alice.post("/portfolio/events/orders", json=order(price="0.5000", count="2.00"))
        await s.bob.post("/portfolio/events/orders", json=order(side="ask", price="0.5000", count="1.00",
                                                                tif="immediate_or_cancel"))
        await s.alice.post("/portfolio/order_groups/create", json={"contracts_limit": 10})
        s.sim.exchange.deactivate_market(MARKET_B)
        seen: dict[str, dict[str, Any]] = {}
        with anyio.move_on_after(2):
            while not {"ticker", "trade", "user_order", "order_group_updates", "market_lifecycle_v2"} <= set(seen):
                message = _checked(await ws.recv())
                seen.setdefault(message["type"], message)
        assert seen["trade"]["msg"]["yes_price_dollars"] == "0.5000"
        assert seen["trade"]["seq"] == 1
        assert seen["user_order"]["msg"]["ticker"] == MARKET_A
        assert seen["order_group_updates"]["msg"]["event_type"] == "created"
        lifecycle = seen["market_lifecycle_v2"]["msg"]
        assert (lifecycle["event_type"], lifecycle["market_ticker"]) == ("deactivated", MARKET_B)
        await ws.close()


async def test_commands_when_invalid_return_kalshi_error_codes() -> None:
    async with running() as s:
        ws = await s.alice.connect_ws()
        await _expect_error(ws, "dance", {}, 5)
        await _expect_error(ws, "subscribe", None, 2)
        await _expect_error(ws, "subscribe", {"market_tickers": [MARKET_A]}, 3)
        await _expect_error(ws, "subscribe", {"channels": ["nope"]}, 8)
        await _expect_error(ws, "subscribe", {"channels": ["orderbook_delta"]}, 14)
        await _expect_error(ws, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": ["NOPE"]}, 16)
        await _subscribe(ws, {"channels": ["trade"], "market_tickers": [MARKET_A]})
        await _expect_error(ws, "subscribe", {"channels": ["trade"], "market_tickers": [MARKET_A, MARKET_B]}, 6)
        await _subscribe(ws, {"channels": ["trade"], "market_tickers": [MARKET_B]})
        await _expect_error(ws, "unsubscribe", {}, 4)
        await _expect_error(ws, "unsubscribe", {"sids": [99]}, 7)
        await _expect_error(ws, "update_subscription", {"sids": [1, 2], "action": "add_markets"}, 12)
        await _expect_error(ws, "update_subscription", {"sid": 1, "market_tickers": [MARKET_A]}, 15)
        await _expect_error(ws, "update_subscription", {"sid": 1, "action": "rename"}, 13)
        await _expect_error(ws, "update_subscription", {"sid": 9, "action": "add_markets",
                                                        "market_tickers": [MARKET_A]}, 7)
        await ws.conn.send("{not json")
        message = _checked(await ws.recv())
        assert message["msg"]["code"] == 1
        await ws.close()


async def test_update_subscription_when_markets_added_sends_snapshot_with_next_seq() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(ticker=MARKET_B, price="0.2000"))
        ws = await s.alice.connect_ws()
        sid = await _subscribe(ws, {"channels": ["orderbook_delta"], "market_ticker": MARKET_A})
        assert (await ws.recv())["seq"] == 1
        await ws.command("update_subscription", {"sid": sid, "action": "add_markets", "market_tickers": [MARKET_B]})
        ok, snapshot = await _recv(ws, 2)
        assert ok["type"] == "ok" and ok["sid"] == sid and ok["msg"]["market_tickers"] == [MARKET_A, MARKET_B]
        assert (snapshot["type"], snapshot["seq"], snapshot["msg"]["market_ticker"]) == ("orderbook_snapshot", 2, MARKET_B)
        await ws.command("update_subscription", {"sids": [sid], "action": "get_snapshot", "market_tickers": [MARKET_B]})
        again = _checked(await ws.recv())
        assert (again["type"], again["seq"]) == ("orderbook_snapshot", 3)
        await ws.recv()  # ok
        await ws.command("update_subscription", {"sid": sid, "action": "delete_markets", "market_tickers": [MARKET_A]})
        deleted = await ws.recv()
        assert deleted["msg"]["market_tickers"] == [MARKET_B]
        await s.alice.post("/portfolio/events/orders", json=order(ticker=MARKET_A, price="0.1000"))
        await s.alice.post("/portfolio/events/orders", json=order(ticker=MARKET_B, price="0.1000"))
        delta = _checked(await ws.recv())
        assert (delta["msg"]["market_ticker"], delta["seq"]) == (MARKET_B, 4)
        cmd_id = await ws.command("list_subscriptions")
        listed = await ws.recv()
        assert listed == {"id": cmd_id, "type": "ok", "msg": [{"channel": "orderbook_delta", "sid": sid}]}
        cmd_id = await ws.command("unsubscribe", {"sids": [sid]})
        gone = await ws.recv()
        assert (gone["id"], gone["type"], gone["sid"], gone["seq"]) == (cmd_id, "unsubscribed", sid, 4)
        await ws.close()


async def test_orderbook_when_use_yes_price_reports_no_ladder_in_yes_terms() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(side="ask", price="0.6000", count="3.00"))
        ws = await s.bob.connect_ws()
        await _subscribe(ws, {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A], "use_yes_price": True})
        snapshot = await ws.recv()
        assert snapshot["msg"]["no_dollars_fp"] == [["0.6000", "3.00"]]
        await s.alice.post("/portfolio/events/orders", json=order(side="ask", price="0.7000", count="1.00"))
        delta = await ws.recv()
        assert (delta["msg"]["side"], delta["msg"]["price_dollars"]) == ("no", "0.7000")
        await ws.close()


async def test_orderbook_when_use_yes_price_false_reports_no_ladder_in_no_terms() -> None:
    async with running() as s:
        await s.alice.post("/portfolio/events/orders", json=order(side="ask", price="0.6000", count="3.00"))
        ws = await s.bob.connect_ws()
        await _subscribe(ws, {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A], "use_yes_price": False})
        snapshot = _checked(await ws.recv())
        assert snapshot["msg"]["no_dollars_fp"] == [["0.4000", "3.00"]]  # a YES ask at 0.60 = NO bid at 0.40
        await s.alice.post("/portfolio/events/orders", json=order(side="ask", price="0.7000", count="1.00"))
        delta = _checked(await ws.recv())
        assert (delta["msg"]["side"], delta["msg"]["price_dollars"]) == ("no", "0.3000")
        await ws.close()


async def test_orderbook_when_use_yes_price_not_a_boolean_answers_invalid_parameter() -> None:
    async with running() as s:
        ws = await s.bob.connect_ws()
        params = {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A], "use_yes_price": "true"}
        await _expect_error(ws, "subscribe", params, 11)
        await ws.close()


class _StalledClient:
    """A WebSocket client that subscribes and then stops reading (websockets' sans-I/O protocol over a
    plain TCP stream, so nothing reads in the background; the kernel's receive buffer stays small)."""

    def __init__(self, stream: Any, protocol: ClientProtocol) -> None:
        self.stream = stream
        self.protocol = protocol

    @classmethod
    async def open(cls, ws_url: str, headers: dict[str, str]) -> _StalledClient:
        uri = parse_uri(ws_url)
        stream = await anyio.connect_tcp(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        client = cls(stream, protocol)
        await client.flush()
        while protocol.handshake_exc is None and protocol.state is not State.OPEN:
            protocol.receive_data(await stream.receive())
        return client

    async def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                await self.stream.send(data)

    async def send_json(self, obj: dict[str, Any]) -> None:
        self.protocol.send_text(orjson.dumps(obj))
        await self.flush()

    async def read_all(self) -> list[dict[str, Any]]:
        """Read until the server closes; every text message, parsed."""
        messages: list[dict[str, Any]] = []
        with anyio.fail_after(10):
            while True:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
                self.protocol.receive_data(data)
                for event in self.protocol.events_received():
                    if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                        messages.append(orjson.loads(event.data))
                await self.flush()
        await self.stream.aclose()
        return messages


async def test_slow_consumer_when_queue_overflows_gets_error_25_and_others_keep_flowing() -> None:
    async with running(ws_queue_limit=1500) as s:
        fast = await s.alice.connect_ws()
        await _subscribe(fast, {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A]})
        await fast.recv()
        slow = await _StalledClient.open(s.sim.ws_url, s.bob.ws_headers())
        await slow.send_json({"id": 1, "cmd": "subscribe",
                              "params": {"channels": ["orderbook_delta"], "market_tickers": [MARKET_A]}})
        hub = s.sim.server.hub
        next_seq = 2
        prices = [f"0.{p:02d}00" for p in range(1, 100)]
        for batch in range(20):
            orders = [order(price=prices[(batch * 1000 + i) % 99], count="1.00") for i in range(1000)]
            response = await s.alice.post("/portfolio/events/orders/batched", json={"orders": orders})
            assert response.status_code == 201
            seqs = [(await fast.recv())["seq"] for _ in range(len(orders))]
            assert seqs == list(range(next_seq, next_seq + 1000))  # the fast client is never stalled
            next_seq += 1000
            if len(hub.sessions) == 1:
                break
        assert len(hub.sessions) == 1, "the slow client was never dropped"
        messages = await slow.read_all()
        errors = [m for m in messages if m["type"] == "error"]
        assert [e["msg"]["code"] for e in errors] == [25]
        assert messages[-1] is errors[0]
        seqs = [m["seq"] for m in messages if m["type"] == "orderbook_delta"]
        assert seqs == list(range(2, 2 + len(seqs)))  # contiguous up to the overflow
        await fast.close()


async def test_server_when_connected_pings_with_heartbeat_payload(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    async with running(ws_ping_interval=0.1) as s:
        ws = await s.alice.connect_ws()
        with anyio.fail_after(3):
            while not any("PING" in r.getMessage() and "heartbeat" in r.getMessage() for r in caplog.records):
                await anyio.sleep(0.05)
        await ws.close()


async def test_private_channel_when_filtered_by_market_skips_other_markets() -> None:
    async with running() as s:
        ws = await s.alice.connect_ws()
        await _subscribe(ws, {"channels": ["fill"], "market_tickers": [MARKET_B]})
        await _subscribe(ws, {"channels": ["user_orders"], "market_tickers": [MARKET_B]})
        await s.alice.post("/portfolio/events/orders", json=order(ticker=MARKET_A, price="0.5000"))
        await s.bob.post("/portfolio/events/orders", json=order(ticker=MARKET_A, side="ask", price="0.5000",
                                                                tif="immediate_or_cancel"))
        await s.alice.post("/portfolio/events/orders", json=order(ticker=MARKET_B, price="0.2000"))
        message = _checked(await ws.recv())
        assert (message["type"], message["msg"]["ticker"]) == ("user_order", MARKET_B)
        with pytest.raises(TimeoutError):
            await ws.recv(timeout=0.2)
        await ws.close()
