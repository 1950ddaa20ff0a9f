"""The sim-only admin API under /_sim: faults, lifecycle, ground truth and time. Loopback clients only.

Unsigned on purpose (it is not Kalshi's), refused with 403 for any non-loopback peer. Every fault
action of a scenario's ``faults:`` plan is also one POST here (`apply_fault`), so scripted and
interactive faults behave the same.

    POST /_sim/faults            {"action": "drop_ws"}   (any action of faults.FAULT_ACTIONS + params)
    POST /_sim/faults/plan       {"faults": [{"at_seconds": 5, "action": "pause_exchange"}, ...]}
    GET  /_sim/faults            the live switches
    GET  /_sim/truth             resting orders, positions, fair values, balances, refused creates and
                                 amends of API accounts (per code), time, faults, and the API accounts'
                                 fills tagged with counterparty class and fair value at fill time
                                 (``?since_ns=T`` limits the fills)
    GET  /_sim/fair?ticker=X&since_ns=T&until_ns=U   the true fair value's change points over time,
                                 and the news jumps (see truth.py)
    GET  /_sim/orders?user_id=U  every order of account U, any status, with ``created_ns``
    GET  /_sim/requests?user_id=U&since_ns=T   the write log: signed writes that reached the exchange
    POST /_sim/time              {"freeze": true} | {"resume": true} | {"advance_seconds": 3.5}
    POST /_sim/accounts          {"balance": "1000.00", "tier": "prime", "read_only": false}
                                 -> key_id + private_key_pem (a read-only key's writes get 403)
    POST /_sim/markets/{ticker}/{close|determine|settle|deactivate|activate} {"result": "yes"}
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mmframe_sim import wire
from mmframe_sim.engine import ExchangeError
from mmframe_sim.faults import FAULT_ACTIONS, FaultStep, parse_fault_plan
from mmframe_sim.fees import FeeType
from mmframe_sim.host import SimHost
from mmframe_sim.money import MoneyError, parse_price
from mmframe_sim.participants import COUNTERPARTY_CLASS
from mmframe_sim.truth import TaggedFill


class AdminError(Exception):
    """A bad admin request (400 with ``{"error": message}``)."""


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _param(params: Mapping[str, Any], name: str) -> Any:
    if name not in params:
        raise AdminError(f"missing parameter {name!r}")
    return params[name]


# The scenario file's names for the exchange pause (scenario.py) and ours.
_ALIASES = {"pause_trading": "pause_exchange", "resume_trading": "resume_exchange"}


def _flag(value: Any) -> bool:
    """A boolean from JSON or from a scenario's string params (``"true"``/``"false"``)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def apply_fault(sim: SimHost, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Carry out one fault action now; returns a small report."""
    faults = sim.faults
    ex = sim.exchange
    action = _ALIASES.get(action, action)
    count = int(params.get("count", 1))
    if action == "drop_ws":
        dropped = sim.hub.drop_all(user_id=params.get("user_id"), code=int(params.get("code", 1011)),
                                   abort=_flag(params.get("abort", True)))
        return {"dropped": dropped}
    if action == "skip_seq":
        faults.skip_seq_remaining += count
    elif action == "duplicate":
        faults.duplicate_remaining += count
    elif action == "reorder":
        faults.reorder_remaining += count
    elif action == "delay":
        faults.delay_s = max(0.0, float(params.get("ms", 0))) / 1000
    elif action == "burst_429":
        faults.burst_429_remaining += int(params.get("count", 10))
    elif action == "fail_writes":
        share = float(params.get("share", 1.0))
        if not 0 <= share <= 1:
            raise AdminError("share must be within 0..1")
        faults.fail_write_share = share
        faults.fail_write_placed = _flag(params.get("placed", False))
    elif action == "strict_batch_cancel":
        faults.strict_batch_cancel = _flag(params.get("on", True))
    elif action == "pause_exchange":
        ex.set_trading_active(False)
    elif action == "resume_exchange":
        ex.set_trading_active(True)
    elif action == "deactivate_market":
        ex.deactivate_market(_param(params, "ticker"))
    elif action == "activate_market":
        ex.activate_market(_param(params, "ticker"))
    elif action == "close_market":
        ex.close_market(_param(params, "ticker"))
    elif action == "determine_market":
        ex.determine_market(_param(params, "ticker"), params.get("result"))
    elif action == "settle_market":
        ex.settle_market(_param(params, "ticker"))
    elif action == "set_fair_value":
        probability = float(_param(params, "probability"))
        if not 0 < probability < 1:
            raise AdminError("probability must be strictly between 0 and 1")
        ex.set_fair_value(_param(params, "ticker"), probability)
    elif action == "set_fee":
        _set_fee(sim, params)
    elif action == "clear":
        faults.clear()
    else:
        raise AdminError(f"unknown action {action!r}; known: {', '.join(sorted(FAULT_ACTIONS))}")
    return {"faults": faults.describe()}


