"""KalshiWebSocket against a scripted WebSocket server on a loopback port: signed handshake,
seq-gap recovery, reconnect with resubscribe and reconciliation callback, heartbeat watchdog."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from mmframe_kalshi.auth import RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.ws import Backoff, KalshiWebSocket
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode
from websockets.utils import accept_key

from mmframe.api import LiveClock

pytestmark = pytest.mark.anyio
WS_PATH = "/trade-api/ws/v2"


@dataclass
class ScriptedServer:
    """Answers subscribe/update commands like Kalshi; tests push frames to the live connection."""

    connections: list[ServerConnection] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    next_sid: int = 1
    refuse_snapshot: bool = False
    command_seen: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.headers.append({k.lower(): v for k, v in ws.request.headers.raw_items()})
        self.connections.append(ws)
        self.connected.set()
        async for raw in ws:
            cmd = orjson.loads(raw)
            self.commands.append(cmd)
            self.command_seen.set()
            if cmd["cmd"] == "subscribe":
                for channel in cmd["params"]["channels"]:
                    sid, self.next_sid = self.next_sid, self.next_sid + 1
                    await ws.send(
                        orjson.dumps(
                            {"id": cmd["id"], "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
                        ).decode()
                    )
            elif cmd["cmd"] == "update_subscription" and self.refuse_snapshot:
                await ws.send(
                    orjson.dumps(
                        {"id": cmd["id"], "type": "error", "msg": {"code": 13, "msg": "unsupported action"}}
                    ).decode()
                )

    async def push(self, frame: dict[str, Any]) -> None:
        await self.connections[-1].send(orjson.dumps(frame).decode())

    async def wait_command(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for cmd in self.commands:
                    if predicate(cmd):
                        return cmd
                self.command_seen.clear()
                await self.command_seen.wait()

        return await asyncio.wait_for(find(), timeout)


@dataclass
class Client:
    ws: KalshiWebSocket
    frames: list[Frame] = field(default_factory=list)
    gaps: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    reconnects: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, predicate: Any, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def setup(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[ScriptedServer, Client]]:
    server = ScriptedServer()
    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        holder: dict[str, Client] = {}

        def on_frame(frame: Frame, ts: int) -> None:
            holder["c"].frames.append(frame)
            holder["c"].changed.set()

        def on_gap(channel: str, markets: tuple[str, ...], reason: str) -> None:
            holder["c"].gaps.append((channel, markets, reason))
            holder["c"].changed.set()

        async def on_reconnect() -> None:
            holder["c"].reconnects += 1
            holder["c"].changed.set()

        ws = KalshiWebSocket(
            f"ws://127.0.0.1:{port}{WS_PATH}",
            RequestSigner(KalshiCredentials("kid", rsa_key), LiveClock()),
            LiveClock(),
            on_frame=on_frame,
            on_gap=on_gap,
            on_reconnect=on_reconnect,
            heartbeat_s=0.4,
            ping_interval_s=0.1,
            backoff=Backoff(base_s=0.01, max_s=0.05),
            rng=random.Random(1),
        )
        client = holder["c"] = Client(ws)
        await ws.subscribe("orderbook_delta", ["A", "B"])
        await ws.subscribe("fill", None)
        task = asyncio.create_task(ws.run())
        await ws.wait_connected(5)
        await server.wait_command(lambda c: c["cmd"] == "subscribe" and c["params"]["channels"] == ["fill"])
        try:
            yield server, client
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


def _snapshot(seq: int, ticker: str = "A") -> dict[str, Any]:
    return {
        "type": "orderbook_snapshot",
        "sid": 1,
        "seq": seq,
        "msg": {"market_ticker": ticker, "yes_dollars_fp": [["0.4000", "1.00"]]},
    }


def _delta(seq: int, ticker: str = "A") -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": seq,
        "msg": {"market_ticker": ticker, "price_dollars": "0.4000", "delta_fp": "1.00", "side": "yes"},
    }


async def test_ws_when_connecting_signs_handshake_verifiable_with_public_key(
    setup: Any, rsa_key: rsa.RSAPrivateKey
) -> None:
    server, _ = setup
    headers = server.headers[0]
    message = (headers["kalshi-access-timestamp"] + "GET" + WS_PATH).encode()
    rsa_key.public_key().verify(
        base64.b64decode(headers["kalshi-access-signature"]),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    assert headers["kalshi-access-key"] == "kid"
    book = next(c for c in server.commands if c["params"]["channels"] == ["orderbook_delta"])
    assert book["params"]["market_tickers"] == ["A", "B"]
    fill = next(c for c in server.commands if c["params"]["channels"] == ["fill"])
    assert "market_tickers" not in fill["params"]


async def test_ws_when_subscribing_order_book_says_use_yes_price_explicitly(setup: Any) -> None:
    server, client = setup
    book = next(c for c in server.commands if c["params"]["channels"] == ["orderbook_delta"])
    assert book["params"]["use_yes_price"] is True and client.ws.use_yes_price is True
    others = [c for c in server.commands if c["cmd"] == "subscribe" and c["params"]["channels"] != ["orderbook_delta"]]
    assert others and all("use_yes_price" not in c["params"] for c in others)


async def test_ws_when_seq_gaps_invalidates_and_requests_snapshot(setup: Any) -> None:
    server, client = setup
    for frame in (_snapshot(1), _delta(2), _delta(4)):
        await server.push(frame)
    await client.wait(lambda: client.gaps)
    assert client.gaps[0][:2] == ("orderbook_delta", ("A", "B"))
    assert "expected 3, got 4" in client.gaps[0][2]
    cmd = await server.wait_command(lambda c: c["cmd"] == "update_subscription")
    assert cmd["params"] == {"sid": 1, "market_tickers": ["A", "B"], "action": "get_snapshot"}
    await server.push(_snapshot(5))
    await client.wait(lambda: len(client.frames) == 3)
    assert [f.seq for f in client.frames] == [1, 2, 5]  # the delta after the gap was not delivered


async def test_ws_when_snapshot_refused_resubscribes(setup: Any) -> None:
    server, _ = setup
    server.refuse_snapshot = True
    for frame in (_snapshot(1), _delta(3)):
        await server.push(frame)
    await server.wait_command(lambda c: c["cmd"] == "unsubscribe" and c["params"] == {"sids": [1]})
    again = await server.wait_command(
        lambda c: c["cmd"] == "subscribe" and c["params"]["channels"] == ["orderbook_delta"] and c["id"] > 2
    )
    assert again["params"]["market_tickers"] == ["A", "B"]


async def test_ws_when_server_drops_reconnects_resubscribes_and_reconciles(setup: Any) -> None:
    server, client = setup
    await server.push(_snapshot(1))
    await client.wait(lambda: client.frames)
    await server.connections[-1].close()
    await client.wait(lambda: client.reconnects == 1)
    assert len(server.connections) == 2
    assert ("orderbook_delta", ("A", "B"), "disconnected") in client.gaps
    subs = [c for c in server.commands if c["cmd"] == "subscribe"]
    assert len(subs) == 4
    # seq restarts with the new subscription without a false gap
    await server.push({**_snapshot(1), "sid": 3})
    await client.wait(lambda: len(client.frames) == 2)
    assert len(client.gaps) == 1


async def test_ws_when_server_goes_silent_watchdog_reconnects(setup: Any) -> None:
    server, client = setup
    silent = server.connections[-1]
    silent.transport.pause_reading()  # no pongs, no frames
    await client.wait(lambda: client.reconnects == 1, timeout=5)
    assert client.ws.stats.watchdog_drops == 1
    silent.transport.abort()


async def test_ws_when_markets_added_sends_update_subscription(setup: Any) -> None:
    server, client = setup
    await server.push(_snapshot(1))
    await client.wait(lambda: client.frames)
    await client.ws.subscribe("orderbook_delta", ["B", "C"])
    cmd = await server.wait_command(lambda c: c["cmd"] == "update_subscription")
    assert cmd["params"] == {"sid": 1, "market_tickers": ["C"], "action": "add_markets"}


async def test_ws_when_frame_malformed_counts_and_continues(setup: Any) -> None:
    server, client = setup
    await server.connections[-1].send("{not json")
    await server.push(_snapshot(1))
    await client.wait(lambda: client.frames)
    assert client.ws.stats.malformed == 1


@asynccontextmanager
async def _idle_reader(
    rsa_key: rsa.RSAPrivateKey,
    on_frame: Callable[[Frame, int], None],
    on_burst_end: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[KalshiWebSocket, ServerConnection]]:
    """A reader subscribed to market A's book on a real WebSocket server, past its snapshot and idle
    far longer than a read slice; yields it and the server's connection (to write bursts on)."""
    server = ScriptedServer()
    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        ws = KalshiWebSocket(
            f"ws://127.0.0.1:{port}{WS_PATH}",
            RequestSigner(KalshiCredentials("kid", rsa_key), LiveClock()),
            LiveClock(),
            on_frame=on_frame,
            on_burst_end=on_burst_end,
            heartbeat_s=5,
            ping_interval_s=1,
            rng=random.Random(1),
        )
        await ws.subscribe("orderbook_delta", ["A"])
        task = asyncio.create_task(ws.run())
        try:
            await ws.wait_connected(5)
            await server.wait_command(lambda c: c["cmd"] == "subscribe")
            await server.push(_snapshot(1))
            await asyncio.sleep(0.05)  # idle far longer than a read slice
            yield ws, server.connections[-1]
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


