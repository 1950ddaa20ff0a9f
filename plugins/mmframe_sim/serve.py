"""Starting the simulator: in-process (`start_simulator`, for tests and ``venue: sim``), in a background
thread (`simulator_in_thread`, for synchronous tests) and from the CLI (``mmframe sim serve``).

In-process, uvicorn serves inside the caller's event loop on a loopback port picked by the OS; the
engine advances on wall time from a background task.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal

from mmframe.api import Clock, LiveClock
from mmframe_sim.auth import DEFAULT_TIMESTAMP_WINDOW_MS
from mmframe_sim.engine import DEFAULT_STARTING_BALANCE, Exchange
from mmframe_sim.faults import FaultStep, parse_fault_plan
from mmframe_sim.host import SimClock
from mmframe_sim.latency import Latency, LatencyApp
from mmframe_sim.ratelimit import DEFAULT_TIER
from mmframe_sim.server import ADMIN_PREFIX, SimServer
from mmframe_sim.ws import WS_PATH, kalshi_ws_protocol

REST_PREFIX = "/trade-api/v2"
ScenarioArg = Any
"""A scenario: None (the shipped ``standard`` one), a scenario name, a path to a YAML file, or a loaded
``mmframe_sim.scenario.Scenario``."""


@dataclass
class RunningSimulator:
    """A simulator that is serving: its URLs, its engine and a way to mint API keys."""

    server: SimServer
    host: str
    port: int
    unix_socket: str | None = None
    """The Unix socket it serves on instead of TCP (simulated time); the URLs then name its Host."""

    @property
    def base_url(self) -> str:
        if self.unix_socket is not None:
            return f"http://{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """``http://HOST:PORT/trade-api/v2``."""
        return self.base_url + REST_PREFIX

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT/trade-api/ws/v2``."""
        return self.base_url.replace("http://", "ws://", 1) + WS_PATH

    @property
    def admin_url(self) -> str:
        """``http://HOST:PORT/_sim``."""
        return self.base_url + ADMIN_PREFIX

    @property
    def exchange(self) -> Exchange:
        return self.server.exchange

    def create_api_key(
        self, balance: int | None = None, *, tier: str | None = None, account_id: str | None = None,
        read_only: bool = False,
    ) -> tuple[str, bytes]:
        """A funded account (``balance`` in price units; default the scenario's starting balance) with a
        fresh RSA-2048 key: ``(key_id, private key PEM)``; ``read_only``: its writes get 403."""
        return self.server.create_api_key(balance=balance, tier=tier, account_id=account_id, read_only=read_only)

    def register_public_key(self, public_key_pem: bytes | str, balance: int | None = None,
                            *, tier: str | None = None, read_only: bool = False) -> str:
        """Register a caller's public key (RSA or Ed25519) for a new funded account; returns its key id."""
        return self.server.register_key(public_key_pem, balance=balance, tier=tier, read_only=read_only)


def load_exchange(scenario: ScenarioArg, clock: Clock, seed: int | None) -> tuple[Exchange, list[FaultStep], int]:
    """Build a scenario's exchange; also its server-side fault plan and the starting balance of new keys."""
    from mmframe_sim.scenario import SHIPPED_SCENARIOS, load_scenario, shipped_scenario

    if scenario is None:
        loaded = shipped_scenario("standard")
    elif isinstance(scenario, str) and scenario in SHIPPED_SCENARIOS:
        loaded = shipped_scenario(scenario)
    elif isinstance(scenario, str | os.PathLike):
        loaded = load_scenario(pathlib.Path(scenario))
    else:
        loaded = scenario
    exchange = loaded.build(clock, seed=seed)
    entries = [
        {"at_seconds": f.at_seconds, "action": f.action, **({"ticker": f.ticker} if f.ticker else {}), **f.params}
        for f in loaded.server_faults()
    ]
    return exchange, parse_fault_plan(entries, where=f"{loaded.source}: faults"), loaded.starting_balance


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the host process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # a response's header and body writes wait out the peer's delayed ACK (~40 ms each).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _bind_unix(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock.bind(path)
    sock.set_inheritable(True)
    return sock


