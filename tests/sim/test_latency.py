"""Modelled latency (simulated time): requests, responses and pushes arrive exactly as late as modelled."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mmframe_sim.latency import Latency, LatencyApp
from mmframe_sim.serve import start_simulator

from mmframe.simtime import run_virtual, virtual_clock

NETWORK_S = 0.003
PROCESSING_S = 0.002


def test_a_rest_request_over_the_unix_socket_when_latency_is_modelled_takes_two_trips_and_the_processing(
    tmp_path: Path,
) -> None:
    sock = str(tmp_path / "sim.sock")

    async def main() -> tuple[int, float]:
        clock = virtual_clock()
        latency = Latency(network_s=NETWORK_S, processing_s=PROCESSING_S)
        async with start_simulator(clock=clock, wall_clock=clock, unix_socket=sock, latency=latency) as sim:
            assert sim.unix_socket == sock and sim.rest_url == "http://127.0.0.1/trade-api/v2"
            transport = httpx.AsyncHTTPTransport(uds=sock)
            async with httpx.AsyncClient(transport=transport) as http:
                await http.get(sim.rest_url + "/exchange/status")  # the connection is open: time the next one
                loop = asyncio.get_running_loop()
                started = loop.time()
                response = await http.get(sim.rest_url + "/exchange/status")
                return response.status_code, loop.time() - started

    status, elapsed = run_virtual(main)
    assert status == 401  # unsigned: the answer still crosses the modelled network both ways
    assert elapsed == pytest.approx(2 * NETWORK_S + PROCESSING_S, abs=1e-9)
    assert not Path(sock).exists()  # removed when the simulator stopped


def test_websocket_pushes_when_delayed_keep_their_spacing_and_order_and_the_close_comes_last() -> None:
    arrived: list[tuple[str, float]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        for i in range(3):
            await send({"type": "websocket.send", "text": f"m{i}"})
            await anyio.sleep(0.001)
        await send({"type": "websocket.close", "code": 1000})

    async def outer_send(message: Any) -> None:
        arrived.append((message.get("text") or message["type"], asyncio.get_running_loop().time()))

    async def outer_receive() -> Any:
        await anyio.sleep_forever()

    async def main() -> None:
        app = LatencyApp(inner, Latency(network_s=NETWORK_S, processing_s=PROCESSING_S))
        await app({"type": "websocket"}, outer_receive, outer_send)

    run_virtual(main)
    names = [name for name, _ in arrived]
    times = {name: t for name, t in arrived}
    assert names == ["websocket.accept", "m0", "m1", "m2", "websocket.close"]
    assert times["m0"] == pytest.approx(NETWORK_S, abs=1e-9)
    assert times["m1"] == pytest.approx(NETWORK_S + 0.001, abs=1e-9)
    assert times["m2"] == pytest.approx(NETWORK_S + 0.002, abs=1e-9)
    assert times["websocket.close"] >= times["m2"]


def test_a_client_message_when_latency_is_modelled_reaches_the_app_one_trip_later() -> None:
    got: list[float] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        got.append(asyncio.get_running_loop().time())

    messages = [{"type": "websocket.receive", "text": "hi"}]

    async def outer_receive() -> Any:
        return messages.pop()

    async def outer_send(message: Any) -> None:
        pass

    async def main() -> None:
        await LatencyApp(inner, Latency(network_s=NETWORK_S))({"type": "websocket"}, outer_receive, outer_send)

    run_virtual(main)
    assert got == [pytest.approx(NETWORK_S, abs=1e-9)]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, Latency()),
        ({}, Latency()),
        ({"network_ms": 50}, Latency(network_s=0.05)),
        ({"network_ms": 0, "processing_ms": 0.25}, Latency(network_s=0.0, processing_s=0.00025)),
        # `--set venue.sim.latency.network_ms=0.5` arrives as a Decimal (it was refused)
        ({"network_ms": Decimal("0.5")}, Latency(network_s=0.0005)),
    ],
)
def test_latency_from_config_when_valid_reads_milliseconds(config: Any, expected: Latency) -> None:
    assert Latency.from_config(config) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1, 2], "mapping"),
        ({"network": 1}, "unknown key"),
        ({"network_ms": "1"}, "number of milliseconds"),
        ({"processing_ms": True}, "number of milliseconds"),
        ({"network_ms": -1}, "negative"),
    ],
)
def test_latency_from_config_when_bad_names_the_problem(config: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Latency.from_config(config)
