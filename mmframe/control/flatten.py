"""``POST /flatten``: stop quoting, cancel everything, then close every position with marketable
limit orders no worse than a maximum slippage from the touch.

Trading stays paused afterwards (``/resume`` restarts it). Repeating the call is harmless: with no
orders and no positions left it does nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from mmframe.domain.actions import CreateOrder
from mmframe.domain.events import Event, OrderCanceled, OrderFilled, OrderRejected
from mmframe.domain.grid import TickGrid
from mmframe.domain.money import format_count, format_price
from mmframe.domain.quote import BookSide
from mmframe.domain.trading import GateState

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine
    from mmframe.runtime.market_state import MarketState

DEFAULT_MAX_SLIPPAGE = 500
"""$0.05 from the touch when the pipeline sets no ``control.flatten_max_slippage``."""
OUTCOME_TIMEOUT_S = 5.0


@dataclass
class FlattenReport:
    """What a flatten did, for the HTTP response."""

    canceled: int = 0
    orders_left: int = 0
    closes: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    positions_after: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "paused": True,
            "canceled": self.canceled,
            "orders_left": self.orders_left,
            "closes": self.closes,
            "skipped": self.skipped,
            "positions_after": self.positions_after,
            "flat": not self.positions_after and not self.orders_left,
        }


def close_price(market: MarketState, side: BookSide, max_slippage: int) -> int | str:
    """The limit price of a marketable close on ``side``, or why there is none.

    A sell (ask) may go down to best bid - slippage, a buy (bid) up to best ask + slippage, each
    rounded on the market's grid towards the touch so the bound is never exceeded.
    """
    book = market.book
    if not book.valid:
        return "book not valid (waiting for a snapshot)"
    grid = market.info.grid if market.info is not None and market.info.grid is not None else TickGrid.linear_cent()
    if side is BookSide.ASK:
        best = book.best_bid()
        if best is None:
            return "no bid to sell into"
        price = grid.round_up(max(best - max_slippage, grid.min_price))
    else:
        best = book.best_ask()
        if best is None:
            return "no ask to buy from"
        price = grid.round_down(min(best + max_slippage, grid.max_price))
    return "no valid price on the grid" if price is None else price


class Flattener:
    """Runs one flatten at a time against an engine."""

    def __init__(self, engine: Engine, max_slippage: int | None) -> None:
        self._engine = engine
        self.max_slippage = DEFAULT_MAX_SLIPPAGE if max_slippage is None else max_slippage
        self._lock = anyio.Lock()
        self._filled: dict[str, int] = {}
        """Contracts filled so far per close order of the flatten under way."""
        self._ended: set[str] = set()
        """Close orders the venue cancelled or refused (no more fills to wait for)."""
        self._trade_ids: set[str] = set()
        engine.add_observer(self._observe)

    def _observe(self, event: Event) -> None:
        """Count the fills of our closes: an IOC that trades at once is acknowledged as done before its
        fills reach the ledger, so the order's status alone cannot say the position has changed."""
        if not self._filled or not isinstance(event, OrderFilled | OrderCanceled | OrderRejected):
            return
        cid = event.client_order_id
        if cid not in self._filled:
            return
        if not isinstance(event, OrderFilled):
            self._ended.add(cid)
        elif not event.trade_id or event.trade_id not in self._trade_ids:
            self._trade_ids.add(event.trade_id)
            self._filled[cid] += event.count

    async def flatten(self) -> FlattenReport:
        """Pause, cancel everything, send the closes and wait for their outcome."""
        async with self._lock:
            engine = self._engine
            core = engine.core
            report = FlattenReport()
            engine.pause("flatten")
            before = (core.gate.state, core.gate.reason)
            report.canceled = len(core.tracker.live())
            report.orders_left = await engine.cancel_everything()
            actions: list[CreateOrder] = []
            for ticker, position in sorted(core.ledger.positions.items()):
                if position.position == 0:
                    continue
                side = BookSide.ASK if position.position > 0 else BookSide.BID
                price = close_price(core.market(ticker), side, self.max_slippage)
                if isinstance(price, str):
                    report.skipped.append(
                        {"ticker": ticker, "position": format_count(position.position), "reason": price}
                    )
                    continue
                action = CreateOrder(
                    client_order_id=core.new_client_order_id(), ticker=ticker, side=side, price=price,
                    size=abs(position.position), post_only=False, immediate_or_cancel=True, reduce_only=True,
                )
                actions.append(action)
                report.closes.append(
                    {
                        "ticker": ticker,
                        "side": side.value,
                        "size": format_count(action.size),
                        "limit_price": format_price(price),
                        "position_before": format_count(position.position),
                    }
                )
            if actions:
                self._filled = {a.client_order_id: 0 for a in actions}
                # Only the closes pass while flattening (immediate-or-cancel, reduce-only creates).
                core.gate.close(GateState.FLATTENING, "flatten")
                try:
                    await engine.submit(actions)
                    await self._wait_for_outcomes(actions)
                finally:
                    self._filled, self._ended, self._trade_ids = {}, set(), set()
                    core.gate.close(*before)
            for close in report.closes:
                close["position_after"] = format_count(core.ledger.position(close["ticker"]).position)
            report.positions_after = {
                ticker: format_count(p.position) for ticker, p in sorted(core.ledger.positions.items()) if p.position
            }
            return report

    async def _wait_for_outcomes(self, actions: list[CreateOrder]) -> None:
        """Until every close is over and its fills are booked: filled in full, cancelled or refused by
        the venue, or its market flat (a partial fill without a cancel waits out the timeout)."""
        core = self._engine.core

        def settled(action: CreateOrder) -> bool:
            order = core.tracker.get(action.client_order_id)
            if order is not None and order.status.is_live:
                return False
            cid = action.client_order_id
            return (
                cid in self._ended
                or self._filled[cid] >= action.size
                or core.ledger.position(action.ticker).position == 0
            )

        with anyio.move_on_after(OUTCOME_TIMEOUT_S):
            while not all(settled(action) for action in actions):
                await anyio.sleep(0.01)
