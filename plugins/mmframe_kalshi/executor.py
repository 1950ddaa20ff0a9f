"""`KalshiExecutor`: the runtime's order actions -> Kalshi V2 order endpoints, and back.

* `execute` never waits on the network: actions are queued and a sender task drains the queue.
  Each drain starts every request at once, each as its own task: the cancels (one batch-cancel
  request per chunk), each amend and decrease, and a batch create for the creates; no request waits
  for another's round trip (at most ``max_in_flight`` at a time, each still paced by the client's
  rate limiter; what does not fit waits in the queue and batches with what comes meanwhile). Per order the order holds: an amend or decrease waits for the one before it on the
  same order, and a cancel for an order whose create is in flight waits for its acceptance; cancels
  may overtake anything else. The batch endpoints have fixed paths, so their signatures are made
  ahead of time (`auth.PreSigner`).
* Every create goes into the executor's order group, whose ``contracts_limit`` is the
  exchange-side breaker: when it fires, `OrderGroupTriggered` is published and quoting halts.
* Outcomes come back through ``ctx.publish``: accepted/rejected/amended/decreased/canceled from the
  REST answers, fills and venue-side cancels from the WebSocket ``fill`` and ``user_orders``
  channels. Fills are deduplicated by ``trade_id``, so a fill seen on the WebSocket and again in a
  REST reconciliation is published once.
* After every reconnect the executor reconciles over REST: fills since the last one seen, resting
  orders (ours that vanished are reported cancelled) and positions.
* A create whose outcome stayed unknown is reconciled later by reading orders; until then it is
  neither accepted nor rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mmframe.api import (
    AccountSnapshot,
    AmendOrder,
    BookSide,
    CancelOrder,
    Count,
    CreateOrder,
    DecreaseOrder,
    Event,
    FeedContext,
    OrderAccepted,
    OrderAction,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    PositionReported,
    Price,
    RateLimitedLog,
    WorkingOrder,
)
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import (
    KalshiError,
    MalformedMessageError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    TransportError,
)
from mmframe_kalshi.limiter import split_batches
from mmframe_kalshi.models import Fill, Order, OrderAmendedResult, OrderCanceledResult, OrderPlaced
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.rest import ORDERS_V2_BATCH, CreateOrderRequest
from mmframe_kalshi.session import KalshiSession

logger = logging.getLogger(__name__)
T = TypeVar("T")

ACCOUNT_CHANNELS = ("fill", "user_orders", "market_positions")
_ACCOUNT_FRAMES = ("fill", "user_order", "market_position", "order_group_updates")
_SEEN_TRADES = 200_000
_FILL_SLACK_S = 5
_MAX_ORDER_LOOKUPS = 200
_RENAMES_KEPT = 10_000


@dataclass
class _Order:
    """What the executor knows of one order it placed, adopted or acted on."""

    client_order_id: str
    ticker: str
    side: BookSide
    price: Price
    remaining: Count
    filled: Count = 0
    order_id: str | None = None
    live: bool = True
    owned: bool = True
    cancel_requested: bool = False
    resized: bool = False
    """Amended or decreased: a fill reported late may be counted against the new size too."""


class KalshiExecutor:
    """Implements `mmframe.api.Executor` over a `KalshiSession`."""

    def __init__(
        self,
        session: KalshiSession,
        *,
        contracts_limit: Count | None = 100_000,
        max_batch: int = 20,
        fill_lookback_s: int = 86_400,
        self_trade_prevention: str = "taker_at_cross",
        cancel_order_on_pause: bool = False,
        adopt_existing: bool = False,
        delete_group_on_stop: bool = True,
        max_in_flight: int = 10,
    ) -> None:
        self.session = session
        self.rest = session.rest
        self._repeats = RateLimitedLog(logger, session.clock.monotonic_ns)  # malformed frames, unknown fills
        self.contracts_limit = contracts_limit
        self.max_batch = max_batch
        self.fill_lookback_s = fill_lookback_s
        self.self_trade_prevention = self_trade_prevention
        self.cancel_order_on_pause = cancel_order_on_pause
        self.adopt_existing = adopt_existing
        self.delete_group_on_stop = delete_group_on_stop
        self.order_group_id: str | None = None
        self.group_triggered = False
        self._ctx: FeedContext | None = None
        self._markets: frozenset[str] = frozenset()
        self._orders: dict[str, _Order] = {}
        self._by_order_id: dict[str, str] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._last_fill_ns = 0
        self._started_s = 0
        self._queue: list[OrderAction] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._deferred_cancels: set[str] = set()
        self._unknown: dict[str, str] = {}  # client_order_id -> ticker
        self._renamed: dict[str, str] = {}  # client id before an amend -> the id after it
        self._sender: asyncio.Task[None] | None = None
        self._settler: asyncio.Task[None] | None = None
        self._remove_listener: Any = None
        self._send_lock = asyncio.Lock()
        """Held by `cancel_all`: no new request starts while it runs."""
        self._sending = False
        """Inside `_send_queued`: a nested `execute_nowait` queues instead of sending."""
        self._max_in_flight = max(1, max_in_flight)
        self._slot_freed = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._order_busy: dict[int, asyncio.Task[None]] = {}
        """The amend or decrease in flight per order (by record identity: amends rename orders)."""
        self.malformed = 0

    # --- Executor protocol ------------------------------------------------------------------

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        """Subscribe to account channels, create the order group, read the account."""
        self._ctx = ctx
        self._markets = frozenset(ctx.markets)
        self._remove_listener = self.session.on_frames(_ACCOUNT_FRAMES, self._on_frame)
        self.session.on_reconnect(self.reconcile)
        await self.session.subscribe(ACCOUNT_CHANNELS, ctx.markets)
        await self.session.subscribe(("order_group_updates",), None)
        if self.contracts_limit:
            group = await self.rest.create_order_group(self.contracts_limit)
            self.order_group_id = group.order_group_id
            logger.info("order group %s, contracts limit %s", self.order_group_id, self.contracts_limit)
        start_s = self._started_s = ctx.clock.now_ns() // 1_000_000_000
        positions = {
            p.ticker: p.position for p in await self.rest.all_positions() if p.ticker in self._markets
        }
        resting = [o for o in await self.rest.all_orders(status="resting") if o.ticker in self._markets]
        for order in resting:
            self._remember(order, owned=self.adopt_existing)
        fills = await self._read_fills(min_ts=start_s - self.fill_lookback_s)
        balance = await self.rest.get_balance()
        self._sender = asyncio.create_task(self._drain(), name="kalshi-executor-sender")
        return AccountSnapshot(
            positions=positions,
            open_orders=[o.to_working() for o in resting],
            fills=fills,
            balance=balance.balance,
        )

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        """Queue ``actions`` and start sending them (see `execute_nowait`). Returns at once."""
        self.execute_nowait(actions)

    def execute_nowait(self, actions: Sequence[OrderAction]) -> None:
        """Queue ``actions`` and, when a request slot is free, start their requests right here (each
        request is its own task: its first step runs on the next turn of the event loop). Otherwise,
        or when called from inside a send (an outcome published while sending), the sender task
        sends them as slots free up, batched with whatever arrives meanwhile."""
        if not actions:
            return
        self._queue.extend(actions)
        self._idle.clear()
        if (
            self._sending
            or self._sender is None
            or self._send_lock.locked()
            or len(self._in_flight) >= self._max_in_flight
        ):
            self._wake.set()
            return
        self._send_queued()

    def _send_queued(self) -> None:
        """Send what is queued now (as far as request slots allow); the rest stays queued in order."""
        self._sending = True
        try:
            batch, self._queue = self._queue, []
            try:
                left = self._send(batch)
            except Exception:
                logger.exception("sending %d order action(s) failed", len(batch))
                left = []
            self._queue[:0] = left
        finally:
            self._sending = False
        if self._queue:
            self._wake.set()
        else:
            self._maybe_idle()

    async def cancel_all(self) -> None:
        """Cancel every order this executor owns: batch cancel, verify, cancel leftovers one by one,
        then fire the order group; queued creates and amends are dropped."""
        ctx = self._require_ctx()
        queued, self._queue = self._queue, []
        for action in queued:
            if isinstance(action, CancelOrder):
                record = self._orders.get(action.client_order_id)
                if record is not None:
                    record.owned = True  # cancelled below with everything else we own
                continue
            # Creates, amends and decreases never go out: their orders stay as they are.
            self._publish(
                OrderRejected(
                    ts_ns=ctx.clock.now_ns(),
                    client_order_id=action.client_order_id,
                    ticker=action.ticker,
                    code="shutdown",
                    message="dropped: cancelling all orders",
                    action=action.type.value,
                )
            )
        async with self._send_lock:
            await self._settle_in_flight()
            live = [o for o in self._orders.values() if o.owned and o.live and o.order_id]
            await self._cancel_orders(live, reason="cancel_all")
            for attempt in range(3):
                leftovers = await self._owned_resting()
                if not leftovers:
                    return
                logger.warning(
                    "%d owned order(s) still resting after cancel (round %d)", len(leftovers), attempt
                )
                if attempt == 0:
                    for order in leftovers:
                        with contextlib.suppress(NotFoundError):
                            await self.rest.cancel_order(order.order_id, ticker=order.ticker)
                        record = self._orders.get(
                            self._by_order_id.get(order.order_id, order.client_order_id)
                        )
                        if record is not None:
                            self._closed(record, "cancel_all")
                elif self.order_group_id:
                    await self.rest.trigger_order_group(self.order_group_id)
            leftovers = await self._owned_resting()
            if leftovers:
                logger.error("orders still resting after cancel_all: %s", [o.order_id for o in leftovers])

    async def open_orders(self) -> Sequence[WorkingOrder]:
        """Our orders resting on the venue now (ground truth, read over REST)."""
        return [o.to_working() for o in await self._owned_resting()]

    async def stop(self) -> None:
        if self._settler is not None:
            self._settler.cancel()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self.delete_group_on_stop and self.order_group_id:
            with contextlib.suppress(KalshiError):
                await self.rest.delete_order_group(self.order_group_id)

    # --- extras for the runtime ---------------------------------------------------------------

    async def add_markets(self, tickers: Sequence[str]) -> None:
        """Report fills, orders and positions in ``tickers`` too (subscribes the account channels)."""
        added = frozenset(tickers) - self._markets
        if not added:
            return
        self._markets = self._markets | added
        await self.session.subscribe(ACCOUNT_CHANNELS, self._markets)

    def remove_markets(self, tickers: Sequence[str]) -> None:
        """Report nothing more from ``tickers`` (call once their orders are cancelled: later fills
        there are dropped)."""
        self._markets = self._markets - frozenset(tickers)

    def adopt(self, client_order_ids: Iterable[str]) -> None:
        """Take ownership of resting orders found at startup (cancel_all will cancel them)."""
        for cid in client_order_ids:
            if cid in self._orders:
                self._orders[cid].owned = True

    async def reset_order_group(self) -> None:
        """Re-arm the exchange-side breaker after it triggered (new orders are refused until then)."""
        if self.order_group_id:
            await self.rest.reset_order_group(self.order_group_id)
        self.group_triggered = False

    async def flush(self) -> None:
        """Wait until every queued action has been sent and answered (tests, shutdown)."""
        await self._idle.wait()

    def describe(self) -> dict[str, Any]:
        return {
            "order_group_id": self.order_group_id,
            "group_triggered": self.group_triggered,
            "live_orders": sum(1 for o in self._orders.values() if o.live),
            "queued": len(self._queue),
            "in_flight": len(self._in_flight),
            "unknown_outcomes": len(self._unknown),
        }

    # --- sending ----------------------------------------------------------------------------

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                while len(self._in_flight) >= self._max_in_flight:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                async with self._send_lock:
                    self._send_queued()
            self._maybe_idle()

    def _send(self, actions: list[OrderAction]) -> list[OrderAction]:
        """Turn one drain's actions into requests and start each as its own task, cancels first, the
        rest in queue order, while fewer than ``max_in_flight`` are in flight; returns the actions
        left for a later drain, in queue order (they batch with what comes meanwhile)."""
        free = self._max_in_flight - len(self._in_flight)
        if len(actions) <= free:
            amends = [a for a in actions if isinstance(a, AmendOrder)]
            if len(amends) == len(actions):
                # The common requote: amends only, a slot for each. Same order and outcome as
                # below, without the batching bookkeeping (this runs inside the frame that caused it).
                for amend in amends:
                    self._start_order_change(amend)
                return []
        ctx = self._require_ctx()
        cancels: list[tuple[CancelOrder, _Order]] = []
        changes: list[AmendOrder | DecreaseOrder] = []
        creates = {a.client_order_id: a for a in actions if isinstance(a, CreateOrder)}
        for action in actions:
            if isinstance(action, CancelOrder):
                if creates.pop(action.client_order_id, None) is not None:
                    # Created and cancelled in the same drain: never send it.
                    self._publish(
                        OrderCanceled(
                            ts_ns=ctx.clock.now_ns(),
                            client_order_id=action.client_order_id,
                            ticker=action.ticker,
                            reason="canceled before it was sent",
                        )
                    )
                    continue
                record = self._orders.get(action.client_order_id) or self._renamed_record(action.client_order_id)
                if record is None:
                    self._reject(
                        action.client_order_id, action.ticker, "unknown_order", "no such live order", "cancel"
                    )
                elif not record.live:
                    self._already_closed(record, action.client_order_id)
                elif record.order_id is None:
                    self._deferred_cancels.add(record.client_order_id)
                else:
                    cancels.append((action, record))
            elif isinstance(action, AmendOrder | DecreaseOrder):
                changes.append(action)
        left: list[OrderAction] = []
        if cancels:
            size = min(self.max_batch, self.rest.limiter.max_batch_items("DELETE", ORDERS_V2_BATCH))
            for chunk in split_batches(cancels, size):
                if free <= 0:
                    left.extend(action for action, _ in chunk)
                    continue
                records = [record for _, record in chunk]
                for record in records:
                    record.owned = True
                    record.cancel_requested = True
                started = self._begin(
                    self.rest.begin_batch_cancel_orders, [(r.order_id or "", r.ticker) for r in records]
                )
                self._start(self._cancel_orders(records, reason="canceled", started=started))
                free -= 1
        # Then amends, decreases and create batches in the order they were queued, so that under
        # load none of them waits behind a stream of the others.
        position = {id(action): index for index, action in enumerate(actions)}
        requests: list[tuple[int, list[OrderAction]]] = [(position[id(c)], [c]) for c in changes]
        if creates:
            size = min(self.max_batch, self.rest.limiter.max_batch_items("POST", ORDERS_V2_BATCH))
            requests += [
                (position[id(batch[0])], list(batch)) for batch in split_batches(list(creates.values()), size)
            ]
            requests.sort(key=lambda request: request[0])
        for _, request in requests:
            if free <= 0:
                left.extend(request)
                continue
            first = request[0]
            if isinstance(first, AmendOrder | DecreaseOrder):
                self._start_order_change(first)
            else:
                creates_now = self._records_for([a for a in request if isinstance(a, CreateOrder)])
                requests_now = self._create_requests(creates_now)
                placing = self._begin(self.rest.begin_batch_create_orders, requests_now)
                self._start(self._create(creates_now, requests=requests_now, started=placing))
            free -= 1
        if left:
            left.sort(key=lambda action: position[id(action)])
        return left

    def _begin(self, begin: Callable[..., Awaitable[T] | None], *args: Any, **kwargs: Any) -> Awaitable[T] | None:
        """Write a request to the socket now (the REST client's ``begin_*``: no event-loop turn between
        the frame that caused it and the bytes leaving); None when it cannot go synchronously (no warm
        connection, no tokens right now) or failed to start, and the request task sends it instead."""
        try:
            return begin(*args, **kwargs)
        except Exception:  # the request task's own call raises it again, and handles it there
            return None

    def _start(
        self, request: Coroutine[Any, Any, None], *, after: asyncio.Task[None] | None = None
    ) -> asyncio.Task[None]:
        """Run one request as its own task (after ``after``, if given)."""
        task = asyncio.create_task(self._run(request, after), name="kalshi-executor-request")
        self.session.ws.yield_after_frame()  # if a frame handler started it: send before reading on
        self._in_flight.add(task)
        task.add_done_callback(self._request_done)
        return task

    async def _run(self, request: Coroutine[Any, Any, None], after: asyncio.Task[None] | None) -> None:
        try:
            if after is not None:
                await asyncio.wait([after])
            await request
        except Exception:
            logger.exception("an order request failed")
        finally:
            request.close()  # never awaited when cancelled first: no "never awaited" warning

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self._queue and not self._in_flight:
            self._idle.set()

    async def _settle_in_flight(self) -> None:
        """Wait until no request is in flight (their outcomes are recorded)."""
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))

    def _start_order_change(self, action: AmendOrder | DecreaseOrder) -> None:
        """An amend or decrease starts after the one in flight on the same order, if any."""
        record = self._orders.get(action.client_order_id)
        key = id(record)
        before = self._order_busy.get(key) if record is not None else None
        if before is asyncio.current_task():
            before = None  # asked from inside that request's answer: it is answered, nothing to wait for
        started: Awaitable[OrderAmendedResult] | None = None
        if (
            before is None
            and isinstance(action, AmendOrder)
            and record is not None
            and record.live
            and record.order_id is not None
        ):
            record.owned = True
            started = self._begin(self.rest.begin_amend_order, record.order_id, **_amend_terms(record, action))
        request = (
            self._amend(action, started, record) if isinstance(action, AmendOrder) else self._decrease(action)
        )
        task = self._start(request, after=before)
        if record is not None:
            self._order_busy[key] = task
            task.add_done_callback(lambda done: self._order_done(key, done))

    def _order_done(self, key: int, task: asyncio.Task[None]) -> None:
        if self._order_busy.get(key) is task:
            del self._order_busy[key]

    def _records_for(self, actions: list[CreateOrder]) -> list[CreateOrder]:
        """Record creates now, before their request starts, so a cancel in a later drain finds them."""
        for action in actions:
            self._orders[action.client_order_id] = _Order(
                action.client_order_id, action.ticker, action.side, action.price, action.size
            )
        return actions

    def _already_closed(self, record: _Order, client_order_id: str) -> None:
        """A cancel for an order we already know is closed: it is as cancelled as it gets. Report it
        cancelled unless it traded out (the fill said so already)."""
        if record.remaining > 0 or record.filled == 0:
            ctx = self._require_ctx()
            self._publish(
                OrderCanceled(
                    ts_ns=ctx.clock.now_ns(),
                    client_order_id=client_order_id,
                    ticker=record.ticker,
                    reason="already closed",
                )
            )

    async def _cancel_orders(
        self,
        records: list[_Order],
        *,
        reason: str,
        started: Awaitable[list[OrderCanceledResult]] | None = None,
    ) -> None:
        """Cancel ``records`` in batches; ``started`` is the answer to a batch already written for
        exactly these records (`_begin`)."""
        size = min(self.max_batch, self.rest.limiter.max_batch_items("DELETE", ORDERS_V2_BATCH))
        for record in records:
            record.cancel_requested = True
        for chunk in [records] if started is not None else split_batches(records, size):
            try:
                if started is not None:
                    results = await started
                else:
                    results = await self.rest.batch_cancel_orders([(r.order_id or "", r.ticker) for r in chunk])
            except KalshiError as exc:
                for record in chunk:
                    self._reject(
                        record.client_order_id, record.ticker, exc.code or "error", str(exc), "cancel"
                    )
                continue
            for record, result in zip(chunk, results, strict=True):
                if result.error is None or isinstance(result.error, NotFoundError):
                    note = reason if result.error is None else f"not resting ({result.error.code})"
                    self._closed(record, note)
                else:
                    code = result.error.code or "error"
                    self._reject(record.client_order_id, record.ticker, code, str(result.error), "cancel")

    async def _create(
        self,
        actions: list[CreateOrder],
        *,
        requests: list[CreateOrderRequest] | None = None,
        started: Awaitable[list[OrderPlaced]] | None = None,
    ) -> None:
        """Place ``actions`` in batches; ``started`` is the answer to a batch already written for
        exactly ``requests`` (`_begin`)."""
        if requests is None:
            requests = self._create_requests(actions)
        size = min(self.max_batch, self.rest.limiter.max_batch_items("POST", ORDERS_V2_BATCH))
        for chunk in [requests] if started is not None else split_batches(requests, size):
            try:
                if started is not None:
                    results = await started
                else:
                    results = await self.rest.batch_create_orders(chunk)
            except KalshiError as exc:
                results = [OrderPlaced(client_order_id=r.client_order_id, error=exc) for r in chunk]
            for request, result in zip(chunk, results, strict=True):
                await self._created(request, result)

    def _create_requests(self, actions: list[CreateOrder]) -> list[CreateOrderRequest]:
        requests = []
        for action in actions:
            requests.append(
                CreateOrderRequest(
                    ticker=action.ticker,
                    side=action.side,
                    price=action.price,
                    count=action.size,
                    client_order_id=action.client_order_id,
                    time_in_force="immediate_or_cancel"
                    if action.immediate_or_cancel
                    else "good_till_canceled",
                    post_only=action.post_only and not action.immediate_or_cancel,
                    reduce_only=action.reduce_only,
                    self_trade_prevention_type=self.self_trade_prevention,
                    order_group_id=self.order_group_id,
                    cancel_order_on_pause=self.cancel_order_on_pause or None,
                )
            )
        return requests

    async def _created(self, request: CreateOrderRequest, result: OrderPlaced) -> None:
        record = self._orders[request.client_order_id]
        if isinstance(result.error, OutcomeUnknownError):
            logger.warning(
                "create %s outcome unknown; will reconcile: %s", request.client_order_id, result.error
            )
            self._unknown[request.client_order_id] = request.ticker
            if self._settler is None or self._settler.done():
                self._settler = asyncio.create_task(
                    self._settle_unknown_later(), name="kalshi-settle-unknown"
                )
            return
        if result.error is not None:
            self._finished(record)
            self._deferred_cancels.discard(record.client_order_id)
            code = result.error.code or type(result.error).__name__
            self._reject(record.client_order_id, record.ticker, code, result.error.message, "create")
            return
        self._accepted(record, result.order_id, result.remaining, result.filled)

    def _accepted(self, record: _Order, order_id: str, remaining: Count, filled: Count = 0) -> None:
        ctx = self._require_ctx()
        if record.order_id == order_id:
            return  # already accepted (WebSocket and REST both told us)
        record.order_id = order_id
        self._by_order_id[order_id] = record.client_order_id
        self._unknown.pop(record.client_order_id, None)
        if remaining > 0:
            self.rest.presign_order(order_id)  # its next amend or decrease goes out without signing
        self._publish(
            OrderAccepted(
                ts_ns=ctx.clock.now_ns(),
                client_order_id=record.client_order_id,
                ticker=record.ticker,
                order_id=order_id,
                remaining=remaining,
                filled=filled,  # the venue's count: fills it already took out of `remaining`
            )
        )
        if remaining <= 0:
            if filled == 0 and record.filled == 0:
                self._closed(record, "not resting")
            self._finished(record)
        elif record.client_order_id in self._deferred_cancels:
            self._deferred_cancels.discard(record.client_order_id)
            self._queue.append(CancelOrder(client_order_id=record.client_order_id, ticker=record.ticker))
            self._wake.set()

    async def _sweep(self, order_id: str, ticker: str) -> None:
        """Cancel an order the runtime counts as finished; not resting is the expected answer."""
        try:
            (result,) = await self.rest.batch_cancel_orders([(order_id, ticker)])
        except KalshiError as exc:
            logger.warning("cancelling order %s after its last fill failed: %s", order_id, exc)
            return
        if result.error is None:
            logger.warning("order %s still rested after fills covered its size: cancelled", order_id)

    async def _amend(
        self,
        action: AmendOrder,
        started: Awaitable[OrderAmendedResult] | None = None,
        started_record: _Order | None = None,
    ) -> None:
        """Amend one order; ``started`` is the answer to the amend already written for
        ``started_record`` (`_begin`)."""
        record = started_record if started is not None else self._orders.get(action.client_order_id)
        if record is None or record.order_id is None or (started is None and not record.live):
            self._reject(
                action.client_order_id, action.ticker, "unknown_order", "no such live order", "amend"
            )
            return
        record.owned = True
        try:
            if started is not None:
                result = await started
            else:
                result = await self.rest.amend_order(record.order_id, **_amend_terms(record, action))
        except (ServerError, TransportError) as exc:
            await self._settle_amend(record, action, exc)
            return
        except KalshiError as exc:
            self._reject(action.client_order_id, action.ticker, exc.code or "error", exc.message, "amend")
            return
        remaining = action.size if result.remaining is None else result.remaining
        # An amend answer's fill_count may count only what the amend itself crossed (API.md does not
        # say), so it is not passed on as the order's filled total; the venue audit covers the rest.
        self._amended(record, action, result.order_id or record.order_id, remaining)

    def _renamed_record(self, client_order_id: str) -> _Order | None:
        """The order an amend renamed away from ``client_order_id`` (a cancel queued before the
        amend's answer still names the old id)."""
        current = self._renamed.get(client_order_id)
        seen = 0
        while current is not None and current not in self._orders and seen < 100:
            current = self._renamed.get(current)
            seen += 1
        return None if current is None else self._orders.get(current)

    def _amended(
        self, record: _Order, action: AmendOrder, order_id: str, remaining: Count, filled: Count | None = None
    ) -> None:
        ctx = self._require_ctx()
        del self._orders[record.client_order_id]
        self._renamed[record.client_order_id] = action.new_client_order_id
        if len(self._renamed) > _RENAMES_KEPT:
            del self._renamed[next(iter(self._renamed))]
        record.client_order_id = action.new_client_order_id
        record.price = action.price
        record.remaining = remaining
        record.resized = True
        if record.order_id != order_id:
            if record.order_id is not None:
                self.rest.forget_order(record.order_id)
            self.rest.presign_order(order_id)
        record.order_id = order_id
        self._orders[record.client_order_id] = record
        self._by_order_id[order_id] = record.client_order_id
        self._publish(
            OrderAmended(
                ts_ns=ctx.clock.now_ns(),
                client_order_id=action.client_order_id,
                ticker=action.ticker,
                new_client_order_id=action.new_client_order_id,
                price=action.price,
                remaining=remaining,
                filled=filled,
            )
        )

    async def _settle_amend(self, record: _Order, action: AmendOrder, error: KalshiError) -> None:
        """An amend's outcome is unknown: read the order to see which version rests."""
        assert record.order_id is not None
        try:
            order = await self.rest.get_order(record.order_id)
        except KalshiError as exc:
            self._reject(action.client_order_id, action.ticker, "amend_unknown", f"{error}; {exc}", "amend")
            return
        if order.client_order_id == action.new_client_order_id:
            self._amended(record, action, order.order_id, order.remaining)
        elif order.status != "resting":
            self._closed(record, f"not resting ({order.status})")
        else:
            self._reject(action.client_order_id, action.ticker, error.code or "error", str(error), "amend")

    async def _decrease(self, action: DecreaseOrder) -> None:
        ctx = self._require_ctx()
        record = self._orders.get(action.client_order_id)
        if record is None or not record.live or record.order_id is None:
            self._reject(
                action.client_order_id, action.ticker, "unknown_order", "no such live order", "decrease"
            )
            return
        record.owned = True
        try:
            result = await self.rest.decrease_order(
                record.order_id, reduce_to=action.size, ticker=action.ticker
            )
        except KalshiError as exc:
            self._reject(action.client_order_id, action.ticker, exc.code or "error", exc.message, "decrease")
            return
        record.remaining = result.remaining
        record.resized = True
        self._publish(
            OrderDecreased(
                ts_ns=ctx.clock.now_ns(),
                client_order_id=record.client_order_id,
                ticker=record.ticker,
                remaining=result.remaining,
            )
        )
        if result.remaining <= 0:
            self._finished(record)

    # --- WebSocket account channels -----------------------------------------------------------

    def _on_frame(self, frame: Frame, received_ns: int) -> None:
        try:
            if frame.type == "fill":
                self._fill(parsing.fill(frame.msg, received_ns))
            elif frame.type == "user_order":
                self._user_order(parsing.user_order(frame.msg))
            elif frame.type == "market_position":
                event = parsing.market_position(frame.msg, received_ns)
                if event.ticker in self._markets:
                    self._publish(event)
            elif frame.type == "order_group_updates":
                self._group_update(parsing.order_group_update(frame.msg))
        except MalformedMessageError as exc:
            self.malformed += 1
            self._repeats.log(("malformed", frame.type), "malformed Kalshi %s frame dropped: %s", frame.type, exc)

    def _fill(self, fill: OrderFilled) -> None:
        """Publish a fill once per trade_id, with the client id we know for its order."""
        if fill.trade_id in self._seen or fill.ticker not in self._markets:
            return
        self._mark_seen(fill.trade_id)
        cid = self._by_order_id.get(fill.order_id) or fill.client_order_id
        record = self._orders.get(cid)
        if record is not None:
            record.filled += fill.count
            record.remaining = max(0, record.remaining - fill.count)
            if record.remaining == 0 and record.live:
                self._finished(record)
                if record.resized and record.order_id:
                    # 0 may be wrong after an amend or decrease (a fill from before it counted against
                    # the new size): the runtime now thinks the order is done, so make sure it is.
                    self._start(self._sweep(record.order_id, record.ticker))
        if cid != fill.client_order_id:
            fill = OrderFilled(
                ts_ns=fill.ts_ns,
                client_order_id=cid,
                ticker=fill.ticker,
                order_id=fill.order_id,
                trade_id=fill.trade_id,
                side=fill.side,
                price=fill.price,
                count=fill.count,
                fee=fill.fee,
                is_taker=fill.is_taker,
            )
        self._last_fill_ns = max(self._last_fill_ns, fill.ts_ns)
        self._publish(fill)

    def _mark_seen(self, trade_id: str) -> None:
        self._seen.add(trade_id)
        self._seen_order.append(trade_id)
        if len(self._seen_order) > _SEEN_TRADES:
            self._seen.discard(self._seen_order.popleft())

    def _user_order(self, order: Order) -> None:
        cid = self._by_order_id.get(order.order_id) or order.client_order_id
        record = self._orders.get(cid)
        if record is None:
            return
        if record.order_id is None:
            # Seen on the WebSocket before the REST answer, or after an unknown outcome.
            if order.status in ("resting", "executed"):
                self._accepted(
                    record, order.order_id, order.remaining if order.is_resting else 0, order.filled
                )
            return
        if order.status == "canceled" and record.live:
            self._closed(record, "canceled" if record.cancel_requested else "canceled by the venue")
        elif order.status == "executed":
            self._finished(record)

    def _group_update(self, update: parsing.OrderGroupUpdate) -> None:
        if update.order_group_id != self.order_group_id or update.event_type != "triggered":
            return
        ctx = self._require_ctx()
        self.group_triggered = True
        self._publish(
            OrderGroupTriggered(
                ts_ns=ctx.clock.now_ns(),
                order_group_id=update.order_group_id,
                detail=(
                    f"Kalshi order group {update.order_group_id} triggered: more than "
                    f"{(self.contracts_limit or 0) / 100:g} contracts filled within 15 s; "
                    "its resting orders were cancelled"
                ),
            )
        )

    # --- reconciliation ---------------------------------------------------------------------

    async def reconcile(self) -> None:
        """REST truth after a reconnect: missed fills, vanished orders, positions."""
        ctx = self._require_ctx()
        # Fills since the last one seen (or since start): a disconnect may have lasted any time.
        since_s = max(self._last_fill_ns // 1_000_000_000, self._started_s) - _FILL_SLACK_S
        for fill in await self._read_fills(min_ts=since_s):
            self._publish(fill)
        # Only orders that stayed as they were while the venue was read can be judged by the read:
        # an amend in flight or answered meanwhile may have moved the order to a new id.
        settled = {
            id(r): r.order_id
            for r in self._orders.values()
            if r.live and r.order_id and id(r) not in self._order_busy
        }
        resting = {
            o.order_id: o for o in await self.rest.all_orders(status="resting") if o.ticker in self._markets
        }
        await self._settle_unknown()
        for record in list(self._orders.values()):
            if (
                record.live
                and record.order_id
                and record.order_id not in resting
                and settled.get(id(record)) == record.order_id
                and id(record) not in self._order_busy
            ):
                self._closed(record, "not resting after reconnect")
        venue_positions = {p.ticker: p.position for p in await self.rest.all_positions()}
        for ticker in sorted(self._markets):
            self._publish(
                PositionReported(
                    ts_ns=ctx.clock.now_ns(), ticker=ticker, position=venue_positions.get(ticker, 0)
                )
            )

    async def _settle_unknown(self) -> None:
        """Read orders to settle creates whose outcome is unknown: accepted, or rejected as not placed."""
        for cid, ticker in list(self._unknown.items()):
            found = await self.rest.find_orders(ticker, [cid])
            record = self._orders.get(cid)
            if record is None or cid not in self._unknown:
                continue
            if cid in found:
                order = found[cid]
                self._accepted(
                    record, order.order_id, order.remaining if order.is_resting else 0, order.filled
                )
            else:
                self._unknown.pop(cid, None)
                self._finished(record)
                self._reject(cid, ticker, "not_placed", "create outcome settled: not on the venue", "create")

    async def _settle_unknown_later(self) -> None:
        """Retry `_settle_unknown` with backoff until nothing is unknown (reads may fail for a while)."""
        delay = 0.5
        while self._unknown:
            await asyncio.sleep(delay)
            try:
                await self._settle_unknown()
            except KalshiError as exc:
                self._repeats.log(
                    ("settle retry", type(exc)),
                    "settling unknown create outcomes failed (%s); retrying in %.1fs", exc, delay,
                )
            delay = min(delay * 2, 30.0)

    async def _read_fills(self, *, min_ts: int) -> list[OrderFilled]:
        """REST fills since ``min_ts`` (Unix s) in our markets not seen yet, oldest first, marked seen."""
        ctx = self._require_ctx()
        fills: list[Fill] = [f for f in await self.rest.all_fills(min_ts=min_ts) if f.ticker in self._markets]
        fills.sort(key=lambda f: f.ts_ns or 0)
        await self._learn_client_ids({f.order_id for f in fills if f.trade_id not in self._seen})
        out: list[OrderFilled] = []
        for item in fills:
            if item.trade_id in self._seen:
                continue
            self._mark_seen(item.trade_id)
            cid = self._by_order_id.get(item.order_id) or item.client_order_id
            record = self._orders.get(cid)
            if record is not None:
                record.filled += item.count
            self._last_fill_ns = max(self._last_fill_ns, item.ts_ns or 0)
            out.append(parsing.fill_from_rest(item, cid, item.ts_ns or ctx.clock.now_ns()))
        return out

    async def _learn_client_ids(self, order_ids: set[str]) -> None:
        """REST fills carry no client id: read the orders we do not know yet (a bounded number)."""
        unknown = sorted(oid for oid in order_ids if oid not in self._by_order_id)
        if len(unknown) > _MAX_ORDER_LOOKUPS:
            self._repeats.log(
                "fills of unknown orders",
                "%d fills of unknown orders; reading the first %d", len(unknown), _MAX_ORDER_LOOKUPS,
            )
        for order_id in unknown[:_MAX_ORDER_LOOKUPS]:
            try:
                order = await self.rest.get_order(order_id)
            except KalshiError as exc:
                self._repeats.log(
                    ("fill order unreadable", type(exc)), "order %s of a fill unreadable: %s", order_id, exc
                )
                continue
            if order.client_order_id:
                self._by_order_id[order_id] = order.client_order_id

    async def _owned_resting(self) -> list[Order]:
        orders = await self.rest.all_orders(status="resting")
        return [
            o
            for o in orders
            if o.ticker in self._markets
            and o.is_resting
            and (
                (self.order_group_id is not None and o.order_group_id == self.order_group_id)
                or self._is_owned(o)
            )
        ]

    def _is_owned(self, order: Order) -> bool:
        cid = self._by_order_id.get(order.order_id) or order.client_order_id
        record = self._orders.get(cid)
        return (record is not None and record.owned) or cid in self._unknown

    def _remember(self, order: Order, *, owned: bool) -> None:
        record = _Order(
            order.client_order_id,
            order.ticker,
            order.side,
            order.price,
            order.remaining,
            filled=order.filled,
            order_id=order.order_id,
            owned=owned,
        )
        self._orders[order.client_order_id] = record
        self._by_order_id[order.order_id] = order.client_order_id
        if order.remaining > 0:
            self.rest.presign_order(order.order_id)

    # --- publishing -------------------------------------------------------------------------

    def _closed(self, record: _Order, reason: str) -> None:
        if not record.live:
            return
        self._finished(record)
        ctx = self._require_ctx()
        self._publish(
            OrderCanceled(
                ts_ns=ctx.clock.now_ns(),
                client_order_id=record.client_order_id,
                ticker=record.ticker,
                reason=reason,
            )
        )

    def _finished(self, record: _Order) -> None:
        """The order no longer rests: stop keeping amend/decrease signatures ready for it."""
        record.live = False
        if record.order_id is not None:
            self.rest.forget_order(record.order_id)

    def _reject(self, client_order_id: str, ticker: str, code: str, message: str, action: str) -> None:
        ctx = self._require_ctx()
        self._publish(
            OrderRejected(
                ts_ns=ctx.clock.now_ns(),
                client_order_id=client_order_id,
                ticker=ticker,
                code=code,
                message=message,
                action=action,
            )
        )

    def _publish(self, event: Event) -> None:
        self._require_ctx().publish(event)

    def _require_ctx(self) -> FeedContext:
        if self._ctx is None:
            raise RuntimeError("KalshiExecutor.start has not run")
        return self._ctx


def _amend_terms(record: _Order, action: AmendOrder) -> dict[str, Any]:
    """The amend request's terms (Kalshi's ``count`` is the new total: filled + desired remaining)."""
    return {
        "ticker": action.ticker,
        "side": action.side,
        "price": action.price,
        "total_count": record.filled + action.size,
        "client_order_id": action.client_order_id,
        "updated_client_order_id": action.new_client_order_id,
    }
