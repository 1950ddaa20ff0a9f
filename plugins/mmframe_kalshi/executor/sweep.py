"""`CancelSweep`: cancel every order of ours and keep going until the venue shows none resting.

One round: read our resting orders from the venue (when the read fails, the orders the runtime's
tracker holds live stand in for it), then cancel them — a batch cancel first; for what still rests in
the next round, one cancel per order (concurrently); for what survives that, the order group is
triggered as a last resort (it cancels every order in the group at once). Between rounds the sweep
backs off exponentially with jitter (the injected clock and random source). Every venue error —
429s, 5xx, network failures, any other Kalshi error — is caught and retried: nothing escapes a
round, and the sweep returns only when the venue shows nothing of ours resting, no create of ours is
in flight and none has an unknown outcome, or when its caller cancels it (the runtime's shutdown
deadline). Logging is at most one line per round, rate-limited.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from mmframe.api import Clock, RateLimitedLog, WorkingOrder
from mmframe_kalshi.errors import KalshiError
from mmframe_kalshi.executor.cancels import Cancelled, CancelOutcome, cancel_batch, cancel_one
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.recovery import Recovery
from mmframe_kalshi.executor.shared import Shared, logger
from mmframe_kalshi.limiter import split_batches
from mmframe_kalshi.models import Order
from mmframe_kalshi.rest import ORDERS_V2_BATCH, RetryPolicy

T = TypeVar("T")

SWEEP_BACKOFF = RetryPolicy(attempts=0, base_s=0.05, max_s=1.0)
"""Delay between rounds: 0.05 s doubling to 1 s, jittered to [d/2, d] (``attempts`` is unused)."""
_PER_ORDER_CONCURRENCY = 16
_BATCH, _PER_ORDER, _GROUP = 0, 1, 2
_STAGES = ("batch cancel", "per-order cancel", "order-group trigger")


class CancelSweep:
    """`KalshiExecutor.cancel_all`'s loop (see the module docstring)."""

    def __init__(
        self,
        shared: Shared,
        outcomes: Outcomes,
        recovery: Recovery,
        *,
        clock: Clock,
        rng: random.Random,
        backoff: RetryPolicy = SWEEP_BACKOFF,
        is_busy: Callable[[WorkingOrder], bool],
    ) -> None:
        self._shared = shared
        self._outcomes = outcomes
        self._recovery = recovery
        self._clock = clock
        self._rng = rng
        self.backoff = backoff
        self._is_busy = is_busy
        self._log = RateLimitedLog(logger, clock.monotonic_ns, interval_ns=5_000_000_000)
        self.rounds = 0
        """Rounds run by all sweeps so far (for ``describe``)."""
        self._triggered = False

    async def run(self) -> None:
        """Sweep until nothing of ours rests, nothing is in flight and nothing is unsettled."""
        pending = self._shared.pending
        stage = _BATCH
        attempt = 0
        self._triggered = False
        while True:
            self.rounds += 1
            error = ""
            resting: list[Order] | None
            try:
                resting = await self._recovery.ours_resting()
            except Exception as exc:  # whatever went wrong, the next round tries again
                resting, error = None, f"reading resting orders failed: {exc}"
            if resting is not None and not resting:
                if not pending.creating and not pending.unknown:
                    self._close_tracked()
                    return
                if pending.unknown and not pending.creating:
                    error = await self._settle_unknown()
                    if not pending.unknown:
                        continue
                # else: creates in flight may still land; wait for their answers
            else:
                targets = self._targets(resting)
                if targets:
                    error = await self._cancel(targets, stage) or error
                    stage = min(stage + 1, _GROUP)
            self._log.log(
                "sweep",
                "cancel-all round %d: %s of ours resting, %d create(s) in flight, %d unsettled%s",
                self.rounds,
                "unknown" if resting is None else str(len(resting)),
                len(pending.creating),
                len(pending.unknown),
                f"; {error}" if error else "",
                level=logging.WARNING if error else logging.INFO,
            )
            await self._clock.sleep(self.backoff.delay(attempt, self._rng))
            attempt += 1

    # --- one round ------------------------------------------------------------------------------

    def _targets(self, resting: list[Order] | None) -> list[tuple[str, str, str]]:
        """(venue order id, ticker, client id) to cancel: what the venue shows resting, or, when it
        could not be read, what the tracker holds live with a venue id."""
        if resting is not None:
            return [(o.order_id, o.ticker, o.client_order_id) for o in resting]
        return [(o.order_id, o.ticker, o.client_order_id) for o in self._shared.orders.live() if o.order_id]

    async def _cancel(self, targets: list[tuple[str, str, str]], stage: int) -> str:
        """Cancel ``targets`` the way ``stage`` says; returns the last error met ("" if none)."""
        errors: list[str] = []
        if stage == _BATCH:
            size = max(1, min(self._shared.options.max_batch,
                              self._shared.rest.limiter.max_batch_items("DELETE", ORDERS_V2_BATCH)))
            await _all([self._batch(chunk, errors) for chunk in split_batches(targets, size)], _PER_ORDER_CONCURRENCY)
        else:
            if stage == _GROUP:
                await self._trigger_group(errors)
            await _all([self._one(target, errors) for target in targets], _PER_ORDER_CONCURRENCY)
        return f"{_STAGES[stage]}: {errors[-1]}" if errors else ""

    async def _batch(self, chunk: list[tuple[str, str, str]], errors: list[str]) -> None:
        # A batch refused as a whole falls back to per-order cancels; "already gone" is done (`cancels`).
        outcomes = await cancel_batch(self._shared.rest, [(oid, ticker) for oid, ticker, _ in chunk])
        for (order_id, _ticker, cid), outcome in zip(chunk, outcomes, strict=True):
            self._settle(order_id, cid, outcome, errors)

    async def _one(self, target: tuple[str, str, str], errors: list[str]) -> None:
        order_id, ticker, cid = target
        self._settle(order_id, cid, await cancel_one(self._shared.rest, order_id, ticker), errors)

    def _settle(self, order_id: str, cid: str, outcome: CancelOutcome, errors: list[str]) -> None:
        if outcome.outcome is Cancelled.FAILED:
            errors.append(str(outcome.error))
        else:
            self._cancelled(order_id, cid, outcome.reason)

    async def _trigger_group(self, errors: list[str]) -> None:
        group = self._shared.order_group_id
        if group is None or self._triggered:
            return
        try:
            await self._shared.rest.trigger_order_group(group)
        except KalshiError as exc:
            errors.append(f"triggering order group {group}: {exc}")
        else:
            self._triggered = True
            logger.warning("orders still resting after batch and per-order cancels: order group %s triggered", group)

    async def _settle_unknown(self) -> str:
        try:
            await self._recovery.settle_unknown()
        except Exception as exc:
            return f"settling unknown creates failed: {exc}"
        return ""

    # --- reporting ------------------------------------------------------------------------------

    def _cancelled(self, order_id: str, client_order_id: str, reason: str) -> None:
        """The venue says ``order_id`` no longer rests: tell the runtime, settle request state."""
        shared = self._shared
        pending = shared.pending
        if client_order_id:
            pending.unknown.pop(client_order_id, None)
            pending.deferred_cancels.discard(client_order_id)
        orders = shared.orders
        order = orders.by_order_id(order_id) or (orders.get(client_order_id) if client_order_id else None)
        if order is not None:
            self._outcomes.closed(order, reason)
        else:
            shared.rest.forget_order(order_id)

    def _close_tracked(self) -> None:
        """The venue shows nothing of ours resting: every order the tracker still holds live with a
        venue id (and no amend or decrease in flight) is closed."""
        for order in self._shared.orders.live():
            if order.order_id is not None and not self._is_busy(order):
                self._outcomes.closed(order, "not resting")


async def _all(jobs: Sequence[Awaitable[None]], limit: int) -> None:
    """Run ``jobs`` at most ``limit`` at a time; each catches its own errors (a bug is logged, never
    raised: a sweep must not stop on it)."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[None]) -> None:
        async with gate:
            try:
                await job
            except Exception:
                logger.exception("a cancel request failed")

    await asyncio.gather(*(run(job) for job in jobs))
