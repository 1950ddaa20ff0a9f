"""A tiny Kalshi-shaped HTTP app for fault shapes the simulator cannot produce yet.

It verifies every signature with the public key (the `cryptography` library directly), keeps a
small order store, and runs scripted faults: ``Fault(method, path, status, body, after=True)``
answers ``status`` *after* doing the work (e.g. a 500 for a create that was in fact placed),
``delay_s`` stalls past the client's timeout.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BASE = "/trade-api/v2"


@dataclass
class Fault:
    method: str
    path: str
    status: int = 500
    body: Any = None
    after: bool = False
    delay_s: float = 0.0
    times: int = 1


@dataclass
class FakeKalshi:
    public_key: Any
    key_id: str
    faults: list[Fault] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    """(method, path, query, JSON body) of every request."""
    markets: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])]
        )

    def _verify(self, request: Request) -> bool:
        h = request.headers
        if h.get("kalshi-access-key") != self.key_id:
            return False
        message = (h.get("kalshi-access-timestamp", "") + request.method + request.url.path).encode()
        try:
            sig = base64.b64decode(h.get("kalshi-access-signature", ""))
            if isinstance(self.public_key, rsa.RSAPublicKey):
                self.public_key.verify(
                    sig,
                    message,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                    hashes.SHA256(),
                )
            else:
                assert isinstance(self.public_key, ed25519.Ed25519PublicKey)
                self.public_key.verify(sig, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def _fault(self, method: str, path: str, after: bool) -> Fault | None:
        for fault in self.faults:
            if (
                fault.method == method
                and path.startswith(fault.path)
                and fault.after == after
                and fault.times
            ):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: Request) -> Response:
        path = request.url.path.removeprefix(BASE)
        method = request.method
        self.log.append((method, path, dict(request.headers)))
        if not self._verify(request):
            return _json(401, {"error": {"code": "authentication_error", "message": "authentication_error"}})
        fault = self._fault(method, path, after=False)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            return _json(fault.status, fault.body or {"error": {"code": "internal", "message": "boom"}})
        body = orjson.loads(await request.body() or b"null")
        self.requests.append((method, path, dict(request.query_params), body))
        status, out = self._route(method, path, request.query_params, body)
        fault = self._fault(method, path, after=True)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            return _json(fault.status, fault.body or {"error": {"code": "internal", "message": "boom"}})
        return _json(status, out)

    def _create(self, item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cid = item.get("client_order_id", "")
        if any(o["client_order_id"] == cid for o in self.orders.values()):
            return 409, {"error": {"code": "order_already_exists", "message": "order already exists"}}
        oid = f"ord-{next(self._ids)}"
        price = item["price"]
        no_price = f"{1 - float(price):.4f}"
        self.orders[oid] = {
            "order_id": oid,
            "client_order_id": cid,
            "ticker": item["ticker"],
            "book_side": item["side"],
            "outcome_side": "yes" if item["side"] == "bid" else "no",
            "status": "resting",
            "yes_price_dollars": price,
            "no_price_dollars": no_price,
            "fill_count_fp": "0.00",
            "remaining_count_fp": item["count"],
            "initial_count_fp": item["count"],
            "order_group_id": item.get("order_group_id"),
            "created_time": "2026-06-11T06:29:30.164956Z",
        }
        return 201, {
            "order_id": oid,
            "client_order_id": cid,
            "fill_count": "0.00",
            "remaining_count": item["count"],
            "ts_ms": 1,
        }

    def _cancel(self, oid: str) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(oid)
        if order is None or order["status"] != "resting":
            return 404, {"error": {"code": "not_found", "message": "order not found"}}
        reduced = order["remaining_count_fp"]
        order.update(status="canceled", remaining_count_fp="0.00")
        return 200, {
            "order_id": oid,
            "client_order_id": order["client_order_id"],
            "reduced_by": reduced,
            "ts_ms": 2,
        }

    def _route(self, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        orders_v2 = "/portfolio/events/orders"
        if method == "POST" and path == orders_v2:
            return self._create(body)
        if method == "POST" and path == orders_v2 + "/batched":
            items = []
            for item in body["orders"]:
                status, out = self._create(item)
                items.append(out if status == 201 else {"client_order_id": item["client_order_id"], **out})
            return 201, {"orders": items}
        if method == "DELETE" and path == orders_v2 + "/batched":
            items = []
            for item in body["orders"]:
                status, out = self._cancel(item["order_id"])
                items.append(out if status == 200 else {"order_id": item["order_id"], **out})
            return 200, {"orders": items}
        if method == "DELETE" and path.startswith(orders_v2 + "/"):
            return self._cancel(path.rsplit("/", 1)[1])
        if method == "DELETE" and path == orders_v2:
            for order in self.orders.values():
                order.update(status="canceled", remaining_count_fp="0.00")
            return 204, None
        if method == "GET" and path == "/portfolio/orders":
            found = [
                o
                for o in reversed(self.orders.values())
                if (not query.get("ticker") or o["ticker"] == query["ticker"])
                and (not query.get("status") or o["status"] == query["status"])
            ]
            return 200, {"orders": found, "cursor": ""}
        if method == "GET" and path == "/markets":
            start = int(query.get("cursor") or 0)
            chunk = self.markets[start : start + self.page_size]
            nxt = start + self.page_size
            return 200, {"markets": chunk, "cursor": str(nxt) if nxt < len(self.markets) else ""}
        if method == "GET" and path == "/account/limits":
            return 200, {
                "usage_tier": "advanced",
                "read": {"refill_rate": 300, "bucket_capacity": 300},
                "write": {"refill_rate": 300, "bucket_capacity": 600},
            }
        if method == "POST" and path == "/portfolio/order_groups/create":
            return 201, {"order_group_id": "group-1"}
        if method == "DELETE" and path.startswith("/portfolio/order_groups/"):
            return 200, {}
        if method == "GET" and path == "/portfolio/positions":
            return 200, {"market_positions": [], "event_positions": [], "cursor": ""}
        if method == "GET" and path == "/portfolio/fills":
            return 200, {"fills": [], "cursor": ""}
        if method == "GET" and path == "/portfolio/balance":
            return 200, {"balance": 12345, "portfolio_value": 500}
        return 404, {"error": {"code": "not_found", "message": f"no route {method} {path}"}}


def _json(status: int, body: Any) -> Response:
    if status == 204 or body is None:
        return Response(status_code=status)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