def _set_fee(sim: SimHost, params: Mapping[str, Any]) -> None:
    """``set_fee``: an event's fee override, like Kalshi's event-level ``fee_type_override`` /
    ``fee_multiplier_override``; omitted or null parts are not overridden."""
    ex = sim.exchange
    event_ticker = params.get("event_ticker")
    if event_ticker is None:
        event_ticker = ex.market(str(_param(params, "ticker"))).event_ticker
    raw_type = params.get("fee_type")
    try:
        fee_type = None if raw_type is None else FeeType(str(raw_type))
    except ValueError:
        raise AdminError(f"fee_type must be one of {', '.join(f.value for f in FeeType)}") from None
    raw_mult = params.get("fee_multiplier")
    multiplier_bps = None
    if raw_mult is not None:
        try:
            scaled = Decimal(str(raw_mult)) * 10_000
        except InvalidOperation:
            raise AdminError(f"fee_multiplier must be a number, got {raw_mult!r}") from None
        if not scaled.is_finite() or scaled != scaled.to_integral_value() or scaled < 0:
            raise AdminError("fee_multiplier must be a non-negative number with at most 4 decimals")
        multiplier_bps = int(scaled)
    ex.set_event_fee(str(event_ticker), fee_type, multiplier_bps)


async def run_fault_plan(sim: SimHost, steps: list[FaultStep]) -> None:
    """Fire each step at its ``at_seconds`` (wall time from now). Failing steps are reported, not fatal."""
    start = anyio.current_time()
    for step in steps:
        delay = start + step.at_seconds - anyio.current_time()
        if delay > 0:
            await anyio.sleep(delay)
        try:
            apply_fault(sim, step.action, step.params)
        except (AdminError, ExchangeError, ValueError) as exc:
            sim.fault_log.append(f"t+{step.at_seconds}s {step.action}: {exc}")
        else:
            sim.fault_log.append(f"t+{step.at_seconds}s {step.action}")


def tagged_fill_json(fill: TaggedFill) -> dict[str, Any]:
    """A fill with its counterparty and the true fair value at that instant (not a Kalshi shape)."""
    return {
        "trade_id": fill.trade_id,
        "user_id": fill.user_id,
        "ticker": fill.ticker,
        "ts_ns": fill.ts_ns,
        "side": fill.side.value,
        "is_taker": fill.is_taker,
        "yes_price_dollars": wire.dollars4(fill.price),
        "count_fp": wire.count_str(fill.count),
        "counterparty": fill.counterparty,
        "counterparty_class": fill.counterparty_class,
        "fair_value": fill.fair,
    }


def ground_truth(sim: SimHost, ticker: str | None = None, since_ns: int | None = None) -> dict[str, Any]:
    ex = sim.exchange
    users = [*sim.accounts, *ex.participant_user_ids()]
    return {
        "time_ns": ex.now_ns(),
        "frozen": sim.clock.frozen,
        "exchange": {"trading_active": ex.exchange_status().trading_active},
        "resting_orders": [wire.order_json(o) for o in ex.resting_orders(ticker)],
        # fees_charged_dollars (not a Kalshi field): what the balance paid in fees, per-order rounding
        # fees included and rebates deducted; fees_paid_dollars is Kalshi's plain sum of trade fees.
        "positions": [
            {"user_id": p.user_id, **wire.position_json(p), "fees_charged_dollars": wire.dollars6(p.fees_charged)}
            for p in ex.all_positions(ticker)
        ],
        "fair_values": ex.fair_values(),
        "rejects": [r for r in ex.reject_counts() if r["user_id"] in sim.accounts],
        "balances": {u: wire.balance_json(ex.balance(u)) for u in users if ex.has_account(u)},
        "accounts": list(sim.accounts),
        "participants": ex.participant_user_ids(),
        "total_money_dollars": wire.dollars6(ex.total_money()),
        "ws_connections": len(sim.hub.sessions),
        "faults": sim.faults.describe(),
        "fault_log": list(sim.fault_log),
        "fills": [
            tagged_fill_json(f)
            for f in ex.truth.fills(COUNTERPARTY_CLASS, users=set(sim.accounts), ticker=ticker, since_ns=since_ns)
        ],
    }


