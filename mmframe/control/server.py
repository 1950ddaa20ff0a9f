"""Serve the control plane inside the engine's event loop (uvicorn on a socket we bind ourselves)."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import uvicorn

from mmframe.control.app import ControlPlane
from mmframe.control.auth import BearerAuth, ControlConfigError, check_bind, resolve_token
from mmframe.control.flatten import Flattener
from mmframe.control.monitor import ControlMonitor
from mmframe.control.params import ParamsService

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine

log = logging.getLogger("mmframe.control")
SHUTDOWN_GRACE_S = 2.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the daemon (which cancels orders before exiting)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: the OS picks a free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ControlConfigError(f"control plane cannot use host {host!r}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ControlConfigError(
            f"control plane cannot listen on {host}:{port}: {exc.strerror or exc}; set control.port to a "
            "free port (--set control.port=3002), or to 0 to let the OS pick one (the log says which)"
        ) from exc
    return sock


def open_control_socket(config: Any) -> socket.socket:
    """Check the control plane's bind rule and take its port, before anything else starts: a port in
    use (a second bot on the default 3001) or an unsafe bind is found while nothing runs yet.

    Raises `ControlConfigError` with what to change.
    """
    check_bind(config.host, resolve_token(getattr(config, "token", None)))
    return bind_socket(config.host, int(config.port))


def build_control_plane(engine: Engine, *, config: Any) -> ControlPlane:
    """Wire a `ControlPlane` to ``engine`` (and start its monitor observing events)."""
    token = resolve_token(getattr(config, "token", None))
    check_bind(config.host, token)
    monitor = ControlMonitor(engine.clock.monotonic_ns, engine.core.tracker.working)
    for ticker in engine.markets:
        monitor.uptime.track(ticker)
    engine.add_observer(monitor.observe)
    return ControlPlane(
        engine,
        monitor=monitor,
        auth=BearerAuth(token),
        params=ParamsService(engine),
        flattener=Flattener(engine, getattr(config, "flatten_max_slippage", None)),
    )


async def serve_control(
    engine: Engine,
    *,
    config: Any,
    sock: socket.socket | None = None,
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/health``, ``/metrics``, ``/state``, the mutating endpoints and the dashboard until
    cancelled. Reports ``started`` (with the base URL, also set as ``engine.control_url``) once listening.
    ``sock`` is a socket `open_control_socket` bound earlier (``mmframe run`` binds it before the venue
    starts); without it the port is bound here.

    Raises `ControlConfigError` for an unsafe or unusable configuration (a non-loopback bind without a
    token, a port in use).
    """
    try:
        plane = build_control_plane(engine, config=config)
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    if sock is None:
        sock = bind_socket(config.host, int(config.port))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    server = _EmbeddedServer(
        uvicorn.Config(
            plane.app(), log_level="warning", lifespan="off", access_log=False,
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        )
    )
    server.config.load()
    server.lifespan = server.config.lifespan_class(server.config)
    try:
        await server.startup(sockets=[sock])
        engine.control_url = url
        log.info("control plane on %s%s", url, "" if plane.auth.enabled else " (read-only: no token configured)")
        task_status.started(url)
        await server.main_loop()
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_GRACE_S + 1):
            await server.shutdown(sockets=[sock])
        sock.close()
        engine.control_url = None
