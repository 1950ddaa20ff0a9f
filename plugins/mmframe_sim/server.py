"""The simulator's ASGI application: Kalshi's REST + WebSocket over one `Exchange`, plus the admin API.

`SimServer` owns everything the routes share (engine, keys, limiter, faults, WebSocket hub, clock)
and builds the Starlette app. It runs inside any asyncio event loop under uvicorn; `serve.py` starts
it (CLI or in-process). The engine is driven from that loop only: requests call it directly and a
background task advances it every ``tick_seconds`` so the synthetic market moves on wall time.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, WebSocketRoute

from mmframe.api import Clock, LiveClock
from mmframe_sim.admin import admin_routes, run_fault_plan
from mmframe_sim.auth import (
    DEFAULT_TIMESTAMP_WINDOW_MS,
    KeyRegistry,
    SignatureVerifier,
    generate_rsa_key_pair,
    new_account_id,
)
from mmframe_sim.engine import DEFAULT_STARTING_BALANCE, Exchange
from mmframe_sim.faults import FaultState, FaultStep
from mmframe_sim.host import SimClock
from mmframe_sim.ratelimit import DEFAULT_TIER, TIERS, RateLimiter
from mmframe_sim.rest import KalshiRouter
from mmframe_sim.write_log import WriteLog
from mmframe_sim.ws import WS_PATH, WsHub

ADMIN_PREFIX = "/_sim"
_log = logging.getLogger(__name__)


class SimServer:
    """Shared state of one simulator instance and its Starlette app.

    ``clock`` drives the exchange (wrapped in a `SimClock` for the admin time controls);
    ``wall_clock`` checks signature timestamps and refills rate limits (the real clock by default, a
    `TestClock` in exact tests).
    """

    def __init__(
        self,
        exchange: Exchange,
        clock: SimClock,
        *,
        wall_clock: Clock | None = None,
        default_tier: str = DEFAULT_TIER,
        timestamp_window_ms: int = DEFAULT_TIMESTAMP_WINDOW_MS,
        tick_seconds: float = 0.05,
        fault_seed: int = 0,
        ws_queue_limit: int | None = None,
        default_balance: int = DEFAULT_STARTING_BALANCE,
    ) -> None:
        if default_tier not in TIERS:
            raise ValueError(f"unknown tier {default_tier!r}; known: {', '.join(TIERS)}")
        self.exchange = exchange
        self.clock = clock
        self.wall_clock = wall_clock or LiveClock()
        self.default_tier = default_tier
        self.default_balance = default_balance
        self.tick_seconds = tick_seconds
        self.keys = KeyRegistry()
        self.verifier = SignatureVerifier(self.keys, self.wall_clock, timestamp_window_ms)
        self.limiter = RateLimiter(self.wall_clock)
        self.faults = FaultState(fault_seed)
        self.hub = WsHub(self) if ws_queue_limit is None else WsHub(self, ws_queue_limit)
        self.accounts: list[str] = []
        self.fault_log: list[str] = []
        self.write_log = WriteLog(self.wall_clock)
        self.task_group: TaskGroup | None = None
        self._unsubscribe = exchange.subscribe(self.hub.on_events)
        self.app = self._build_app()

    # --- accounts and keys ---------------------------------------------------------------------

    def register_key(
        self, public_key_pem: bytes | str, *, account_id: str | None = None, balance: int | None = None,
        tier: str | None = None, key_id: str | None = None, read_only: bool = False,
    ) -> str:
        """Register a public key for an account (a new one funded with ``balance`` price units unless
        ``account_id`` names an existing one); returns the key id. ``read_only``: a key whose writes
        are refused (403), like a Kalshi key created without the write scope."""
        tier = tier or self.default_tier
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; known: {', '.join(TIERS)}")
        if account_id is None:
            account_id = new_account_id()
        if not self.exchange.has_account(account_id):
            self.exchange.open_account(account_id, balance=self.default_balance if balance is None else balance)
            self.accounts.append(account_id)
        scopes = frozenset({"read"}) if read_only else frozenset({"read", "write"})
        return self.keys.register(public_key_pem, account_id=account_id, tier=tier, key_id=key_id,
                                  scopes=scopes).key_id

    def create_api_key(self, *, balance: int | None = None, tier: str | None = None,
                       account_id: str | None = None, read_only: bool = False) -> tuple[str, bytes]:
        """A new account (or ``account_id``) with a fresh RSA-2048 key: ``(key_id, private key PEM)``."""
        private_pem, public_pem = generate_rsa_key_pair()
        key_id = self.register_key(public_pem, balance=balance, tier=tier, account_id=account_id, read_only=read_only)
        return key_id, private_pem

    # --- the engine's clock ----------------------------------------------------------------------

    async def run_ticker(self) -> None:
        """Advance the engine on wall time until cancelled (no-op while time is frozen)."""
        while True:
            await anyio.sleep(self.tick_seconds)
            if not self.clock.frozen:
                try:
                    self.exchange.advance()
                except Exception:  # keep serving: one failed step must not take the exchange down
                    _log.exception("the exchange failed to advance")

    def start_fault_plan(self, steps: list[FaultStep]) -> None:
        """Run a fault plan in the background (times count from now)."""
        if self.task_group is None:
            raise RuntimeError("the simulator is not running")
        self.task_group.start_soon(run_fault_plan, self, steps)

    # --- app ------------------------------------------------------------------------------------

    def _build_app(self) -> KalshiRouter:
        starlette = Starlette(
            routes=[WebSocketRoute(WS_PATH, self.hub), Mount(ADMIN_PREFIX, routes=admin_routes(self))],
            exception_handlers={404: _not_found, 405: _method_not_allowed},
        )
        return KalshiRouter(self, starlette)

    def close(self) -> None:
        self._unsubscribe()


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json(404, {"error": {"code": "not_found", "message": "not found", "details": request.url.path}})


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return _json(405, {"error": {"code": "method_not_allowed", "message": "method not allowed"}})

