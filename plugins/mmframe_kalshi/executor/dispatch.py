"""`Dispatcher`: the executor's queue and request slots, from an action handed over to its request on
the wire, with the runtime's gate checked at the moment of writing.

* Each action is stamped with the runtime's monotonic clock when it is handed over (its decision
  time) and its write tokens are held in the `KalshiWriteBudget` until its request takes them.
* A send starts every request at once, each as its own task: one batch cancel per chunk, each amend
  and decrease, and a batch create for the creates; no request waits for another's round trip (at
  most ``max_in_flight`` at a time; what does not fit stays queued and batches with what comes
  meanwhile). Per order the order holds: an amend or decrease waits for the one in flight on the
  same order, and a cancel for an order whose create is in flight waits for its acknowledgement.
* Where it can, a request is written to the socket in the same step as the action was handed over
  (the REST client's ``begin_*``: no event-loop turn between the frame that caused it and the bytes
  leaving); otherwise its task sends it through httpx.
* Every create and amend carries a guard the REST client asks right after the request's tokens were
  taken and immediately before it is written (and again before a retry): the gate's
  ``allows(action, decided_ns)``. A refused create or amend is never written; it is reported
  rejected with code ``gate_closed`` (for a batch create, only the refused orders).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from mmframe.api import (
    AmendOrder,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    OrderAction,
    OrderRejected,
    WorkingOrder,
)
from mmframe_kalshi.errors import KalshiError, ServerError, TransportError, WriteRefused
from mmframe_kalshi.executor.budget import KalshiWriteBudget
from mmframe_kalshi.executor.cancels import Cancelled, cancel_batch
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.requests import amend_terms, create_request
from mmframe_kalshi.executor.shared import Shared, logger
from mmframe_kalshi.limiter import split_batches
from mmframe_kalshi.models import OrderAmendedResult, OrderCanceledResult, OrderPlaced
from mmframe_kalshi.rest import ORDERS_V2_BATCH, CreateOrderRequest, Guard

T = TypeVar("T")
Item = tuple[OrderAction, int]
"""An action handed over and its decision time (the runtime's monotonic clock, ns)."""


class Dispatcher:
    """Queues actions and starts their requests; outcomes go to `Outcomes`."""

    def __init__(self, shared: Shared, outcomes: Outcomes, budget: KalshiWriteBudget) -> None:
        self._shared = shared
        self._outcomes = outcomes
        self.budget = budget
        self._queue: list[Item] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sender: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        """Held by `KalshiExecutor.cancel_all`: no new request starts while it runs."""
        self._sending = False
        """Inside `_send_queued`: an action handed over from an outcome it publishes is queued."""
        self._max_in_flight = max(1, shared.options.max_in_flight)
        self._slot_freed = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._order_busy: dict[int, tuple[WorkingOrder, asyncio.Task[None]]] = {}
        """The amend or decrease in flight per order (by the tracker's record of it, which keeps its
        identity across amends): the next change of that order waits for it."""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._sender = asyncio.create_task(self._drain(), name="kalshi-executor-sender")

    async def stop(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def flush(self) -> None:
        """Wait until every queued action has been sent and answered."""
        await self._idle.wait()

    def busy(self, order: WorkingOrder) -> bool:
        """Whether an amend or decrease of ``order`` is in flight."""
        return id(order) in self._order_busy

    def describe(self) -> dict[str, int]:
        return {"queued": len(self._queue), "in_flight": len(self._in_flight)}

    # --- handing over ---------------------------------------------------------------------------

    def submit(self, actions: Sequence[OrderAction]) -> None:
        """Stamp, hold the tokens of, and queue ``actions``; start their requests now when a request
        slot is free and this is not a nested call from inside a send."""
        if not actions:
            return
        now = self._shared.require_ctx().monotonic_ns()
        budget = self.budget
        for action in actions:
            budget.hold(budget.cost(action))
            self._queue.append((action, now))
        self._idle.clear()
        if self._sending or self._sender is None or self.lock.locked() or len(self._in_flight) >= self._max_in_flight:
            self._wake.set()
            return
        self._send_queued()

    def drop_queued(self) -> list[OrderAction]:
        """Take every queued action out unsent (their held tokens released)."""
        items, self._queue = self._queue, []
        for action, _ in items:
            self._release(action)
        self._maybe_idle()
        return [action for action, _ in items]

    def _send_queued(self) -> None:
        """Send what is queued now (as far as request slots allow); the rest stays queued in order."""
        self._sending = True
        try:
            batch, self._queue = self._queue, []
            try:
                left = self._send(batch)
            except Exception:
                logger.exception("sending %d order action(s) failed", len(batch))
                for action, _ in batch:
                    self._release(action)
                left = []
            self._queue[:0] = left
        finally:
            self._sending = False
        if self._queue:
            self._wake.set()
        else:
            self._maybe_idle()

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                while len(self._in_flight) >= self._max_in_flight:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                async with self.lock:
                    self._send_queued()
            self._maybe_idle()

    def _send(self, items: list[Item]) -> list[Item]:
        """Turn one send's actions into requests and start each as its own task: cancels first, the
        rest in queue order, while fewer than ``max_in_flight`` are in flight; returns the items left
        for a later send, in queue order."""
        free = self._max_in_flight - len(self._in_flight)
        if len(items) <= free and all(type(action) is AmendOrder for action, _ in items):
            # The common requote: amends only, a slot for each. Same order and outcome as below,
            # without the batching bookkeeping (this runs inside the frame that caused it).
            for action, decided in items:
                assert isinstance(action, AmendOrder)
                self._start_change(action, decided)
            return []
        creates = {a.client_order_id: (a, d) for a, d in items if isinstance(a, CreateOrder)}
        cancels: list[tuple[CancelOrder, WorkingOrder]] = []
        changes: list[Item] = []
        for item in items:
            action = item[0]
            if isinstance(action, CancelOrder):
                created = creates.pop(action.client_order_id, None)
                if created is not None:
                    # Created and cancelled in the same send: neither is sent.
                    self._release(created[0])
                    self._release(action)
                    self._outcomes.canceled(action.client_order_id, action.ticker, "canceled before it was sent")
                    continue
                target = self._cancel_target(action)
                if target is not None:
                    cancels.append((action, target))
            elif isinstance(action, AmendOrder | DecreaseOrder):
                changes.append(item)
        left: list[Item] = []
        rest = self._shared.rest
        if cancels:
            size = min(self._shared.options.max_batch, rest.limiter.max_batch_items("DELETE", ORDERS_V2_BATCH))
            for chunk in split_batches(cancels, size):
                if free <= 0:
                    left.extend((action, 0) for action, _ in chunk)
                    continue
                pairs = [(order.order_id or "", order.ticker) for _, order in chunk]
                started = self._begin(rest.begin_batch_cancel_orders, pairs)
                held = sum(self.budget.cost(action) for action, _ in chunk)
                if started is not None:
                    self.budget.release(held)
                    held = 0
                self._start(self._cancel(chunk, started), held=held)
                free -= 1
        # Then amends, decreases and create batches in the order they were queued, so that under
        # load none of them waits behind a stream of the others.
        position = {id(action): index for index, (action, _) in enumerate(items)}
        requests: list[tuple[int, list[Item]]] = [(position[id(item[0])], [item]) for item in changes]
        if creates:
            size = min(self._shared.options.max_batch, rest.limiter.max_batch_items("POST", ORDERS_V2_BATCH))
            batches = split_batches(list(creates.values()), size)
            requests += [(position[id(batch[0][0])], batch) for batch in batches]
            requests.sort(key=lambda request: request[0])
        for _, request in requests:
            if free <= 0:
                left.extend(request)
                continue
            first = request[0][0]
            if isinstance(first, AmendOrder | DecreaseOrder):
                self._start_change(first, request[0][1])
            else:
                self._start_creates(request)
            free -= 1
        if left:
            left.sort(key=lambda item: position.get(id(item[0]), -1))
        return left

    # --- requests -------------------------------------------------------------------------------

    def _begin(self, begin: Callable[..., Awaitable[T] | None], *args: Any, **kwargs: Any) -> Awaitable[T] | None:
        """Write a request to the socket now (the REST client's ``begin_*``); None when it cannot go
        synchronously (no warm connection, no tokens right now) or failed to start, and the request
        task sends it instead."""
        try:
            return begin(*args, **kwargs)
        except Exception:  # the request task's own call raises it again, and handles it there
            return None

    def _start(
        self, request: Coroutine[Any, Any, None], *, held: int = 0, after: asyncio.Task[None] | None = None
    ) -> asyncio.Task[None]:
        """Run one request as its own task (after ``after``, if given). ``held``: tokens held for it
        until it starts (its first step takes them from the bucket, or waits there for them)."""
        task = asyncio.create_task(self._run(request, after, held), name="kalshi-executor-request")
        self._shared.session.ws.yield_after_frame()  # if a frame handler started it: send before reading on
        self._in_flight.add(task)
        task.add_done_callback(self._request_done)
        return task

    async def _run(self, request: Coroutine[Any, Any, None], after: asyncio.Task[None] | None, held: int) -> None:
        try:
            if after is not None:
                await asyncio.wait([after])
            # From here the request reaches the limiter without another event-loop turn: its tokens
            # are taken or it waits in the bucket, where the budget sees it.
            self.budget.release(held)
            held = 0
            await request
        except Exception:
            logger.exception("an order request failed")
        finally:
            self.budget.release(held)
            request.close()  # never awaited when cancelled first: no "never awaited" warning

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self._queue and not self._in_flight:
            self._idle.set()

    def _release(self, action: OrderAction) -> None:
        self.budget.release(self.budget.cost(action))

    def _guard(self, items: Sequence[Item]) -> Guard:
        """The gate, asked about each order right before its request is written."""
        gate = self._shared.require_ctx().gate
        if len(items) == 1:  # an amend, or a create on its own: no table to build
            only, decided_ns = items[0]
            return lambda _cid: gate.allows(only, decided_ns)
        by_cid = {action.client_order_id: (action, decided) for action, decided in items}

        def allows(client_order_id: str) -> bool:
            action, decided = by_cid[client_order_id]
            return gate.allows(action, decided)

        return allows

    # --- cancels --------------------------------------------------------------------------------

    def _cancel_target(self, action: CancelOrder) -> WorkingOrder | None:
        """The order to cancel, or None when nothing is sent for it now (unknown, already closed,
        or its create is in flight: then the cancel follows the create's acknowledgement)."""
        order = self._shared.orders.get(action.client_order_id)
        if order is None:
            self._release(action)
            self._outcomes.rejected(action.client_order_id, action.ticker, "unknown_order", "no such live order", "cancel")
            return None
        if not order.status.is_live:
            self._release(action)
            self._outcomes.already_closed(order, action.client_order_id)
            return None
        if order.order_id is None:
            self._release(action)
            pending = self._shared.pending
            if pending.unsettled(order.client_order_id):
                pending.deferred_cancels.add(order.client_order_id)
            else:  # its create was never sent (dropped before it left): nothing can rest
                self._outcomes.canceled(order.client_order_id, order.ticker, "never sent")
            return None
        return order

    async def _cancel(
        self, chunk: list[tuple[CancelOrder, WorkingOrder]], started: Awaitable[list[OrderCanceledResult]] | None
    ) -> None:
        """Cancel one batch; ``started`` is its answer when it was already written (`_begin`). A batch
        refused as a whole falls back to one cancel per order, and an order the venue says is gone
        (or shows not resting when read) counts as cancelled (`cancels`)."""
        pairs: list[tuple[str, str | None]] = [(order.order_id or "", order.ticker) for _, order in chunk]
        answered: list[OrderCanceledResult] | KalshiError | None = None
        if started is not None:
            try:
                answered = await started
            except KalshiError as exc:
                answered = exc
        outcomes = await cancel_batch(self._shared.rest, pairs, answered=answered)
        for (action, order), (order_id, _), outcome in zip(chunk, pairs, outcomes, strict=True):
            if outcome.outcome is Cancelled.CANCELED:
                self._outcomes.closed(order, "canceled")
            elif outcome.outcome is Cancelled.GONE:
                busy = self._order_busy.get(id(order))
                if busy is not None:
                    await asyncio.wait([busy[1]])  # an amend in flight may move the order
                if order.status.is_live and order.order_id != order_id:
                    # An amend moved the order to a new venue id meanwhile: cancel it there.
                    self.submit([action])
                else:
                    self._outcomes.closed(order, outcome.reason)
            else:
                assert outcome.error is not None
                self._outcomes.failed(order.client_order_id, order.ticker, outcome.error, "cancel")

    # --- creates --------------------------------------------------------------------------------

    def _start_creates(self, items: list[Item]) -> None:
        shared = self._shared
        requests = [
            create_request(action, shared.options, shared.order_group_id)
            for action, _ in items
            if isinstance(action, CreateOrder)
        ]
        guard = self._guard(items)
        shared.pending.creating.update(r.client_order_id for r in requests)
        held = sum(self.budget.cost(action) for action, _ in items)
        started = self._begin(shared.rest.begin_batch_create_orders, requests, guard=guard)
        if started is not None:
            self.budget.release(held)
            held = 0
        self._start(self._create(requests, guard, started), held=held)

    async def _create(
        self,
        requests: list[CreateOrderRequest],
        guard: Guard,
        started: Awaitable[list[OrderPlaced]] | None,
    ) -> None:
        """Place one batch; ``started`` is its answer when it was already written (`_begin`)."""
        pending = self._shared.pending
        try:
            try:
                if started is not None:
                    results = await started
                else:
                    results = await self._shared.rest.batch_create_orders(requests, guard=guard)
            except KalshiError as exc:
                results = [OrderPlaced(client_order_id=r.client_order_id, error=exc) for r in requests]
            for request, result in zip(requests, results, strict=True):
                pending.creating.discard(request.client_order_id)
                self._outcomes.created(request, result)
        finally:
            pending.creating.difference_update(r.client_order_id for r in requests)

    # --- amends and decreases -------------------------------------------------------------------

    def _start_change(self, action: AmendOrder | DecreaseOrder, decided: int) -> None:
        """An amend or decrease starts after the one in flight on the same order, if any."""
        order = self._shared.orders.get(action.client_order_id)
        busy = self._order_busy.get(id(order)) if order is not None else None
        before = busy[1] if busy is not None else None
        if before is asyncio.current_task():
            before = None  # asked from inside that request's answer: it is answered
        held = self.budget.cost(action)
        if isinstance(action, AmendOrder):
            guard = self._guard([(action, decided)])
            started: Awaitable[OrderAmendedResult] | None = None
            if before is None and order is not None and order.status.is_live and order.order_id is not None:
                started = self._begin(
                    self._shared.rest.begin_amend_order, order.order_id, **amend_terms(order, action), guard=guard
                )
                if started is not None:
                    self.budget.release(held)
                    held = 0
            request = self._amend(action, guard, started, order if started is not None else None)
        else:
            request = self._decrease(action)
        task = self._start(request, held=held, after=before)
        if order is not None:
            key = id(order)
            self._order_busy[key] = (order, task)
            task.add_done_callback(lambda done: self._change_done(key, done))

    def _change_done(self, key: int, task: asyncio.Task[None]) -> None:
        busy = self._order_busy.get(key)
        if busy is not None and busy[1] is task:
            del self._order_busy[key]

    async def _amend(
        self,
        action: AmendOrder,
        guard: Guard,
        started: Awaitable[OrderAmendedResult] | None,
        started_order: WorkingOrder | None,
    ) -> None:
        """Amend one order; ``started`` is the answer to the amend already written for
        ``started_order`` (`_begin`)."""
        order = started_order if started is not None else self._shared.orders.get(action.client_order_id)
        if order is None or order.order_id is None or (started is None and not order.status.is_live):
            self._outcomes.rejected(action.client_order_id, action.ticker, "unknown_order", "no such live order", "amend")
            return
        order_id = order.order_id
        try:
            if started is not None:
                result = await started
            else:
                result = await self._shared.rest.amend_order(order_id, **amend_terms(order, action), guard=guard)
        except WriteRefused as exc:
            self._outcomes.failed(action.client_order_id, action.ticker, exc, "amend")
            return
        except (ServerError, TransportError) as exc:
            await self._settle_amend(order_id, action, exc)
            return
        except KalshiError as exc:
            self._outcomes.failed(action.client_order_id, action.ticker, exc, "amend")
            return
        self._outcomes.amended(action, order_id, result)

    async def _settle_amend(self, order_id: str, action: AmendOrder, error: KalshiError) -> None:
        """An amend's outcome is unknown: read the order to see which version rests."""
        try:
            venue = await self._shared.rest.get_order(order_id)
        except KalshiError as exc:
            self._outcomes.rejected(action.client_order_id, action.ticker, "amend_unknown", f"{error}; {exc}", "amend")
            return
        if venue.client_order_id == action.new_client_order_id:
            self._outcomes.amend_applied(action, order_id, venue.order_id, venue.remaining)
        elif venue.status != "resting":
            order = self._shared.orders.get(action.client_order_id)
            if order is not None:
                self._outcomes.closed(order, f"not resting ({venue.status})")
        else:
            self._outcomes.failed(action.client_order_id, action.ticker, error, "amend")

    async def _decrease(self, action: DecreaseOrder) -> None:
        order = self._shared.orders.get(action.client_order_id)
        if order is None or not order.status.is_live or order.order_id is None:
            self._outcomes.rejected(
                action.client_order_id, action.ticker, "unknown_order", "no such live order", "decrease"
            )
            return
        try:
            result = await self._shared.rest.decrease_order(order.order_id, reduce_to=action.size, ticker=action.ticker)
        except KalshiError as exc:
            self._outcomes.failed(action.client_order_id, action.ticker, exc, "decrease")
            return
        self._outcomes.decreased(order, result.remaining)

    # --- shutdown -------------------------------------------------------------------------------

    def reject_dropped(self, actions: Sequence[OrderAction], reason: str) -> None:
        """Report creates, amends and decreases dropped unsent (their orders stay as they are)."""
        shared = self._shared
        for action in actions:
            if isinstance(action, CancelOrder):
                continue
            shared.publish(
                OrderRejected(
                    ts_ns=shared.now_ns(),
                    client_order_id=action.client_order_id,
                    ticker=action.ticker,
                    code="shutdown",
                    message=reason,
                    action=action.type.value,
                )
            )
