"""Modelled latency: an ASGI wrapper that delays what crosses the simulated network.

Used under simulated time (``mmframe run --sim-time``), where the network is a Unix socket inside
the process and every computation takes no simulated time: without it a daemon would answer a news
jump in zero time and no race could be lost. The model, per direction:

* a REST request reaches the exchange ``network_s + processing_s`` after the client wrote it (the
  processing stands for the daemon's frame-in -> request-written path, which costs CPU but no
  simulated time), and its response reaches the client ``network_s`` later;
* every WebSocket message the exchange pushes reaches the client ``network_s`` after it was sent,
  in order (a delay line: a burst is not spread out), and a client command reaches the exchange
  ``network_s`` after it was written.

Defaults from docs/benchmarks.md (event to order, loopback): a REST round trip p50 ~1.0 ms (so
0.5 ms each way) and frame in -> request handed to HTTP p50 ~0.5 ms.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mmframe_sim.ws import SEND_BATCH

DEFAULT_NETWORK_MS = 0.5
DEFAULT_PROCESSING_MS = 0.5


@dataclass(frozen=True)
class Latency:
    """One-way network latency and the client's processing time, seconds."""

    network_s: float = DEFAULT_NETWORK_MS / 1000
    processing_s: float = DEFAULT_PROCESSING_MS / 1000

    def __post_init__(self) -> None:
        if self.network_s < 0 or self.processing_s < 0:
            raise ValueError(f"latencies cannot be negative: {self}")

    @classmethod
    def from_config(cls, config: Any) -> Latency:
        """From ``{network_ms: 0.5, processing_ms: 0.5}`` (either may be left out; None: defaults)."""
        if config is None:
            return cls()
        if not isinstance(config, dict):
            raise ValueError(f"latency must be a mapping of network_ms/processing_ms, got {config!r}")
        unknown = set(config) - {"network_ms", "processing_ms"}
        if unknown:
            raise ValueError(f"latency: unknown key(s) {', '.join(sorted(unknown))} (network_ms, processing_ms)")
        network = config.get("network_ms", DEFAULT_NETWORK_MS)
        processing = config.get("processing_ms", DEFAULT_PROCESSING_MS)
        for name, value in (("network_ms", network), ("processing_ms", processing)):
            # Decimal: how the pipeline loader types a number given on the command line (--set).
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                raise ValueError(f"latency.{name} must be a number of milliseconds, got {value!r}")
        return cls(network_s=float(network) / 1000, processing_s=float(processing) / 1000)


class LatencyApp:
    """``app`` behind the modelled `Latency` (see the module docstring)."""

    def __init__(self, app: ASGIApp, latency: Latency) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await anyio.sleep(self.latency.network_s + self.latency.processing_s)
        delayed = False

        async def send_later(message: Message) -> None:
            nonlocal delayed
            if not delayed:  # the whole response travels together
                delayed = True
                await anyio.sleep(self.latency.network_s)
            await send(message)

        await self.app(scope, receive, send_later)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.latency.network_s
        line: collections.deque[tuple[float, Message]] = collections.deque()
        wake = anyio.Event()
        drained = anyio.Event()
        drained.set()
        failure: list[Exception] = []

        async def pump() -> None:
            nonlocal wake
            while True:
                if not line:
                    drained.set()
                    wake = anyio.Event()
                    await wake.wait()
                    continue
                due, message = line[0]
                wait = due - anyio.current_time()
                if wait > 0:
                    await anyio.sleep(wait)
                line.popleft()
                try:
                    await send(message)
                except Exception as exc:  # the peer is gone: the app learns it on its next send
                    failure.append(exc)
                    line.clear()

        async def send_later(message: Message) -> None:
            nonlocal drained
            if failure:
                raise failure[0]
            if message["type"] == "websocket.send" or message["type"] == SEND_BATCH:
                if drained.is_set():
                    drained = anyio.Event()
                line.append((anyio.current_time() + delay, message))
                wake.set()
                return
            await drained.wait()  # accept, close, abort and denials keep their place behind the data
            await send(message)

        async def receive_later() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                await anyio.sleep(delay)
            return message

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                await self.app(scope, receive_later, send_later)
            finally:
                tg.cancel_scope.cancel()