def fair_history(sim: SimHost, ticker: str | None, since_ns: int | None, until_ns: int | None) -> dict[str, Any]:
    """The true fair value's change points per market (``[ts_ns, probability]``) and the news jumps."""
    ex = sim.exchange
    ex.advance()
    tickers = [ticker] if ticker else ex.truth.tickers()
    return {
        "time_ns": ex.now_ns(),
        "series": {t: [[ts, p] for ts, p in ex.truth.fair_series(t, since_ns, until_ns)] for t in tickers},
        "news": [
            {"ticker": n.ticker, "ts_ns": n.ts_ns, "before": n.before, "after": n.after}
            for n in ex.truth.news(ticker or None, since_ns)
            if until_ns is None or n.ts_ns <= until_ns
        ],
    }


def truth_record(sim: SimHost) -> dict[str, Any]:
    """Everything a scoreboard needs to judge a finished run, in one JSON-able mapping: the ground
    truth of `ground_truth` (fills with counterparty class and fair value, refused creates, balances,
    positions), the fair-value series and news of `fair_history`, every order of each API account
    (any status, with ``created_ns`` and ``last_update_ns``: a finished order's end), and each market's
    open/close times and result. ``mmframe run --sim-time`` writes it at the end of a run when the
    venue says ``truth_path`` (the simulator dies with the process, so nothing else can read it)."""
    ex = sim.exchange
    record = ground_truth(sim)
    record["fair"] = fair_history(sim, None, None, None)
    record["orders"] = {
        user: [
            {"ticker": o.ticker, "side": o.side.value, "price": o.price, "status": o.status.value,
             "created_ns": o.created_ns, "last_update_ns": o.last_update_ns}
            for o in ex.orders(user)
        ]
        for user in sim.accounts
        if ex.has_account(user)
    }
    record["markets"] = [
        {"ticker": m.ticker, "status": str(m.status), "result": m.result, "open_ts_ns": m.open_ts_ns,
         "close_ts_ns": m.close_ts_ns}
        for m in ex.markets()
    ]
    return record


AdminHandler = Callable[["SimHost", Request, Any], Awaitable[tuple[int, Any]]]


def _admin(sim: SimHost, handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not is_loopback(client):
            return _json(403, {"error": "the admin API only answers loopback clients"})
        body: Any = None
        if request.method != "GET":
            raw = await request.body()
            if raw.strip():
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    return _json(400, {"error": f"invalid JSON: {exc.msg}"})
        try:
            status, payload = await handler(sim, request, body)
        except (AdminError, ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})
        except ExchangeError as exc:
            return _json(exc.http_status, exc.body())
        return _json(status, payload)

    return endpoint


