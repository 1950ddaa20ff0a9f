"""`Recovery`: what the venue says when our own view may be behind it.

* At start: the account's positions, resting orders, recent fills and balance.
* After a WebSocket reconnect: fills since the last one seen, orders the tracker holds live that no
  longer rest (reported cancelled), and positions.
* Creates whose outcome stayed unknown: settled by reading orders (found: accepted; absent:
  rejected as not placed), in the background with backoff until none is left.
* Which resting orders are ours: in our order group, known to the runtime's tracker (by venue id
  or client id), or a create whose outcome is not settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mmframe.api import AccountSnapshot, OrderFilled, PositionReported, WorkingOrder
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import KalshiError
from mmframe_kalshi.executor.account import AccountStream
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.shared import Shared
from mmframe_kalshi.models import Order

_FILL_SLACK_S = 5
"""Fills are re-read from this long before the last one seen (the runtime drops repeats)."""
_MAX_ORDER_LOOKUPS = 200
"""REST fills name no client id: at most this many unknown orders are read to learn theirs."""


class Recovery:
    """Reads the venue to bring the runtime's view up to date."""

    def __init__(
        self,
        shared: Shared,
        outcomes: Outcomes,
        account: AccountStream,
        is_busy: Callable[[WorkingOrder], bool],
    ) -> None:
        self._shared = shared
        self._outcomes = outcomes
        self._account = account
        self.is_busy = is_busy
        """Whether an amend or decrease of an order is in flight."""
        self.started_s = 0
        self._settler: asyncio.Task[None] | None = None

    # --- start ----------------------------------------------------------------------------------

    async def snapshot(self) -> AccountSnapshot:
        """Positions, resting orders and fills (the last ``fill_lookback_s``) in our markets, balance."""
        shared = self._shared
        rest = shared.rest
        markets = shared.markets
        start_s = self.started_s = shared.now_ns() // 1_000_000_000
        positions = {p.ticker: p.position for p in await rest.all_positions() if p.ticker in markets}
        resting = [o for o in await rest.all_orders(status="resting") if o.ticker in markets]
        fills = await self.read_fills(min_ts=start_s - shared.options.fill_lookback_s)
        balance = await rest.get_balance()
        return AccountSnapshot(
            positions=positions,
            open_orders=[o.to_working() for o in resting],
            fills=fills,
            balance=balance.balance,
        )

    # --- after a reconnect ----------------------------------------------------------------------

    async def reconcile(self) -> None:
        """REST truth after a reconnect: missed fills, vanished orders, positions."""
        shared = self._shared
        orders = shared.orders
        # Fills since the last one seen (or since start): a disconnect may have lasted any time.
        since_s = max(self._account.last_fill_ns // 1_000_000_000, self.started_s) - _FILL_SLACK_S
        for fill in await self.read_fills(min_ts=since_s):
            shared.publish(fill)
        # Only orders that stayed as they were while the venue was read can be judged by the read:
        # an amend in flight or answered meanwhile may have moved the order to a new id.
        before = {
            id(o): o.order_id
            for o in orders.live()
            if o.order_id and o.ticker in shared.markets and not self.is_busy(o)
        }
        resting = {o.order_id for o in await shared.rest.all_orders(status="resting") if o.ticker in shared.markets}
        await self.settle_unknown()
        for order in orders.live():
            if (
                order.order_id
                and order.order_id not in resting
                and before.get(id(order)) == order.order_id
                and not self.is_busy(order)
            ):
                self._outcomes.closed(order, "not resting after reconnect")
        venue_positions = {p.ticker: p.position for p in await shared.rest.all_positions()}
        for ticker in sorted(shared.markets):
            shared.publish(
                PositionReported(ts_ns=shared.now_ns(), ticker=ticker, position=venue_positions.get(ticker, 0))
            )

    async def read_fills(self, *, min_ts: int) -> list[OrderFilled]:
        """REST fills since ``min_ts`` (Unix s) in our markets, oldest first, each under the client id
        the tracker knows its order by (read from the venue for orders it does not know)."""
        shared = self._shared
        fills = [f for f in await shared.rest.all_fills(min_ts=min_ts) if f.ticker in shared.markets]
        fills.sort(key=lambda f: f.ts_ns or 0)
        names: dict[str, str] = {}
        for order_id in {f.order_id for f in fills}:
            known = shared.orders.by_order_id(order_id)
            if known is not None:
                names[order_id] = known.client_order_id
        names.update(await self._client_ids(sorted({f.order_id for f in fills} - names.keys())))
        out: list[OrderFilled] = []
        for item in fills:
            cid = names.get(item.order_id) or item.client_order_id
            self._account.last_fill_ns = max(self._account.last_fill_ns, item.ts_ns or 0)
            out.append(parsing.fill_from_rest(item, cid, item.ts_ns or shared.now_ns()))
        return out

    async def _client_ids(self, order_ids: list[str]) -> dict[str, str]:
        """REST fills carry no client id: read the orders (a bounded number) to learn theirs."""
        repeats = self._shared.repeats
        if len(order_ids) > _MAX_ORDER_LOOKUPS:
            repeats.log("fills of unknown orders", "%d fills of unknown orders; reading the first %d",
                        len(order_ids), _MAX_ORDER_LOOKUPS)
        names: dict[str, str] = {}
        for order_id in order_ids[:_MAX_ORDER_LOOKUPS]:
            try:
                order = await self._shared.rest.get_order(order_id)
            except KalshiError as exc:
                repeats.log(("fill order unreadable", type(exc)), "order %s of a fill unreadable: %s", order_id, exc)
                continue
            if order.client_order_id:
                names[order_id] = order.client_order_id
        return names

    # --- creates whose outcome is unknown -------------------------------------------------------

    async def settle_unknown(self) -> None:
        """Read orders to settle creates whose outcome is unknown: accepted, or rejected as not placed."""
        pending = self._shared.pending
        for cid, ticker in list(pending.unknown.items()):
            found = await self._shared.rest.find_orders(ticker, [cid])
            if cid not in pending.unknown:
                continue  # settled meanwhile (a WebSocket update)
            if cid in found:
                order = found[cid]
                self._outcomes.accepted(cid, ticker, order.order_id, order.remaining if order.is_resting else 0, order.filled)
            else:
                self._outcomes.not_placed(cid, ticker)

    def settle_unknown_later(self) -> None:
        """Start settling unknown outcomes in the background (retrying with backoff), if not running."""
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_until_none(), name="kalshi-settle-unknown")

    async def _settle_until_none(self) -> None:
        delay = 0.5
        while self._shared.pending.unknown:
            await asyncio.sleep(delay)
            try:
                await self.settle_unknown()
            except KalshiError as exc:
                self._shared.repeats.log(
                    ("settle retry", type(exc)), "settling unknown create outcomes failed (%s); retrying in %.1fs",
                    exc, delay,
                )
            delay = min(delay * 2, 30.0)

    def stop(self) -> None:
        if self._settler is not None:
            self._settler.cancel()

    # --- ours -----------------------------------------------------------------------------------

    def is_ours(self, order: Order) -> bool:
        """Whether a venue order is one of ours: in our order group, known to the runtime's tracker,
        or a create of ours not settled yet."""
        shared = self._shared
        if shared.order_group_id is not None and order.order_group_id == shared.order_group_id:
            return True
        orders = shared.orders
        if orders.by_order_id(order.order_id) is not None:
            return True
        cid = order.client_order_id
        return bool(cid) and (orders.get(cid) is not None or shared.pending.unsettled(cid))

    async def ours_resting(self) -> list[Order]:
        """Our orders resting on the venue now (ground truth, read over REST)."""
        return [o for o in await self._shared.rest.all_orders(status="resting") if o.is_resting and self.is_ours(o)]
