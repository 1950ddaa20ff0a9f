"""The control plane's ASGI app (starlette): routes over one running engine."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mmframe.control.auth import BearerAuth
from mmframe.control.flatten import Flattener
from mmframe.control.health import health
from mmframe.control.metrics import CONTENT_TYPE, build_registry, render
from mmframe.control.monitor import ControlMonitor
from mmframe.control.openapi import openapi_document
from mmframe.control.params import MAX_BODY_BYTES, ParamsError, ParamsService, decode_body
from mmframe.control.state import build_state, jsonable, order_json, pnl_json, redact
from mmframe.domain.money import format_price

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine

log = logging.getLogger("mmframe.control")
_NO_STORE = {"Cache-Control": "no-store"}
_DASHBOARD_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8")}


def _error(status: int, reason: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, default=jsonable, separators=(",", ":")),
        status_code=status, media_type="application/json", headers=_NO_STORE,
    )


class ControlPlane:
    """Everything the routes share: the engine, its monitor, auth, params and flatten services."""

    def __init__(
        self, engine: Engine, *, monitor: ControlMonitor, auth: BearerAuth, params: ParamsService,
        flattener: Flattener,
    ) -> None:
        self.engine = engine
        self.monitor = monitor
        self.auth = auth
        self.params = params
        self.flattener = flattener
        self.metrics_registry = build_registry(engine, monitor)

    def app(self) -> Starlette:
        """The starlette application."""
        routes = [
            Route("/", self.dashboard, methods=["GET"]),
            Route("/dashboard.js", self.dashboard, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/state", self.state, methods=["GET"]),
            Route("/history", self.history, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/pause", self.pause, methods=["POST"]),
            Route("/resume", self.resume, methods=["POST"]),
            Route("/flatten", self.flatten, methods=["POST"]),
            Route("/params", self.update_params, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    # --- reads ----------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        name, media_type = _DASHBOARD_FILES[request.url.path]
        body = resources.files("mmframe.control").joinpath("dashboard", name).read_bytes()
        return Response(body, media_type=media_type, headers=_NO_STORE)

    async def health(self, request: Request) -> Response:
        ready, body = health(self.engine)
        return _json(body, 200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(render(self.metrics_registry), media_type=CONTENT_TYPE, headers=_NO_STORE)

    async def state(self, request: Request) -> Response:
        return _json(build_state(self.engine, self.monitor, self.params.describe()))

    async def history(self, request: Request) -> Response:
        points = [
            {"ts_ns": p.ts_ns, "net": format_price(p.net), "realised": format_price(p.realised),
             "unrealised": format_price(p.unrealised), "fees": format_price(p.fees)}
            for p in self.monitor.history
        ]
        return _json({"points": points, "now": pnl_json(self.engine)})

    async def openapi(self, request: Request) -> Response:
        return _json(openapi_document())

    # --- mutations ------------------------------------------------------------------------------

    async def _authorized_body(self, request: Request, *, required: bool) -> Any:
        """The parsed JSON body (None when empty and not required), or an error response."""
        denied = self.auth.check(request.headers.get("authorization"))
        if denied is not None:
            log.warning("refused %s %s from %s: %d %s", request.method, request.url.path, _client(request),
                        denied.status, denied.reason)
            return _error(denied.status, denied.reason)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:  # refused before it is read
            return _error(413, f"body too large: {int(declared):,} bytes, at most {MAX_BODY_BYTES:,}")
        raw = await request.body()
        if not raw.strip():
            return _error(400, "expected a JSON body") if required else None
        try:
            return decode_body(raw)
        except ParamsError as exc:
            log.warning("refused %s %s from %s: %d %s", request.method, request.url.path, _client(request),
                        exc.status, exc)
            return _error(exc.status, str(exc))

    async def pause(self, request: Request) -> Response:
        body = await self._authorized_body(request, required=False)
        if isinstance(body, Response):
            return body
        reason = _reason(body, "operator")
        if isinstance(reason, Response):
            return reason
        before = self.engine.core.state
        self.engine.pause(reason)
        # Answer only once nothing of ours is queued, in flight or resting on the venue.
        left = await self.engine.settle_orders()
        body = {
            "state": self.engine.core.state,
            "previous": before,
            "reason": self.engine.core.halt_reason,
            "gate": self.engine.core.gate.describe(),
            "orders_left": len(left),
            "left": [order_json(o) for o in left],
        }
        _log_operator(request, "pause", reason, f"{before} -> {self.engine.core.state}, {len(left)} order(s) left")
        return _json(body, status=200 if not left else 503)

    async def resume(self, request: Request) -> Response:
        body = await self._authorized_body(request, required=False)
        if isinstance(body, Response):
            return body
        reason = _reason(body, "operator")
        if isinstance(reason, Response):
            return reason
        ticker = body.get("ticker") if isinstance(body, dict) else None
        before = self.engine.core.state
        if ticker is not None:
            # One market back from a reject quarantine or backoff; a pause or halt stays as it is.
            if not isinstance(ticker, str) or not ticker.strip():
                return _error(400, 'expected {"ticker": "<market ticker>"} naming one market')
            released = self.engine.release(ticker, reason)
            _log_operator(request, "resume", reason, f"{ticker}: " + ("released from quarantine" if released
                                                                      else "not quarantined; backoff cleared"))
            return _json({"state": before, "previous": before, "resumed": False, "released": released})
        quarantined = sorted(self.engine.core.rejects.quarantined)
        resumed = self.engine.resume(reason)
        _log_operator(request, "resume", reason, f"{before} -> {self.engine.core.state}"
                      + ("" if resumed else " (nothing to resume)"))
        return _json({"state": self.engine.core.state, "previous": before, "resumed": resumed,
                      "released": quarantined})

    async def flatten(self, request: Request) -> Response:
        body = await self._authorized_body(request, required=False)
        if isinstance(body, Response):
            return body
        report = await self.flattener.flatten()
        summary = report.to_json()
        _log_operator(request, "flatten", "operator", f"cancelled {summary['canceled']}, {len(summary['closes'])} "
                      f"close(s), {len(summary['skipped'])} skipped, flat: {summary['flat']}")
        return _json({**summary, "max_slippage": format_price(self.flattener.max_slippage)})

    async def update_params(self, request: Request) -> Response:
        body = await self._authorized_body(request, required=True)
        if isinstance(body, Response):
            return body
        try:
            result = self.params.apply(body)
        except ParamsError as exc:
            log.warning("params change refused (%d) from %s: %s", exc.status, _client(request), exc)
            return _error(exc.status, str(exc))
        shown = redact(dict(body["params"]))  # a secret-looking field is never logged
        changed = ", ".join(f"{k}={shown[k]}" for k in sorted(shown))
        _log_operator(request, "params", str(body["target"]), changed)
        return _json(result)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


def _log_operator(request: Request, action: str, subject: str, outcome: str) -> None:
    """One INFO line per operator change, beside the journal's record of it: who, what, the result."""
    log.info("operator %s (%s) from %s: %s", action, subject, _client(request), outcome)


def _reason(body: Any, default: str) -> str | Response:
    """The optional ``{"reason": "..."}`` of pause/resume (resume also takes ``"ticker"``)."""
    if body is None:
        return default
    if not isinstance(body, dict) or not isinstance(body.get("reason", default), str):
        return _error(400, 'expected an empty body or {"reason": "<text>"} (resume: also "ticker")')
    return str(body.get("reason") or default)