async def _post_fault(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or "action" not in body:
        raise AdminError('expected {"action": ..., ...params}')
    params = dict(body)
    action = str(params.pop("action"))
    return 200, apply_fault(sim, action, params)


async def _get_faults(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    return 200, {"faults": sim.faults.describe(), "actions": FAULT_ACTIONS, "log": list(sim.fault_log)}


async def _post_plan(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("faults"), list):
        raise AdminError('expected {"faults": [{"at_seconds": ..., "action": ...}, ...]}')
    steps = parse_fault_plan(body["faults"])
    sim.start_fault_plan(steps)
    return 202, {"scheduled": len(steps)}


async def _get_truth(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    return 200, ground_truth(sim, request.query_params.get("ticker") or None, _int_query(request, "since_ns"))


async def _get_fair(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    ticker = request.query_params.get("ticker") or None
    if ticker is not None:
        sim.exchange.market(ticker)  # 404 for an unknown market
    return 200, fair_history(sim, ticker, _int_query(request, "since_ns"), _int_query(request, "until_ns"))


def _int_query(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise AdminError(f"{name} must be an integer") from None


async def _get_orders(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    user_id = request.query_params.get("user_id")
    if not user_id:
        raise AdminError("missing query parameter user_id")
    if not sim.exchange.has_account(user_id):
        return 404, {"error": f"no account {user_id!r}"}
    orders = sim.exchange.orders(user_id)
    return 200, {"orders": [{**wire.order_json(o), "created_ns": o.created_ns} for o in orders]}


async def _get_requests(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    log = sim.write_log
    entries = log.entries(request.query_params.get("user_id") or None, _int_query(request, "since_ns"))
    return 200, {"requests": [e.to_json() for e in entries], "dropped": log.dropped}


async def _post_time(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    body = body if isinstance(body, dict) else {}
    if body.get("freeze"):
        sim.clock.freeze()
    if body.get("advance_seconds") is not None:
        sim.clock.advance(float(body["advance_seconds"]))
    if body.get("resume"):
        sim.clock.resume()
    sim.exchange.advance()
    return 200, {"time_ns": sim.exchange.now_ns(), "frozen": sim.clock.frozen}


async def _post_account(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    body = body if isinstance(body, dict) else {}
    kwargs: dict[str, Any] = {}
    if "balance" in body:
        try:
            kwargs["balance"] = parse_price(str(body["balance"]))
        except MoneyError as exc:
            raise AdminError(f"balance: {exc}") from None
    if "tier" in body:
        kwargs["tier"] = str(body["tier"])
    if "read_only" in body:
        if not isinstance(body["read_only"], bool):
            raise AdminError("read_only: expected true or false")
        kwargs["read_only"] = body["read_only"]
    if body.get("public_key_pem"):
        key_id = sim.register_key(str(body["public_key_pem"]), **kwargs)
        return 201, {"key_id": key_id, "user_id": sim.keys.get(key_id).account_id}  # type: ignore[union-attr]
    key_id, private_pem = sim.create_api_key(**kwargs)
    return 201, {
        "key_id": key_id,
        "user_id": sim.keys.get(key_id).account_id,  # type: ignore[union-attr]
        "private_key_pem": private_pem.decode(),
    }


_MARKET_ACTIONS = {
    "close": "close_market", "determine": "determine_market", "settle": "settle_market",
    "deactivate": "deactivate_market", "activate": "activate_market",
}


async def _post_market(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    verb = request.path_params["action"]
    if verb not in _MARKET_ACTIONS:
        raise AdminError(f"unknown market action {verb!r}; known: {', '.join(_MARKET_ACTIONS)}")
    params = dict(body) if isinstance(body, dict) else {}
    params["ticker"] = request.path_params["ticker"]
    apply_fault(sim, _MARKET_ACTIONS[verb], params)
    return 200, {"market": wire.market_json(sim.exchange.market(params["ticker"]), sim.exchange.now_ns())}


async def _post_exchange(sim: SimHost, request: Request, body: Any) -> tuple[int, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("trading_active"), bool):
        raise AdminError('expected {"trading_active": true|false}')
    sim.exchange.set_trading_active(body["trading_active"])
    return 200, {"trading_active": body["trading_active"]}


def admin_routes(sim: SimHost) -> list[Route]:
    """Routes mounted under /_sim."""
    return [
        Route("/faults", _admin(sim, _get_faults), methods=["GET"]),
        Route("/faults", _admin(sim, _post_fault), methods=["POST"]),
        Route("/faults/plan", _admin(sim, _post_plan), methods=["POST"]),
        Route("/truth", _admin(sim, _get_truth), methods=["GET"]),
        Route("/fair", _admin(sim, _get_fair), methods=["GET"]),
        Route("/orders", _admin(sim, _get_orders), methods=["GET"]),
        Route("/requests", _admin(sim, _get_requests), methods=["GET"]),
        Route("/time", _admin(sim, _post_time), methods=["POST"]),
        Route("/accounts", _admin(sim, _post_account), methods=["POST"]),
        Route("/exchange", _admin(sim, _post_exchange), methods=["POST"]),
        Route("/markets/{ticker}/{action}", _admin(sim, _post_market), methods=["POST"]),
    ]