@contextlib.asynccontextmanager
async def start_simulator(
    scenario: ScenarioArg = None,
    seed: int | None = None,
    clock: Clock | None = None,
    *,
    exchange_factory: Callable[[Clock], Exchange] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    default_tier: str = DEFAULT_TIER,
    wall_clock: Clock | None = None,
    tick_seconds: float = 0.05,
    ws_queue_limit: int | None = None,
    ws_ping_interval: float = 10.0,
    timestamp_window_ms: int = DEFAULT_TIMESTAMP_WINDOW_MS,
    log_level: str = "warning",
    unix_socket: str | None = None,
    latency: Latency | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator in the current event loop until the block exits.

    ``seed`` overrides the scenario's. ``exchange_factory(clock)`` builds a custom exchange instead of
    loading ``scenario``. ``clock``
    drives the exchange (default: real time); ``wall_clock`` checks signature timestamps and refills
    rate limits (default: real time). ``port=0`` picks a free loopback port. The server pings every
    ``ws_ping_interval`` seconds (Kalshi: 10) with payload ``heartbeat``. Signature timestamps may be
    ``timestamp_window_ms`` away from ``wall_clock``. ``unix_socket``: serve on this Unix socket path
    instead of TCP (``host`` is then only the Host the URLs name); ``latency``: delay requests,
    responses and pushes as `mmframe_sim.latency.LatencyApp` models (simulated time).
    """
    sim_clock = SimClock(clock or LiveClock())
    plan: list[FaultStep] = []
    balance = DEFAULT_STARTING_BALANCE
    if exchange_factory is not None:
        exchange = exchange_factory(sim_clock)
    else:
        exchange, plan, balance = load_exchange(scenario, sim_clock, seed)
    server = SimServer(
        exchange, sim_clock, wall_clock=wall_clock, default_tier=default_tier, tick_seconds=tick_seconds,
        fault_seed=seed or 0, ws_queue_limit=ws_queue_limit, default_balance=balance,
        timestamp_window_ms=timestamp_window_ms,
    )
    sock = _bind_unix(unix_socket) if unix_socket is not None else _bind(host, port)
    app: Any = server.app if latency is None else LatencyApp(server.app, latency)
    protocol = kalshi_ws_protocol()
    config = uvicorn.Config(
        # log_config=None: never reconfigure the host process's logging (uvicorn's loggers propagate)
        app, ws=protocol or "auto", http="auto", lifespan="off", log_level=log_level, log_config=None,
        access_log=False, ws_ping_interval=ws_ping_interval,
        ws_ping_timeout=max(20.0, 2 * ws_ping_interval), timeout_graceful_shutdown=2,
        ws_max_size=1 << 20, ws_per_message_deflate=False,
    )
    uv = _EmbeddedServer(config)
    served = anyio.Event()

    async def serve() -> None:
        try:
            await uv.serve([sock])
        finally:
            served.set()

    try:
        async with anyio.create_task_group() as tg:
            server.task_group = tg
            tg.start_soon(serve)
            while not uv.started:
                if served.is_set():
                    raise RuntimeError("the simulator's HTTP server failed to start")
                await anyio.sleep(0.005)
            tg.start_soon(server.run_ticker)
            if plan:
                server.start_fault_plan(plan)
            try:
                port_used = 0 if unix_socket is not None else sock.getsockname()[1]
                yield RunningSimulator(server, host, port_used, unix_socket)
            finally:
                uv.should_exit = True
                server.hub.drop_all(code=1001, abort=False)
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await served.wait()
                tg.cancel_scope.cancel()
    finally:
        server.task_group = None
        server.close()
        sock.close()
        if unix_socket is not None:
            with contextlib.suppress(OSError):
                os.unlink(unix_socket)


@contextlib.contextmanager
def simulator_in_thread(**kwargs: Any) -> Iterator[tuple[RunningSimulator, BlockingPortal]]:
    """`start_simulator` in a background thread's event loop, for synchronous code.

    Yields the simulator and the portal; touch the engine only through ``portal.call(fn, ...)``.
    """
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(start_simulator(**kwargs)) as sim:
        yield sim, portal


def write_private_key(path: pathlib.Path, pem: bytes) -> None:
    """Write a private key readable by its owner only (mode 0600, even if the file existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
    finally:
        os.close(fd)


async def serve_forever(
    *, host: str, port: int, scenario: ScenarioArg, seed: int | None, key_out: pathlib.Path,
    public_key: pathlib.Path | None, tier: str, balance: int | None, echo: Callable[[str], None],
    read_only: bool = False,
) -> None:
    """The body of ``mmframe sim serve``: start, register the key, print the line, run until a signal."""
    async with start_simulator(scenario, seed, host=host, port=port, default_tier=tier) as sim:
        if public_key is not None:
            key_id = sim.register_public_key(public_key.read_bytes(), balance, read_only=read_only)
        else:
            key_id, pem = sim.create_api_key(balance, read_only=read_only)
            write_private_key(key_out, pem)
        echo(f"key_id={key_id} rest={sim.rest_url} ws={sim.ws_url}")
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
