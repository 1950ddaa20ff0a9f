"""``GET /health``: alive (the process answers) and ready (safe to quote) with the reasons if not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmframe.domain.trading import TradingState

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine

CONNECTED = "connected"
_SHOWN = 5


def health(engine: Engine) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)``. Ready: startup reconciliation done, the venue connected, every book valid
    (snapshot received, no gap since), and not halted. A pause is an operator's choice: still ready."""
    core = engine.core
    reasons: list[str] = []
    if not engine.ready:
        reasons.append("startup reconciliation not done" if not engine.stop_reason else "stopping")
    if engine.venue_status != CONNECTED:
        reasons.append(f"venue {engine.venue_status}")
    stale = [t for t in engine.markets if (m := core.markets.get(t)) is None or not m.book.valid]
    if stale:
        more = f" and {len(stale) - _SHOWN} more" if len(stale) > _SHOWN else ""
        reasons.append(f"feed not fresh: no valid book for {', '.join(stale[:_SHOWN])}{more}")
    if core.state == TradingState.HALTED:
        reasons.append(f"halted: {core.halt_reason}")
    ready = not reasons
    return ready, {
        "live": True,
        "ready": ready,
        "state": core.state,
        "gate": core.gate.describe(),
        "reasons": reasons,
    }
