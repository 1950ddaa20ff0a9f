"""The JSON document behind ``GET /state``: what the daemon holds and does right now, no secrets.

Money and sizes are exact decimal strings (``"0.5600"`` dollars, ``"10.00"`` contracts), as Kalshi
writes them; times are Unix nanoseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmframe.components import venue_run_mode
from mmframe.domain.money import format_count, format_price
from mmframe.domain.orders import WorkingOrder
from mmframe.domain.quote import Level, Quote

if TYPE_CHECKING:
    from mmframe.control.monitor import ControlMonitor
    from mmframe.runtime.engine import Engine

_SECRET_KEY = re.compile(r"secret|token|password|passphrase|private|credential|api_?key|pem", re.IGNORECASE)
REDACTED = "***"
VERDICT_GROUPS_SHOWN = 20
"""Groups of repeated verdicts in ``/state`` (most recently seen first)."""


def redact(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with every secret-looking key's value replaced."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    return jsonable(value)


def jsonable(value: Any) -> Any:
    """Decimals as JSON numbers (via their exact text), other scalars unchanged, the rest as text."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def _price(value: int | None) -> str | None:
    return None if value is None else format_price(value)


def _levels(levels: tuple[Level, ...]) -> list[dict[str, str]]:
    return [{"price": format_price(level.price), "size": format_count(level.size)} for level in levels]


def _quote(quote: object) -> dict[str, Any] | None:
    if not isinstance(quote, Quote):
        return None
    return {"bids": _levels(quote.bids), "asks": _levels(quote.asks)}


def order_json(order: WorkingOrder) -> dict[str, Any]:
    """One working order."""
    return {
        "client_order_id": order.client_order_id,
        "order_id": order.order_id,
        "ticker": order.ticker,
        "side": order.side.value,
        "price": format_price(order.price),
        "remaining": format_count(order.remaining),
        "filled": format_count(order.filled),
        "status": order.status.value,
        "created_ns": order.created_ns,
    }


def pnl_json(engine: Engine) -> dict[str, str]:
    """Portfolio PnL in dollars."""
    pf = engine.core.portfolio
    return {
        "realised": format_price(pf.realised_pnl),
        "unrealised": format_price(pf.unrealised_pnl),
        "fees": format_price(pf.fees),
        "day_start": format_price(pf.day_start_pnl),
        "net": format_price(pf.net_pnl()),
    }


def build_state(engine: Engine, monitor: ControlMonitor, components: Mapping[str, Any]) -> dict[str, Any]:
    """The whole ``/state`` document. ``components`` is the params service's view of targets."""
    core = engine.core
    marks = core.portfolio.marks()
    positions = [
        {
            "ticker": ticker,
            "position": format_count(p.position),
            "avg_price": format_price(p.avg_price),
            "mark": _price(marks.get(ticker)),
            "realised_pnl": format_price(p.realised_pnl),
            "unrealised_pnl": format_price(p.unrealised_pnl(marks.get(ticker))),
            "fees": format_price(p.fees),
        }
        for ticker, p in sorted(core.ledger.positions.items())
        if p.position or p.realised_pnl or p.fees
    ]
    monitor.uptime.flush()
    markets = []
    for ticker, market in sorted(core.markets.items()):
        book = market.book
        markets.append(
            {
                "ticker": ticker,
                "status": market.status,
                "book": {
                    "valid": book.valid,
                    "best_bid": _price(book.best_bid()),
                    "best_ask": _price(book.best_ask()),
                    "mid": _price(book.mid()) if book.valid else None,
                    "last_update_ns": market.last_book_update_ns,
                },
                "last_quote": _quote(market.last_quote),
                "position": format_count(market.position.position),
                "quote_uptime": round(monitor.uptime.ratio(ticker), 6),
            }
        )
    verdicts = [
        {
            "ts_ns": v.ts_ns,
            "ticker": v.ticker,
            "rule": v.rule,
            "verdict": v.verdict.kind.value,
            "reason": v.verdict.reason,
        }
        for v in reversed(core.recent_verdicts[-50:])
    ]
    verdict_groups = [
        {"ticker": g.ticker, "rule": g.rule, "verdict": g.verdict, "count": g.count, "first_ns": g.first_ns,
         "last_ns": g.last_ns, "reason": g.reason}
        for g in monitor.verdicts.latest(VERDICT_GROUPS_SHOWN)
    ]
    try:
        venue = redact(dict(engine.parts.venue.describe()))
    except Exception as exc:  # a venue that cannot describe itself is still reported
        venue = {"error": type(exc).__name__}
    return {
        "pipeline": engine.pipeline_name,
        "mode": venue_run_mode(engine.parts.venue),
        "ts_ns": engine.clock.now_ns(),
        "ready": engine.ready,
        "trading": {
            "state": core.state,
            "reason": core.halt_reason,
            "resume_at_ns": core.resume_at_ns,
        },
        "gate": {**core.gate.describe(), **core.gate.ages()},
        "scheduler": engine.scheduler.describe(),
        "rejects": core.rejects.describe(),
        "venue": {"status": engine.venue_status, **venue},
        "pnl": pnl_json(engine),
        "positions": positions,
        "working_orders": [order_json(o) for o in sorted(core.tracker.live(), key=lambda o: (o.ticker, o.price))],
        "markets": markets,
        "risk": {
            "state": core.state,
            "halt_reason": core.halt_reason,
            "rules": [named.name for named in core.rules],
            "recent_verdicts": verdicts,
            "verdict_groups": verdict_groups,
        },
        "components": redact(components),
        "stats": {
            "fills": engine.stats.fills,
            "filled": format_count(engine.stats.filled_count),
            "rejects": engine.stats.rejects,
            "actions": dict(engine.stats.actions),
            "malformed_events": engine.stats.malformed_events,
            "post_only_dropped": core.post_only_dropped,
            "plugin_errors": core.plugin_faults,
        },
    }
