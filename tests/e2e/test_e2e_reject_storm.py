"""A strategy that bids through the book, with price-band on: no post-only reject storm on the venue.

Measured before issue 11: a bid clipped by price-band to mid + 0.10, above the best ask, drew 682
post-only rejects in 25 s. The post-only step drops such a level before it is ever sent.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mmframe.api import ComponentSpec, Kind, Level, MarketView, OrderFilled, Quote, hookimpl
from mmframe.plugins import load_registry
from tests.e2e.harness import daemon, new_account

pytestmark = pytest.mark.anyio


class ThroughTheBook:
    """Bids 20¢ over the mid (through the best ask) and asks 2¢ above that bid."""

    above = 2_000

    def __init__(self, config: Mapping[str, Any], ctx: Any) -> None:
        pass

    def quote(self, market: MarketView) -> Quote:
        mid = market.book.mid() if market.book.valid else None
        if mid is None:
            return Quote.empty(market.ticker)
        bid = min(mid + self.above, 9_800)
        return Quote(market.ticker, (Level(bid, 100),), (Level(min(bid + 200, 9_900), 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


def _registry() -> Any:
    module = types.ModuleType("reject_storm_plugin")

    @hookimpl
    def register_strategies(register: Any) -> None:
        register(ComponentSpec(kind=Kind.STRATEGY, name="through-the-book", summary="bids through the book",
                               factory=ThroughTheBook))

    module.register_strategies = register_strategies  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    registry = load_registry()
    registry.add_plugin(module, name="reject-storm-test", package="tests", version="0")
    return registry


async def test_e2e_when_strategy_bids_through_the_book_with_price_band_no_reject_storm(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    overrides = [
        "strategy={use: through-the-book}",
        "risk.5.with.max_distance_from_mid=0.10",  # price-band clips the bid to mid + 0.10
    ]
    async with daemon(sim, account, overrides=overrides, registry=_registry()) as running:
        await asyncio.sleep(8)
        engine = running.engine
        rejects = engine.stats.rejects
        dropped = engine.core.post_only_dropped
    assert rejects <= 3, f"{rejects} rejects in 8 s"
    assert dropped > 0, "the post-only step never saw a level through the book"
    # Ground truth: none of our orders rests at or through the other side of the book.
    truth = await _truth(sim)
    assert not [o for o in truth["resting_orders"] if o["user_id"] == account.user_id]


async def _truth(sim: Any) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=sim.rest_url.split("/trade-api")[0]) as http:
        return dict((await http.get("/_sim/truth")).json())
