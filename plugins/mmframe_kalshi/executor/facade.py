"""`KalshiExecutor`: the runtime's order actions -> Kalshi V2 order endpoints, and back.

A thin facade over parts with one job each:

* `dispatch.Dispatcher` — the queue and request slots, the fast path (requests written in the same
  step as the frame that caused them), the gate checked at the moment of writing;
* `outcomes.Outcomes` — the venue's answers -> order events;
* `account.AccountStream` — the account's WebSocket channels -> fills, order updates, positions,
  order-group triggers;
* `recovery.Recovery` — the startup read, reconciliation after a reconnect, settling creates whose
  outcome is unknown, reading which resting orders are ours;
* `sweep.CancelSweep` — `cancel_all`, which keeps going until the venue shows none of ours resting;
* `budget.KalshiWriteBudget` — the account's write token bucket as the runtime's `WriteBudget`.

The executor keeps no order state: the runtime's order tracker (``ctx.orders``) is the one place
that knows an order's venue id, fills and renames. What it keeps is request state: requests in
flight, creates whose outcome is unknown, cancels waiting for their create's acknowledgement, the
order group, and which orders have pre-made amend signatures.

Every create goes into the executor's order group, whose ``contracts_limit`` is the exchange-side
breaker: when it fires, `OrderGroupTriggered` is published and quoting halts.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Sequence
from typing import Any

from mmframe.api import AccountSnapshot, Count, FeedContext, OrderAction, WorkingOrder
from mmframe_kalshi.errors import KalshiError
from mmframe_kalshi.executor.account import ACCOUNT_CHANNELS, ACCOUNT_FRAMES, AccountStream
from mmframe_kalshi.executor.budget import KalshiWriteBudget
from mmframe_kalshi.executor.dispatch import Dispatcher
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.recovery import Recovery
from mmframe_kalshi.executor.shared import ExecutorOptions, Shared, logger
from mmframe_kalshi.executor.sweep import SWEEP_BACKOFF, CancelSweep
from mmframe_kalshi.rest import RetryPolicy
from mmframe_kalshi.session import KalshiSession


class KalshiExecutor:
    """Implements `mmframe.api.Executor`, `ImmediateExecutor` and `BudgetedExecutor` over a
    `KalshiSession`."""

    def __init__(
        self,
        session: KalshiSession,
        *,
        contracts_limit: Count | None = 100_000,
        max_batch: int = 20,
        fill_lookback_s: int = 86_400,
        self_trade_prevention: str = "taker_at_cross",
        cancel_order_on_pause: bool = False,
        delete_group_on_stop: bool = True,
        max_in_flight: int = 10,
        sweep_backoff: RetryPolicy = SWEEP_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        options = ExecutorOptions(
            contracts_limit=contracts_limit,
            max_batch=max_batch,
            fill_lookback_s=fill_lookback_s,
            self_trade_prevention=self_trade_prevention,
            cancel_order_on_pause=cancel_order_on_pause,
            max_in_flight=max_in_flight,
        )
        self.session = session
        self.rest = session.rest
        self.delete_group_on_stop = delete_group_on_stop
        self._shared = shared = Shared(session, options)
        self._budget = KalshiWriteBudget(session.rest.limiter)
        self.outcomes = Outcomes(shared, cancel_later=self._cancel_later, unknown_outcome=self._unknown_outcome)
        self.dispatch = Dispatcher(shared, self.outcomes, self._budget)
        self.account = AccountStream(shared, self.outcomes)
        self.recovery = Recovery(shared, self.outcomes, self.account, self.dispatch.busy)
        self.sweep = CancelSweep(
            shared,
            self.outcomes,
            self.recovery,
            clock=session.clock,
            rng=rng or random.Random(),
            backoff=sweep_backoff,
            is_busy=self.dispatch.busy,
        )
        self._remove_listener: Any = None

    # --- Executor protocol ----------------------------------------------------------------------

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        """Subscribe to the account channels, create the order group, read the account."""
        shared = self._shared
        shared.ctx = ctx
        shared.markets = frozenset(ctx.markets)
        self._remove_listener = self.session.on_frames(ACCOUNT_FRAMES, self.account.on_frame)
        self.session.on_reconnect(self.recovery.reconcile)
        await self.session.subscribe(ACCOUNT_CHANNELS, ctx.markets)
        await self.session.subscribe(("order_group_updates",), None)
        limit = shared.options.contracts_limit
        if limit:
            group = await self.rest.create_order_group(limit)
            shared.order_group_id = group.order_group_id
            logger.info("order group %s, contracts limit %s", shared.order_group_id, limit)
        snapshot = await self.recovery.snapshot()
        self.dispatch.start()
        return snapshot

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        """Hand ``actions`` over (see `execute_nowait`). Returns at once."""
        self.execute_nowait(actions)

    def execute_nowait(self, actions: Sequence[OrderAction]) -> None:
        """Hand ``actions`` over: each is stamped with the runtime's monotonic clock (its decision
        time, for the gate) and, when a request slot is free, its request starts right here — written
        to the socket in this step where it can be. Otherwise, or when called from inside a send (an
        outcome published while sending), the actions wait for a slot, batched with what comes
        meanwhile."""
        self.dispatch.submit(actions)

    async def cancel_all(self) -> None:
        """Cancel every order of ours and keep going until the venue shows none resting (see
        `sweep.CancelSweep`); returns only then, or when cancelled by the caller (its deadline).

        Queued actions are dropped: creates, amends and decreases are reported rejected with code
        ``shutdown`` (their orders stay as they are, to be cancelled here); no new request starts
        while this runs."""
        dispatch = self.dispatch
        dropped = dispatch.drop_queued()
        dispatch.reject_dropped(dropped, "dropped: cancelling all orders")
        async with dispatch.lock:
            await self.sweep.run()

    async def open_orders(self) -> Sequence[WorkingOrder]:
        """Our orders resting on the venue now (ground truth, read over REST)."""
        return [o.to_working() for o in await self.recovery.ours_resting()]

    async def stop(self) -> None:
        self.recovery.stop()
        await self.dispatch.stop()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        group = self._shared.order_group_id
        if self.delete_group_on_stop and group:
            with contextlib.suppress(KalshiError):
                await self.rest.delete_order_group(group)

    # --- BudgetedExecutor -----------------------------------------------------------------------

    @property
    def write_budget(self) -> KalshiWriteBudget:
        """The account's write budget, net of actions handed over and not yet charged."""
        return self._budget

    # --- extras for the runtime -----------------------------------------------------------------

    @property
    def order_group_id(self) -> str | None:
        return self._shared.order_group_id

    @property
    def group_triggered(self) -> bool:
        return self._shared.group_triggered

    @property
    def malformed(self) -> int:
        """Account-channel frames dropped because they did not parse."""
        return self._shared.malformed

    async def reconcile(self) -> None:
        """REST truth after a reconnect: missed fills, vanished orders, positions."""
        await self.recovery.reconcile()

    async def add_markets(self, tickers: Sequence[str]) -> None:
        """Report fills, orders and positions in ``tickers`` too (subscribes the account channels)."""
        shared = self._shared
        added = frozenset(tickers) - shared.markets
        if not added:
            return
        shared.markets = shared.markets | added
        await self.session.subscribe(ACCOUNT_CHANNELS, shared.markets)

    def remove_markets(self, tickers: Sequence[str]) -> None:
        """Report nothing more from ``tickers`` (call once their orders are cancelled: later fills
        there are dropped)."""
        self._shared.markets = self._shared.markets - frozenset(tickers)

    def adopt(self, client_order_ids: Iterable[str]) -> None:
        """Resting orders the runtime adopted at startup: keep amend signatures ready for them. (They
        are ours because the runtime's tracker knows them; `cancel_all` cancels them.)"""
        orders = self._shared.orders
        for cid in client_order_ids:
            order = orders.get(cid)
            if order is not None and order.order_id is not None and order.remaining > 0:
                self.rest.presign_order(order.order_id)

    async def reset_order_group(self) -> None:
        """Re-arm the exchange-side breaker after it triggered (new orders are refused until then)."""
        shared = self._shared
        if shared.order_group_id:
            await self.rest.reset_order_group(shared.order_group_id)
        shared.group_triggered = False

    async def flush(self) -> None:
        """Wait until every queued action has been sent and answered (tests, shutdown)."""
        await self.dispatch.flush()

    def describe(self) -> dict[str, Any]:
        shared = self._shared
        pending = shared.pending
        return {
            "order_group_id": shared.order_group_id,
            "group_triggered": shared.group_triggered,
            **self.dispatch.describe(),
            "creates_in_flight": len(pending.creating),
            "unknown_outcomes": len(pending.unknown),
            "deferred_cancels": len(pending.deferred_cancels),
            "write_budget": self._budget.describe(),
            "cancel_all_rounds": self.sweep.rounds,
        }

    # --- wiring ---------------------------------------------------------------------------------

    def _cancel_later(self, action: Any) -> None:
        self.dispatch.submit([action])

    def _unknown_outcome(self) -> None:
        self.recovery.settle_unknown_later()
