"""The OpenAPI 3.1 description of the control plane (``GET /openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What was wrong and what to do."}},
}
_JSON = "application/json"


def _response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema or {"type": "object"}}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "Malformed JSON or invalid params; the reason is in `error`.",
        401: "Missing or wrong bearer token; nothing changed.",
        403: "No control token is configured: mutating endpoints are disabled.",
        404: "Unknown params target.",
    }
    return {str(code): _response(words[code], {"$ref": "#/components/schemas/Error"}) for code in codes}


def _mutating(summary: str, description: str, ok: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "security": [{"bearer": []}],
        "responses": {"200": _response(ok), **_errors(400, 401, 403)},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
        operation["responses"].update(_errors(404))
    return {"post": operation}


def openapi_document(version: str = "0.1.0") -> dict[str, Any]:
    """The document: every endpoint, its auth and its responses."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mmframe control plane",
            "version": version,
            "description": "Observe and steer a running mmframe pipeline. Reads are open; every POST needs "
            "`Authorization: Bearer <token>` (control.token or $MMFRAME_CONTROL_TOKEN).",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _ERROR,
                "Params": {
                    "type": "object",
                    "required": ["target", "params"],
                    "additionalProperties": False,
                    "properties": {
                        "target": {"type": "string", "description": "`strategy` or a risk rule's name."},
                        "params": {"type": "object", "minProperties": 1,
                                   "description": "Updatable fields of the target's config, in its units."},
                    },
                },
            },
        },
        "paths": {
            "/": {"get": {"summary": "The dashboard (HTML).",
                          "responses": {"200": {"description": "One HTML page."}}}},
            "/health": {
                "get": {
                    "summary": "Liveness and readiness.",
                    "description": "200 when ready to quote: the feed is fresh, startup reconciliation is done "
                    "and trading is not halted; 503 with the reasons otherwise.",
                    "responses": {"200": _response("Ready."), "503": _response("Alive but not ready; see `reasons`.")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format).",
                    "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {}}}},
                }
            },
            "/state": {
                "get": {
                    "summary": "Positions, working orders, quotes, PnL, risk state, params, venue status.",
                    "responses": {"200": _response("The current state; money as decimal strings in dollars.")},
                }
            },
            "/history": {
                "get": {
                    "summary": "Net PnL over time (one point per housekeeping tick, last hour).",
                    "responses": {"200": _response("Points of ts_ns and dollar strings.")},
                }
            },
            "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": _response("OpenAPI.")}}},
            "/pause": _mutating("Stop quoting and cancel working orders; keep positions.",
                                "Quoting stays off until /resume.", "Paused."),
            "/resume": _mutating(
                "Quote again after a pause or a halt; release markets quarantined after rejects.",
                'Clears a pause or a halt and every reject quarantine, backoff and balance stop (`released` '
                'lists the markets let out of quarantine). With `{"ticker": "..."}` only that market\'s '
                "quarantine and backoff end; a pause or halt stays.",
                "Resumed.",
            ),
            "/flatten": _mutating(
                "Cancel everything, then close every position.",
                "Closes with immediate-or-cancel limit orders no worse than control.flatten_max_slippage from "
                "the touch. Trading stays paused. Idempotent: returns what it did.",
                "What was cancelled and closed, and the positions left.",
            ),
            "/params": _mutating(
                "Change run-time params of the strategy or a risk rule.",
                "Only the component's updatable fields; the merged config is validated against the "
                "component's schema and applied all or nothing.",
                "The target's params after the change.",
                {"$ref": "#/components/schemas/Params"},
            ),
        },
    }
