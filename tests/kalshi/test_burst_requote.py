"""The event-to-order path of a burst, end to end: the runtime's engine with the Kalshi feed reading a
real WebSocket on loopback (a scripted server) and an executor that takes actions synchronously.

One exchange update arrives as several frames in one write. The market is requoted once, on the book
after the last of them (not on one half-way through: issue 16's post-only rejects), and in the
WebSocket reader's own step when the burst is applied (`BurstContext.burst_done`): before anything
else that became ready on the event loop meanwhile. A requote left to a loop callback (the fallback
for feeds that never say where a burst ends) runs behind such a callback, and this test fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.session import KalshiSession
from websockets.asyncio.server import serve

from mmframe.api import (
    AmendOrder,
    BookDeltaReceived,
    BookSide,
    ComponentSpec,
    CreateOrder,
    Event,
    Kind,
    OrderActionsSubmitted,
    hookimpl,
)
from mmframe.pipeline.model import ComponentRef, ControlConfig, MarketSelection, Pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from tests.kalshi.test_ws import WS_PATH, ScriptedServer
from tests.runtime import memory_plugin
from tests.runtime.memory_plugin import TICKERS, MemoryVenue

pytestmark = pytest.mark.anyio
_KEY: dict[str, rsa.RSAPrivateKey] = {}


class WsMemoryVenue(MemoryVenue):
    """The in-memory venue's synchronous executor, with the Kalshi feed over a real WebSocket."""

    def __init__(self, config: Mapping[str, Any], clock: Any) -> None:
        super().__init__({"immediate": True})
        self.session = KalshiSession(
            "http://127.0.0.1:9/trade-api/v2",  # never used: no market info, no limits read
            str(config["ws_url"]),
            KalshiCredentials("k", _KEY["rsa"]),
            clock,
            load_limits=False,
            presign=False,
            fast_order_path=False,
        )

    async def open(self) -> None:
        await self.session.open()
        await self.session.wait_connected(5)
        self.opened = True

    def feed(self) -> Any:
        return KalshiFeed(self.session, load_market_info=False)

    async def close(self) -> None:
        await self.session.close()
        self.closed = True


@hookimpl
def register_venues(register: Any) -> None:
    register(ComponentSpec(kind=Kind.VENUE, name="memory-ws", summary="Memory venue, Kalshi WebSocket feed.",
                           factory=lambda cfg, ctx: WsMemoryVenue(cfg, ctx.clock),
                           config_schema={"type": "object", "properties": {"ws_url": {"type": "string"}}}))


def _book(seq: int, ticker: str) -> dict[str, Any]:
    levels = {"yes_dollars_fp": [["0.4000", "2.00"]], "no_dollars_fp": [["0.5500", "1.00"]]}
    return {"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": {"market_ticker": ticker, **levels}}


def _delta(seq: int, price: str, delta: str) -> bytes:
    msg = {"market_ticker": TICKERS[0], "price_dollars": price, "delta_fp": delta, "side": "yes"}
    return orjson.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg})


def _bid_price(action: Any) -> int | None:
    if isinstance(action, CreateOrder | AmendOrder) and action.side == BookSide.BID:
        return action.price
    return None


async def test_engine_when_a_burst_arrives_on_the_websocket_requotes_once_after_it_before_other_callbacks(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    _KEY["rsa"] = rsa_key
    server = ScriptedServer()
    loop = asyncio.get_running_loop()
    log: list[Any] = []
    watching = {"on": False}

    def observe(event: Event) -> None:
        if not watching["on"]:
            return
        if isinstance(event, BookDeltaReceived):
            if not any(isinstance(entry, tuple) and entry[0] == "delta" for entry in log):
                loop.call_soon(log.append, "marker")  # made ready by the burst's first frame
            log.append(("delta", event.price))
        elif isinstance(event, OrderActionsSubmitted):
            log.append(("submitted", tuple((a.ticker, _bid_price(a)) for a in event.actions)))

    async with serve(server.handler, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        registry = load_registry(extra_modules=[memory_plugin, __import__(__name__, fromlist=["_"])],
                                 environ={"MMFRAME_DISABLE_PLUGINS": ""})
        pipeline = Pipeline(
            name="burst", path="<test>",
            venue=ComponentRef(Kind.VENUE, "memory-ws", {"ws_url": f"ws://127.0.0.1:{port}{WS_PATH}"}, None),
            markets=MarketSelection(tickers=TICKERS),
            strategy=ComponentRef(Kind.STRATEGY, "join-best", {}, None),
            risk=(), sinks=(), control=ControlConfig(enabled=False),
        )
        engine = build_engine(pipeline, registry)
        engine.add_observer(observe)
        async with anyio.create_task_group() as tg:
            result: list[int] = []

            async def run() -> None:
                result.append(await engine.run(30))

            tg.start_soon(run)
            await server.wait_command(lambda c: c["cmd"] == "subscribe" and c["params"]["channels"] == ["orderbook_delta"])
            await server.push(_book(1, TICKERS[0]))
            await server.push(_book(2, TICKERS[1]))
            venue = MemoryVenue.instances[-1]
            executed = venue.executor().executed
            with anyio.fail_after(5):
                while not any(a.ticker == TICKERS[0] and _bid_price(a) == 4000 for a in executed):
                    await anyio.sleep(0.01)
            await anyio.sleep(0.05)  # the first quotes are acknowledged; the loop is quiet
            conn = server.connections[-1]
            seq = 3
            # Each burst's best bid moves through states that never existed as a whole update.
            for burst, final in (
                ((("0.4300", "1.00"), ("0.4300", "-1.00"), ("0.4200", "1.00")), 4200),
                ((("0.4200", "-1.00"), ("0.4400", "1.00"), ("0.4400", "-1.00")), 4000),
            ):
                log.clear()
                watching["on"] = True
                calls = venue.executor().nowait_calls
                for price, delta in burst:
                    conn.protocol.send_text(_delta(seq, price, delta))
                    seq += 1
                conn.send_data()  # one write: the reader finds all of them buffered
                with anyio.fail_after(5):
                    while "marker" not in log:
                        await anyio.sleep(0.01)
                watching["on"] = False
                deltas = [entry for entry in log if entry[0] == "delta"]
                assert len(deltas) == 3
                # all three frames applied, then one submission for the final book, then the callback
                assert log == [*deltas, ("submitted", ((TICKERS[0], final),)), "marker"]
                assert venue.executor().nowait_calls == calls + 1
            engine.request_stop("test done")
        assert result == [0]