def _write_burst(conn: ServerConnection, seqs: tuple[int, ...]) -> None:
    """Deltas ``seqs`` of market A sent in one write."""
    for seq in seqs:
        conn.protocol.send_text(orjson.dumps(_delta(seq)))
    conn.send_data()


async def _until(done: Callable[[], bool]) -> None:
    """Poll ``done`` for up to 2 s (the assertion after it says what was expected)."""
    for _ in range(200):
        if done():
            return
        await asyncio.sleep(0.01)


async def test_ws_when_a_burst_arrives_after_an_idle_wait_reads_it_whole_before_yielding(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # Issue 16: one exchange update (a maker's cancel + re-place) comes as several frames in one
    # write. The reader must apply them all before anything else runs (the engine quotes right
    # after the burst); it yielded after every frame once an idle wait had outlasted its read
    # slice, and after the first frame when a yield was asked for between bursts.
    loop = asyncio.get_running_loop()
    seen: list[tuple[int, bool]] = []  # (seq, whether a callback scheduled at the burst's first frame ran)
    ran = {"marker": False}

    def on_frame(frame: Frame, ts: int) -> None:
        if frame.type != "orderbook_delta":
            return
        if frame.seq == 2:
            loop.call_soon(lambda: ran.update(marker=True))
        assert frame.seq is not None
        seen.append((frame.seq, ran["marker"]))

    async with _idle_reader(rsa_key, on_frame) as (ws, conn):
        ws.yield_after_frame()  # asked for between bursts (a request the quoting task started)
        _write_burst(conn, (2, 3, 4, 5))
        await _until(lambda: len(seen) == 4)
    assert seen == [(2, False), (3, False), (4, False), (5, False)]


async def test_ws_when_a_burst_is_applied_calls_on_burst_end_once_in_the_reader_before_other_callbacks(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # The runtime requotes a burst's markets from `on_burst_end` (`BurstContext.burst_done`): it must
    # come once per burst, after its last frame, in the reader's own step (before a callback that was
    # made ready during the burst): not after the first frame, and not on a later turn of the loop.
    loop = asyncio.get_running_loop()
    log: list[object] = []  # delta seqs, "end" for each on_burst_end, "marker" when a callback runs

    def on_frame(frame: Frame, ts: int) -> None:
        if frame.type != "orderbook_delta":
            return
        log.append(frame.seq)
        if frame.seq in (2, 6):  # a burst's first frame: something else becomes ready on the loop
            loop.call_soon(log.append, "marker")

    async with _idle_reader(rsa_key, on_frame, on_burst_end=lambda: log.append("end")) as (_, conn):
        for burst in ((2, 3, 4, 5), (6, 7)):
            log.clear()
            _write_burst(conn, burst)
            await _until(lambda: "marker" in log)
            assert log == [*burst, "end", "marker"]


async def test_ws_when_frames_arrive_with_the_handshake_a_later_burst_still_ends_after_its_last_frame(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    # Frames that arrive before the read loop starts (here in the same write as the handshake's
    # answer) are received but not yet read: the reader counted them as read, so every later burst
    # looked finished that many frames early, and the runtime quoted it half-way through.
    bursts: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept_key(key.decode())}\r\n\r\n").encode()
        early = b"".join(_text(_delta(seq)) for seq in (1, 2, 3))
        writer.write(answer + early)  # one write: the client has them before it reads any
        while True:
            writer.write(await bursts.get())

    log: list[object] = []
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ws = KalshiWebSocket(
        f"ws://127.0.0.1:{port}{WS_PATH}",
        RequestSigner(KalshiCredentials("kid", rsa_key), LiveClock()),
        LiveClock(),
        on_frame=lambda frame, ts: log.append(frame.seq),
        on_burst_end=lambda: log.append("end"),
        heartbeat_s=5,
        ping_interval_s=1,
        rng=random.Random(1),
    )
    task = asyncio.create_task(ws.run())
    try:
        await _until(lambda: "end" in log)
        assert log == [1, 2, 3, "end"]
        log.clear()
        await bursts.put(b"".join(_text(_delta(seq)) for seq in (4, 5, 6, 7)))
        await _until(lambda: "end" in log)
        assert log == [4, 5, 6, 7, "end"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        server.close()


def _text(frame: dict[str, Any]) -> bytes:
    """``frame`` as one unmasked WebSocket text frame (a server's), on the wire."""
    return WsFrame(Opcode.TEXT, orjson.dumps(frame)).serialize(mask=False)
