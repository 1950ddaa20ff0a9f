"""The simulated exchange: accounts, markets, matching, order groups, lifecycle and synthetic traders.

`Exchange` is the single object the server drives. It is synchronous and single-threaded: call it from
one thread (or one event loop). Every mutating call first catches up with the clock (`advance`), so
expirations, lifecycle transitions and synthetic trading happen "between" requests exactly as if time
had run; a server should additionally call `advance()` periodically (e.g. every 50-100 ms) so the
market moves when no request arrives.

Outgoing events: `subscribe(callback)`; the callback receives the list of `SimEvent` produced by one
engine operation, in order, after the operation completed (so the engine's state already reflects
them). Keep callbacks cheap (enqueue and return); they must not call back into the engine.

Errors: every rejected request raises `ExchangeError` (http_status, code, message, details) with
Kalshi's codes: ``insufficient_balance``, ``invalid_price``, ``invalid_order`` (details
``post only cross``), ``order_already_exists`` (409), ``not_found`` (404), ``bad_request``,
``market_closed``, ``trading_is_paused``, ``order_group_triggered``.

Money (the simulator's own units and fee rules, `mmframe_sim.money`/`mmframe_sim.fees`): price units
(1/10,000 $) for prices and trade fees, micros (1/1,000,000 $) for costs, PnL and averages, count
units (1/100 contract), times in Unix ns (request and wire fields in seconds are named ``*_s``). Fee
rounding (API.md §9): each fill's fee is the exact formula rounded UP to $0.0001 (that is the reported
``fee_cost``); each fill's cash change (revenue - fee) is then floored to the cent, the shortfall is
kept as a per-order rounding accumulator and a whole cent is refunded whenever it reaches $0.01 -- so
cash balances stay whole cents like a normal Kalshi account.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import random
import re
from collections.abc import Callable, Iterable, Sequence

from mmframe.api import NANOS_PER_SECOND, Clock
from mmframe_sim.accounts import Account, Accounts, lock_for
from mmframe_sim.fees import FeeType
from mmframe_sim.matching import Book, Level, PriceGrid, leg_of, leg_price, ranges_for_structure
from mmframe_sim.model import (
    MARKET_STATUS_FILTERS,
    AmendRequest,
    BalanceView,
    BookCleared,
    BookLevelChanged,
    CancelResult,
    EventFeeChanged,
    EventSpec,
    ExchangeError,
    ExchangeStatusChanged,
    Fill,
    FillExecuted,
    MarketLifecycleChanged,
    MarketSpec,
    MarketState,
    MarketStatus,
    Order,
    OrderbookView,
    OrderGroupUpdated,
    OrderGroupView,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OrderUpdated,
    OrderView,
    PositionUpdated,
    PositionView,
    SelfTradePrevention,
    SeriesSpec,
    Settlement,
    Side,
    SimEvent,
    TickerChanged,
    TimeInForce,
    Trade,
    TradeExecuted,
)
from mmframe_sim.money import (
    MICROS_PER_DOLLAR,
    ONE,
    Count,
    Price,
    format_price,
    per_contract_micros,
    price_micros,
)
from mmframe_sim.order_groups import OrderGroup, OrderGroups, check_limit
from mmframe_sim.participants import ParticipantConfig, Participants
from mmframe_sim.truth import TradeTag, TruthLog

__all__ = [
    "MARKET_STATUS_FILTERS",
    "AmendRequest",
    "BalanceView",
    "BookCleared",
    "BookLevelChanged",
    "CancelResult",
    "EventFeeChanged",
    "EventSpec",
    "Exchange",
    "ExchangeError",
    "ExchangeStatusChanged",
    "Fill",
    "FillExecuted",
    "MarketLifecycleChanged",
    "MarketSpec",
    "MarketState",
    "MarketStatus",
    "OrderGroupUpdated",
    "OrderGroupView",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "OrderUpdated",
    "OrderView",
    "OrderbookView",
    "ParticipantConfig",
    "PositionUpdated",
    "PositionView",
    "SelfTradePrevention",
    "SeriesSpec",
    "Settlement",
    "Side",
    "SimEvent",
    "TickerChanged",
    "TimeInForce",
    "Trade",
    "TradeExecuted",
]

EventCallback = Callable[[Sequence[SimEvent]], None]

DEFAULT_STARTING_BALANCE: Price = 100_000 * 10_000
"""What `open_account` credits by default: $100,000."""

CLIENT_ORDER_ID_RETENTION_NS = 600 * NANOS_PER_SECOND
"""How long a finished order's client_order_id stays taken (Kalshi: "live and recent" orders)."""

_CLIENT_ORDER_ID = re.compile(r"[\-\w:+=/]{1,64}")
_MAX_COUNT: Count = 1_000_000 * 100 * 100
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


class _Market:
    """Engine-private state of one market."""

    __slots__ = ("book", "close_generation", "grid", "last_ticker", "series", "state")

    def __init__(self, state: MarketState, series: SeriesSpec, grid: PriceGrid) -> None:
        self.state = state
        self.series = series
        self.grid = grid
        self.book = Book()
        self.close_generation = 0
        self.last_ticker: tuple[int, ...] = ()


def _market_closed(state: MarketState) -> ExchangeError:
    return ExchangeError(
        400, "market_closed", "market is not open for trading", f"{state.ticker} is {state.status.value}"
    )


class Exchange:
    """A Kalshi-like exchange in memory.

    Build it empty and add series/events/markets, or from a scenario (`mmframe_sim.scenario.Scenario.build`).
    ``seed`` drives every random choice (fair-value paths, synthetic traders, settlement draws, ids), so the
    same seed, scenario and sequence of calls at the same clock times give the same exchange.
    """

    def __init__(self, clock: Clock, *, seed: int = 0, participants: bool | ParticipantConfig = True) -> None:
        """``participants``: True runs synthetic traders with default settings in every market,
        a `ParticipantConfig` tunes them, False disables them (unit and protocol tests)."""
        self._clock = clock
        self._seed = seed
        self._rng = random.Random(seed)
        self._ids = random.Random(seed ^ 0x5EED_1D5)
        self._now = clock.now_ns()
        self._seq = 0
        self._timers: list[tuple[int, int, Callable[[int], None]]] = []
        self._subscribers: list[EventCallback] = []
        self._pending: list[SimEvent] = []
        self._touched: set[str] = set()
        self._series: dict[str, SeriesSpec] = {}
        self._events: dict[str, EventSpec] = {}
        self._fee_overrides: dict[str, tuple[FeeType | None, int | None]] = {}
        self._markets: dict[str, _Market] = {}
        self._fair: dict[str, float] = {}
        self.truth = TruthLog()
        """Ground truth for scoring: fair value over time and every trade's counterparties."""
        self._orders: dict[str, Order] = {}
        self._trades: list[Trade] = []
        self._accounts = Accounts()
        self._groups = OrderGroups()
        self._trading_active = True
        self._exchange_active = True
        self._rejects: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
        """Refused creates and amends: (user, action, code, details) -> how many."""
        config = participants if isinstance(participants, ParticipantConfig) else ParticipantConfig()
        self._participants: Participants | None = (
            Participants(self, config, random.Random(seed ^ 0x7EAD)) if participants is not False else None
        )

    # --- events -------------------------------------------------------------------------------------

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(events)`` after every operation that produced events; returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit_level_changed(self, order: Order, level: Level, delta: Count, now: int) -> None:
        """A book level changed by ``delta`` because of ``order`` (whose owner the WS delta names)."""
        self._emit(
            BookLevelChanged(
                ts_ns=now,
                ticker=order.ticker,
                leg=leg_of(order.side),
                price=level.price,
                delta=delta,
                size=level.size,
                user_id=order.user_id,
                client_order_id=order.client_order_id,
                subaccount=order.subaccount,
            )
        )

    def _emit(self, event: SimEvent) -> None:
        self._pending.append(event)

    def _flush(self) -> None:
        for ticker in self._touched:
            self._update_ticker(self._markets[ticker])
        self._touched.clear()
        if not self._pending:
            return
        events, self._pending = self._pending, []
        for callback in list(self._subscribers):
            callback(events)

    # --- time -----------------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    def now_ns(self) -> int:
        """The exchange's current time (the clock's, never behind what was already processed)."""
        return max(self._now, self._clock.now_ns())

    def advance(self, now_ns: int | None = None) -> None:
        """Run everything due up to ``now_ns`` (default: the clock's now) in time order: market
        opens/closes/determinations/settlements, order expirations, fair-value moves and synthetic
        trades. Never goes backwards; a time at or before the last one is a no-op."""
        try:
            self._run_until(self._clock.now_ns() if now_ns is None else now_ns)
        finally:
            self._flush()

    def _run_until(self, until_ns: int) -> None:
        timers = self._timers
        while timers and timers[0][0] <= until_ns:
            at, _, fn = heapq.heappop(timers)
            if at > self._now:
                self._now = at
            fn(self._now)
        if until_ns > self._now:
            self._now = until_ns

    def _catch_up(self) -> int:
        self._run_until(self._clock.now_ns())
        return self._now

    def schedule(self, at_ns: int, fn: Callable[[int], None]) -> None:
        """Run ``fn(now)`` once the exchange time reaches ``at_ns`` (``fn`` may use the in-loop
        operations below)."""
        self._seq += 1
        heapq.heappush(self._timers, (at_ns, self._seq, fn))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_id(self) -> str:
        """A random (seeded) version-4 UUID string."""
        n = (self._ids.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # --- listing ------------------------------------------------------------------------------------------

    def add_series(self, spec: SeriesSpec) -> None:
        """List a series (its fee type applies to all its markets)."""
        if spec.ticker in self._series:
            raise ValueError(f"series {spec.ticker} already listed")
        self._series[spec.ticker] = spec

    def add_event(self, spec: EventSpec) -> None:
        """List an event of an existing series."""
        if spec.series_ticker not in self._series:
            raise ValueError(f"event {spec.event_ticker}: unknown series {spec.series_ticker}")
        if spec.event_ticker in self._events:
            raise ValueError(f"event {spec.event_ticker} already listed")
        self._events[spec.event_ticker] = spec

    def add_market(self, spec: MarketSpec) -> MarketState:
        """List a market of an existing event. It is ``initialized`` until ``open_ts_ns`` then
        ``active``; ``close_ts_ns`` closes it (0 = never). Emits ``created``."""
        event = self._events.get(spec.event_ticker)
        if event is None:
            raise ValueError(f"market {spec.ticker}: unknown event {spec.event_ticker}")
        if spec.ticker in self._markets:
            raise ValueError(f"market {spec.ticker} already listed")
        if not 0.0 < spec.initial_probability < 1.0:
            raise ValueError(f"market {spec.ticker}: initial_probability must be strictly between 0 and 1")
        ranges = spec.price_ranges or ranges_for_structure(spec.price_level_structure)
        grid = PriceGrid(ranges)
        now = self._catch_up()
        status = MarketStatus.ACTIVE if spec.open_ts_ns <= now else MarketStatus.INITIALIZED
        state = MarketState(
            spec=spec,
            series_ticker=event.series_ticker,
            status=status,
            open_ts_ns=spec.open_ts_ns or now,
            close_ts_ns=spec.close_ts_ns,
            price_level_structure=spec.price_level_structure,
            price_ranges=tuple(ranges),
            created_ns=now,
        )
        market = _Market(state, self._fee_terms(spec.event_ticker), grid)
        self._markets[spec.ticker] = market
        self.set_fair_in_loop(spec.ticker, spec.initial_probability)
        if status is MarketStatus.INITIALIZED:
            self.schedule(spec.open_ts_ns, lambda t: self._open(market))
        self._schedule_close(market)
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now,
                ticker=spec.ticker,
                event_type="created",
                fields={
                    "open_ts": state.open_ts_ns // NANOS_PER_SECOND,
                    "close_ts": state.close_ts_ns // NANOS_PER_SECOND,
                },
            )
        )
        if self._participants is not None:
            self._participants.attach(spec.ticker)
        self._flush()
        return state

    def series(self, series_ticker: str) -> SeriesSpec:
        """One series (404 if unknown)."""
        spec = self._series.get(series_ticker)
        if spec is None:
            raise ExchangeError(404, "not_found", "series not found", series_ticker)
        return spec

    def all_series(self) -> list[SeriesSpec]:
        return list(self._series.values())

    def event(self, event_ticker: str) -> EventSpec:
        """One event (404 if unknown)."""
        spec = self._events.get(event_ticker)
        if spec is None:
            raise ExchangeError(404, "not_found", "event not found", event_ticker)
        return spec

    def _fee_terms(self, event_ticker: str) -> SeriesSpec:
        """The series of ``event_ticker`` with the event's fee override applied: what its markets
        charge (``_Market.series`` holds it; fees are read from there at every fill and lock)."""
        series = self._series[self._events[event_ticker].series_ticker]
        fee_type, multiplier_bps = self._fee_overrides.get(event_ticker, (None, None))
        if fee_type is None and multiplier_bps is None:
            return series
        return dataclasses.replace(
            series,
            fee_type=series.fee_type if fee_type is None else fee_type,
            fee_multiplier_bps=series.fee_multiplier_bps if multiplier_bps is None else multiplier_bps,
        )

    def event_fee_override(self, event_ticker: str) -> tuple[FeeType | None, int | None]:
        """An event's fee override (fee type, multiplier bps); None where not overridden."""
        self.event(event_ticker)
        return self._fee_overrides.get(event_ticker, (None, None))

    def set_event_fee(
        self, event_ticker: str, fee_type: FeeType | None, multiplier_bps: int | None
    ) -> None:
        """Set (or, with both None, clear) an event's fee override, as Kalshi does while markets trade:
        fills from now on pay the new terms, resting orders' collateral is recomputed with them, and
        ``event_fee_update`` goes out on ``market_lifecycle_v2``."""
        self.event(event_ticker)
        if multiplier_bps is not None and multiplier_bps < 0:
            raise ExchangeError(400, "bad_request", "fee multiplier must not be negative", str(multiplier_bps))
        now = self._catch_up()
        if fee_type is None and multiplier_bps is None:
            self._fee_overrides.pop(event_ticker, None)
        else:
            self._fee_overrides[event_ticker] = (fee_type, multiplier_bps)
        terms = self._fee_terms(event_ticker)
        for market in self._markets.values():
            if market.state.event_ticker != event_ticker:
                continue
            market.series = terms
            for acct in self._accounts.by_user.values():
                for order in acct.resting.values():
                    if order.ticker == market.state.ticker:
                        self._accounts.relock(acct, order, terms.fee_multiplier_bps)
        self._emit(
            EventFeeChanged(
                ts_ns=now,
                event_ticker=event_ticker,
                fee_type_override=fee_type,
                fee_multiplier_override_bps=multiplier_bps,
            )
        )
        self._flush()

    def events(self, series_ticker: str | None = None) -> list[EventSpec]:
        return [e for e in self._events.values() if series_ticker is None or e.series_ticker == series_ticker]

    def _market(self, ticker: str) -> _Market:
        market = self._markets.get(ticker)
        if market is None:
            raise ExchangeError(404, "not_found", "market not found", ticker)
        return market

    def market(self, ticker: str) -> MarketState:
        """One market (404 ``not_found`` if unknown)."""
        self.advance()
        return self._market(ticker).state

    def markets(
        self,
        *,
        tickers: Iterable[str] | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        min_close_ts_s: int | None = None,
        max_close_ts_s: int | None = None,
    ) -> list[MarketState]:
        """Markets in listing order, filtered. ``status`` is a GET /markets filter value
        (unopened|open|paused|closed|settled) or a raw `MarketStatus` value."""
        self.advance()
        wanted: tuple[MarketStatus, ...] | None = None
        if status is not None:
            wanted = MARKET_STATUS_FILTERS.get(status)
            if wanted is None:
                try:
                    wanted = (MarketStatus(status),)
                except ValueError:
                    raise ExchangeError(400, "bad_request", "invalid status filter", status) from None
        pool = (
            [self._markets[t] for t in tickers if t in self._markets]
            if tickers is not None
            else list(self._markets.values())
        )
        out = []
        for m in pool:
            s = m.state
            if event_ticker is not None and s.event_ticker != event_ticker:
                continue
            if series_ticker is not None and s.series_ticker != series_ticker:
                continue
            if wanted is not None and s.status not in wanted:
                continue
            close_s = s.close_ts_ns // NANOS_PER_SECOND
            if min_close_ts_s is not None and close_s < min_close_ts_s:
                continue
            if max_close_ts_s is not None and close_s > max_close_ts_s:
                continue
            out.append(s)
        return out

    def orderbook(self, ticker: str, depth: int = 0) -> OrderbookView:
        """Both bid ladders, ascending, best last; ``depth`` > 0 keeps the best ``depth`` levels each."""
        self.advance()
        book = self._market(ticker).book
        return OrderbookView(ticker=ticker, yes=book.yes.ladder(depth), no=book.no.ladder(depth))

    def trades(
        self, *, ticker: str | None = None, min_ts_s: int | None = None, max_ts_s: int | None = None
    ) -> list[Trade]:
        """Public trades, newest first."""
        self.advance()
        lo = None if min_ts_s is None else min_ts_s * NANOS_PER_SECOND
        hi = None if max_ts_s is None else (max_ts_s + 1) * NANOS_PER_SECOND
        return [
            t
            for t in reversed(self._trades)
            if (ticker is None or t.ticker == ticker)
            and (lo is None or t.ts_ns >= lo)
            and (hi is None or t.ts_ns < hi)
        ]

    def exchange_status(self) -> ExchangeStatusChanged:
        """``exchange_active`` / ``trading_active`` now (the event type doubles as the status record)."""
        return ExchangeStatusChanged(
            ts_ns=self.now_ns(), exchange_active=self._exchange_active, trading_active=self._trading_active
        )

    # --- accounts ---------------------------------------------------------------------------------

    def open_account(self, user_id: str, *, balance: Price = DEFAULT_STARTING_BALANCE) -> None:
        """Create an account with ``balance`` cash (price units). Idempotent for an existing account."""
        self._accounts.open(user_id, balance, self.now_ns())

    def has_account(self, user_id: str) -> bool:
        return user_id in self._accounts.by_user

    def deposit(self, user_id: str, amount: Price) -> None:
        """Add (or with a negative amount, withdraw) cash; admin/test use."""
        self._accounts.deposit(self._accounts.get(user_id), amount)

    def balance(self, user_id: str) -> BalanceView:
        self.advance()
        marks = {t: m.state.last_price or ONE // 2 for t, m in self._markets.items()}
        return self._accounts.balance(self._accounts.get(user_id), marks)

    def positions(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        nonzero_only: bool = False,
    ) -> list[PositionView]:
        """Market positions (every market ever traded), in ticker order. ``nonzero_only`` implements
        ``count_filter=position``."""
        self.advance()
        acct = self._accounts.get(user_id)
        return [
            rec.view(user_id)
            for t, rec in sorted(acct.positions.items())
            if (ticker is None or t == ticker)
            and (event_ticker is None or rec.event_ticker == event_ticker)
            and (not nonzero_only or rec.position != 0)
            and (rec.volume or rec.resting_orders)
        ]

    def fills(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts_s: int | None = None,
        max_ts_s: int | None = None,
    ) -> list[Fill]:
        """The account's fills, newest first."""
        self.advance()
        lo = None if min_ts_s is None else min_ts_s * NANOS_PER_SECOND
        hi = None if max_ts_s is None else (max_ts_s + 1) * NANOS_PER_SECOND
        return [
            f
            for f in reversed(self._accounts.get(user_id).fills)
            if (ticker is None or f.ticker == ticker)
            and (order_id is None or f.order_id == order_id)
            and (lo is None or f.ts_ns >= lo)
            and (hi is None or f.ts_ns < hi)
        ]

    def settlements(self, user_id: str, *, ticker: str | None = None) -> list[Settlement]:
        """The account's settlements, newest first."""
        self.advance()
        return [
            s
            for s in reversed(self._accounts.get(user_id).settlements)
            if ticker is None or s.ticker == ticker
        ]

    # --- orders -------------------------------------------------------------------------------------

    def create_order(self, user_id: str, request: OrderRequest) -> OrderResult:
        """Place an order: validate, match against the opposite ladder, rest the GTC remainder.

        Raises `ExchangeError`: 404 unknown market; 400 ``market_closed`` when not active;
        ``trading_is_paused`` when the exchange is paused; ``invalid_price`` off the grid;
        ``invalid_order`` (post-only cross, reduce_only without IOC, expiration with IOC/FOK,
        expiration in the past, count <= 0, fractional count where not enabled, reduce-only that
        would increase the position); 409 ``order_already_exists`` for a live or recent
        client_order_id; ``insufficient_balance``; ``order_group_triggered`` / 404 group.
        A fill-or-kill that cannot fill completely is canceled with nothing filled (not an error).
        """
        try:
            self._catch_up()
            return self._create(user_id, request)
        except ExchangeError as exc:
            self._rejected(user_id, "create", exc)
            raise
        finally:
            self._flush()

    def create_orders(
        self, user_id: str, requests: Sequence[OrderRequest]
    ) -> list[OrderResult | ExchangeError]:
        """A batch: each item placed in order; a failure is returned in its slot, not raised."""
        out: list[OrderResult | ExchangeError] = []
        try:
            self._catch_up()
            for request in requests:
                try:
                    out.append(self._create(user_id, request))
                except ExchangeError as exc:
                    self._rejected(user_id, "create", exc)
                    out.append(exc)
        finally:
            self._flush()
        return out

    def _create(self, user_id: str, req: OrderRequest) -> OrderResult:
        now = self._now
        acct = self._accounts.get(user_id)
        market = self._market(req.ticker)
        state = market.state
        if not self._trading_active:
            raise ExchangeError(
                400, "trading_is_paused", "trading is paused", "exchange trading_active is false"
            )
        if state.status is not MarketStatus.ACTIVE:
            raise _market_closed(state)
        self._validate_count(req.count, state)
        if not market.grid.is_valid(req.price):
            raise ExchangeError(
                400, "invalid_price", "price is not on the market's tick grid", format_price(req.price)
            )
        side = req.side if type(req.side) is Side else Side(req.side)
        tif = req.time_in_force if type(req.time_in_force) is TimeInForce else TimeInForce(req.time_in_force)
        stp = req.self_trade_prevention_type
        if type(stp) is not SelfTradePrevention:
            stp = SelfTradePrevention(stp)
        if req.reduce_only and tif is not TimeInForce.IMMEDIATE_OR_CANCEL:
            raise ExchangeError(
                400, "invalid_order", "reduce_only requires immediate_or_cancel", "reduce only"
            )
        if req.expiration_time_s is not None:
            if tif is not TimeInForce.GOOD_TILL_CANCELED:
                raise ExchangeError(
                    400, "invalid_order", "expiration_time is only valid with good_till_canceled", tif.value
                )
            if req.expiration_time_s * NANOS_PER_SECOND <= now:
                raise ExchangeError(
                    400, "invalid_order", "expiration_time is in the past", str(req.expiration_time_s)
                )
        if req.post_only and tif is not TimeInForce.GOOD_TILL_CANCELED:
            raise ExchangeError(400, "invalid_order", "post_only requires good_till_canceled", tif.value)
        if req.client_order_id is not None:
            self._check_client_order_id(acct, req.client_order_id, now)
        group: OrderGroup | None = None
        if req.order_group_id is not None:
            group = self._groups.get(user_id, req.order_group_id)
            if group.triggered:
                raise ExchangeError(
                    400,
                    "order_group_triggered",
                    "order group is triggered; reset it first",
                    group.order_group_id,
                )
        if req.post_only and market.book.crosses(side, req.price):
            raise ExchangeError(400, "invalid_order", "post only order would cross", "post only cross")
        count = req.count
        rec = acct.position(req.ticker, state.event_ticker)
        if req.reduce_only:
            count = min(count, self._accounts.closable(rec, side))
            if count <= 0:
                raise ExchangeError(
                    400, "invalid_order", "reduce_only order would increase position", "reduce only"
                )

        order = Order(
            order_id=self._new_id(),
            user_id=user_id,
            ticker=req.ticker,
            event_ticker=state.event_ticker,
            side=side,
            price=req.price,
            initial_count=count,
            remaining=count,
            time_in_force=tif,
            self_trade_prevention_type=stp,
            created_ns=now,
            seq=self._next_seq(),
            client_order_id=req.client_order_id,
            expiration_time_s=req.expiration_time_s,
            post_only=req.post_only,
            reduce_only=req.reduce_only,
            cancel_order_on_pause=req.cancel_order_on_pause,
            order_group_id=req.order_group_id,
            subaccount=req.subaccount,
            last_update_ns=now,
        )
        mult = market.series.fee_multiplier_bps
        self._accounts.reserve(acct, order, mult)  # raises insufficient_balance before any change
        acct.orders[order.order_id] = order
        self._orders[order.order_id] = order
        if order.client_order_id is not None:
            acct.client_order_ids[order.client_order_id] = order

        if tif is TimeInForce.FILL_OR_KILL and self._fillable(market, order) < count:
            self._finish(acct, order, OrderStatus.CANCELED, now)
        else:
            stopped = self._match(market, acct, order, now)
            if order.remaining == 0:
                self._finish(acct, order, OrderStatus.EXECUTED, now)
            elif stopped or tif is not TimeInForce.GOOD_TILL_CANCELED:
                self._finish(acct, order, OrderStatus.CANCELED, now)
            else:
                self._rest(market, acct, order, group)
        snapshot = order.snapshot()
        self._emit(OrderUpdated(ts_ns=now, order=snapshot))
        return self._order_result(order, now, snapshot)

    def _validate_count(self, count: Count, state: MarketState) -> None:
        if count <= 0 or count > _MAX_COUNT:
            raise ExchangeError(400, "invalid_order", "count must be positive", f"count {count / 100:.2f}")
        if count % 100 and not state.spec.fractional_trading_enabled:
            raise ExchangeError(
                400,
                "invalid_order",
                "fractional contracts are not enabled on this market",
                f"{count / 100:.2f}",
            )

    def _check_client_order_id(self, acct: Account, client_order_id: str, now: int) -> None:
        if not _CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise ExchangeError(
                400,
                "bad_request",
                "client_order_id must be 1-64 characters of [A-Za-z0-9_:+=/-]",
                client_order_id,
            )
        old = acct.client_order_ids.get(client_order_id)
        if old is not None and (old.is_resting or now - old.finished_ns < CLIENT_ORDER_ID_RETENTION_NS):
            raise ExchangeError(409, "order_already_exists", "order with this client_order_id already exists")

    def _fillable(self, market: _Market, order: Order) -> Count:
        """What an incoming order could fill right now, honouring self-trade prevention."""
        need = order.remaining
        got = 0
        for lvl in market.book.crossing(order.side, order.price):
            for other in lvl.orders():
                if other.user_id == order.user_id:
                    if order.self_trade_prevention_type is SelfTradePrevention.TAKER_AT_CROSS:
                        return got
                    continue
                got += other.remaining
                if got >= need:
                    return got
        return got

    def _match(self, market: _Market, acct: Account, taker: Order, now: int) -> bool:
        """Trade ``taker`` against the book. True if it must stop with a remainder (self-trade
        prevention ``taker_at_cross`` or its order group triggered)."""
        book = market.book
        opposite = book.opposite(leg_of(taker.side))
        limit = ONE - leg_price(taker.side, taker.price)
        taker_is_bid = taker.side is Side.BID
        while taker.remaining > 0:
            lvl = opposite.best()
            if lvl is None or lvl.price < limit:
                return False
            maker = lvl.front()
            if maker is None:  # only stale entries: cannot happen while live > 0
                raise AssertionError(f"level {lvl.price} of {market.state.ticker} has no live order")
            if maker.user_id == taker.user_id:
                if taker.self_trade_prevention_type is SelfTradePrevention.TAKER_AT_CROSS:
                    return True
                self._cancel(acct, maker, now)
                continue
            qty = min(taker.remaining, maker.remaining)
            yes_price = ONE - lvl.price if taker_is_bid else lvl.price
            self._execute(market, taker, maker, qty, yes_price, now)
            if taker.order_group_id is not None:
                group = self._groups.by_id.get(taker.order_group_id)
                if group is not None and group.triggered:
                    return True
            if taker.status is not OrderStatus.RESTING:
                return True
        return False

    def _execute(
        self, market: _Market, taker: Order, maker: Order, qty: Count, yes_price: Price, now: int
    ) -> None:
        """One trade of ``qty`` at ``yes_price`` between an incoming and a resting order."""
        state = market.state
        ticker = state.ticker
        accounts = self._accounts
        maker_acct = accounts.by_user[maker.user_id]
        taker_acct = accounts.by_user[taker.user_id]
        fee_type = market.series.fee_type
        mult = market.series.fee_multiplier_bps

        maker.remaining -= qty
        lvl = market.book.reduce(maker, qty)
        self._emit_level_changed(maker, lvl, -qty, now)
        taker.remaining -= qty

        maker_rec = maker_acct.position(ticker, state.event_ticker)
        taker_rec = taker_acct.position(ticker, state.event_ticker)
        yes_before = max(maker_rec.position, 0) + max(taker_rec.position, 0)
        maker_fee, _ = accounts.apply_fill(
            maker_acct,
            maker,
            yes_price,
            qty,
            is_taker=False,
            fee_type=fee_type,
            multiplier_bps=mult,
            now_ns=now,
        )
        taker_fee, _ = accounts.apply_fill(
            taker_acct,
            taker,
            yes_price,
            qty,
            is_taker=True,
            fee_type=fee_type,
            multiplier_bps=mult,
            now_ns=now,
        )
        if maker_rec is taker_rec:
            raise AssertionError("self trade reached execution")
        state.open_interest += max(maker_rec.position, 0) + max(taker_rec.position, 0) - yes_before
        state.last_price = yes_price
        state.last_trade_size = qty
        state.volume += qty
        state.dollar_volume += qty * yes_price // 100
        self._touched.add(ticker)

        if maker.remaining == 0:
            self._finish(maker_acct, maker, OrderStatus.EXECUTED, now)
        else:
            accounts.relock(maker_acct, maker, mult)
        accounts.relock(taker_acct, taker, mult)

        trade_id = self._new_id()
        seq = self._next_seq()
        trade = Trade(
            trade_id=trade_id,
            ticker=ticker,
            price=yes_price,
            count=qty,
            taker_side=taker.side,
            ts_ns=now,
            seq=seq,
        )
        self._trades.append(trade)
        self.truth.record_trade(
            TradeTag(trade_id, ticker, now, yes_price, qty, taker.side, maker.user_id, taker.user_id,
                     self._fair[ticker])
        )
        self._emit(TradeExecuted(ts_ns=now, trade=trade))
        for order, acct, rec, fee, is_taker in (
            (maker, maker_acct, maker_rec, maker_fee, False),
            (taker, taker_acct, taker_rec, taker_fee, True),
        ):
            fill = Fill(
                fill_id=trade_id,
                trade_id=trade_id,
                order_id=order.order_id,
                client_order_id=order.client_order_id,
                user_id=acct.user_id,
                ticker=ticker,
                side=order.side,
                price=yes_price,
                count=qty,
                is_taker=is_taker,
                fee=fee,
                post_position=rec.position,
                ts_ns=now,
                seq=seq,
                subaccount=order.subaccount,
            )
            acct.fills.append(fill)
            self._emit(FillExecuted(ts_ns=now, fill=fill))
            self._emit(PositionUpdated(ts_ns=now, position=rec.view(acct.user_id)))
        self._emit(OrderUpdated(ts_ns=now, order=maker.snapshot()))

        for order in (maker, taker):
            if order.order_group_id is not None:
                group = self._groups.by_id.get(order.order_group_id)
                if group is not None and group.record_fill(now, qty):
                    self._trigger(group, now)

    def _rest(self, market: _Market, acct: Account, order: Order, group: OrderGroup | None) -> None:
        lvl = market.book.add(order)
        acct.resting[order.order_id] = order
        acct.position(order.ticker, order.event_ticker).resting_orders += 1
        if group is not None:
            group.orders[order.order_id] = None
        if order.expiration_time_s is not None:
            self._schedule_expiry(order)
        self._touched.add(order.ticker)
        self._emit_level_changed(order, lvl, order.remaining, self._now)

    def _schedule_expiry(self, order: Order) -> None:
        expiry = order.expiration_time_s

        def expire(now: int) -> None:
            if order.is_resting and order.expiration_time_s == expiry and order.book_entry:
                acct = self._accounts.by_user[order.user_id]
                self._cancel(acct, order, now)

        assert expiry is not None
        self.schedule(expiry * NANOS_PER_SECOND, expire)

    def _unbook(self, acct: Account, order: Order, now: int) -> Count:
        """Take a resting order out of the book (emitting the level change); returns its remainder."""
        remaining = order.remaining
        if order.book_entry:
            market = self._markets[order.ticker]
            lvl = market.book.remove(order)
            self._touched.add(order.ticker)
            if remaining:  # a fully filled order already left the level through its fills
                self._emit_level_changed(order, lvl, -remaining, now)
            acct.resting.pop(order.order_id, None)
            acct.positions[order.ticker].resting_orders -= 1
            if order.order_group_id is not None:
                group = self._groups.by_id.get(order.order_group_id)
                if group is not None:
                    group.orders.pop(order.order_id, None)
        return remaining

    def _finish(self, acct: Account, order: Order, status: OrderStatus, now: int) -> None:
        """End an order's life (executed or canceled): out of the book, collateral released."""
        if order.book_entry:
            self._unbook(acct, order, now)
        self._accounts.release(acct, order)
        if status is OrderStatus.CANCELED:
            order.remaining = 0
        order.status = status
        order.finished_ns = now
        order.last_update_ns = now

    def _cancel(self, acct: Account, order: Order, now: int) -> Count:
        """Cancel a resting order, emitting its update; returns what was canceled."""
        reduced = order.remaining
        self._finish(acct, order, OrderStatus.CANCELED, now)
        self._emit(OrderUpdated(ts_ns=now, order=order.snapshot()))
        return reduced

    @staticmethod
    def _order_result(order: Order, now: int, snapshot: OrderView | None = None) -> OrderResult:
        filled = order.filled
        avg_price = avg_fee = None
        if filled:
            own = per_contract_micros(order.taker_fill_cost + order.maker_fill_cost, filled)
            avg_price = own if order.side is Side.BID else MICROS_PER_DOLLAR - own
            avg_fee = per_contract_micros(price_micros(order.taker_fees + order.maker_fees), filled)
        return OrderResult(
            order=snapshot or order.snapshot(),
            fill_count=filled,
            remaining_count=order.remaining,
            average_fill_price=avg_price,
            average_fee_paid=avg_fee,
            ts_ns=now,
        )

    def _own_order(self, user_id: str, order_id: str) -> tuple[Account, Order]:
        acct = self._accounts.get(user_id)
        order = acct.orders.get(order_id)
        if order is None:
            raise ExchangeError(404, "not_found", "order not found", order_id)
        return acct, order

    def _cancelable(self, order: Order) -> None:
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting", f"status {order.status.value}")
        state = self._markets[order.ticker].state
        if state.status in (MarketStatus.CLOSED, MarketStatus.DETERMINED, MarketStatus.FINALIZED):
            raise _market_closed(state)

    def cancel_order(self, user_id: str, order_id: str) -> CancelResult:
        """Cancel a resting order; ``reduced_by`` = its remaining count. 404 if unknown or not yours;
        400 ``invalid_order`` if it is no longer resting (canceled/executed)."""
        try:
            now = self._catch_up()
            return self._cancel_one(user_id, order_id, now)
        finally:
            self._flush()

    def _cancel_one(self, user_id: str, order_id: str, now: int) -> CancelResult:
        acct, order = self._own_order(user_id, order_id)
        self._cancelable(order)
        reduced = self._cancel(acct, order, now)
        return CancelResult(order=order.snapshot(), reduced_by=reduced, ts_ns=now)

    def cancel_orders(
        self, user_id: str, order_ids: Sequence[str], *, all_or_nothing: bool = False
    ) -> list[CancelResult | ExchangeError]:
        """A batch cancel; errors per item. ``all_or_nothing`` (the ``strict_batch_cancel`` fault):
        an order that is not ours or no longer rests fails the whole batch with its error, and
        nothing is cancelled."""
        out: list[CancelResult | ExchangeError] = []
        try:
            now = self._catch_up()
            if all_or_nothing:
                for order_id in order_ids:
                    self._cancelable(self._own_order(user_id, order_id)[1])
            for order_id in order_ids:
                try:
                    out.append(self._cancel_one(user_id, order_id, now))
                except ExchangeError as exc:
                    out.append(exc)
        finally:
            self._flush()
        return out

    def cancel_all(self, user_id: str, *, ticker: str | None = None) -> list[CancelResult]:
        """Cancel every resting order of the account (optionally one market)."""
        try:
            now = self._catch_up()
            acct = self._accounts.get(user_id)
            out = []
            for order in list(acct.resting.values()):
                if ticker is None or order.ticker == ticker:
                    reduced = self._cancel(acct, order, now)
                    out.append(CancelResult(order=order.snapshot(), reduced_by=reduced, ts_ns=now))
            return out
        finally:
            self._flush()

    def amend_order(self, user_id: str, order_id: str, request: AmendRequest) -> OrderResult:
        """Change price and/or total count. A size decrease at the same price keeps queue priority;
        a price change or size increase re-queues (and may match). ``request.count`` below the filled
        count is ``invalid_order``; equal to it cancels the rest."""
        try:
            now = self._catch_up()
            return self._amend(user_id, order_id, request, now)
        except ExchangeError as exc:
            self._rejected(user_id, "amend", exc)
            raise
        finally:
            self._flush()

    def _rejected(self, user_id: str, action: str, exc: ExchangeError) -> None:
        self._rejects[user_id, action, exc.code, exc.details] += 1

    def reject_counts(self, user_id: str | None = None) -> list[dict[str, object]]:
        """Ground truth: refused creates and amends so far, per account, action, code and details
        (Kalshi's ``invalid_order`` + ``post only cross`` is a post-only reject), most frequent first."""
        return [
            {"user_id": user, "action": action, "code": code, "details": details, "count": count}
            for (user, action, code, details), count in self._rejects.most_common()
            if user_id is None or user == user_id
        ]

    def _amend(self, user_id: str, order_id: str, req: AmendRequest, now: int) -> OrderResult:
        acct, order = self._own_order(user_id, order_id)
        market = self._markets[order.ticker]
        state = market.state
        if req.ticker != order.ticker or Side(req.side) is not order.side:
            raise ExchangeError(400, "invalid_order", "ticker and side must match the order", order_id)
        if not self._trading_active:
            raise ExchangeError(
                400, "trading_is_paused", "trading is paused", "exchange trading_active is false"
            )
        if not order.is_resting:
            raise ExchangeError(400, "invalid_order", "order is not resting", f"status {order.status.value}")
        if state.status is not MarketStatus.ACTIVE:
            raise _market_closed(state)
        if req.client_order_id is not None and req.client_order_id != order.client_order_id:
            raise ExchangeError(
                400, "invalid_order", "client_order_id does not match the order", req.client_order_id
            )
        if not market.grid.is_valid(req.price):
            raise ExchangeError(
                400, "invalid_price", "price is not on the market's tick grid", format_price(req.price)
            )
        if req.count != order.filled:
            self._validate_count(req.count, state)
        new_remaining = req.count - order.filled
        if new_remaining < 0:
            raise ExchangeError(
                400, "invalid_order", "count is below the filled count", f"filled {order.filled / 100:.2f}"
            )
        new_coid = req.updated_client_order_id
        if new_coid is not None and new_coid != order.client_order_id:
            self._check_client_order_id(acct, new_coid, now)
        expiry = order.expiration_time_s
        if req.expiration_time_s is not None:
            expiry = req.expiration_time_s or None
            if expiry is not None and expiry * NANOS_PER_SECOND <= now:
                raise ExchangeError(400, "invalid_order", "expiration_time is in the past", str(expiry))
        repriced = req.price != order.price
        if order.post_only and repriced and market.book.crosses(order.side, req.price):
            raise ExchangeError(400, "invalid_order", "post only order would cross", "post only cross")
        mult = market.series.fee_multiplier_bps
        if repriced or new_remaining > order.remaining:
            rec = acct.position(order.ticker, order.event_ticker)
            closing = min(new_remaining, self._accounts.closable(rec, order.side) + order.closing_remaining)
            need = lock_for(order.side, req.price, new_remaining, closing, mult)
            if need - order.locked > acct.available:
                raise ExchangeError(400, "insufficient_balance", "insufficient balance")

        if new_coid is not None and new_coid != order.client_order_id:
            if order.client_order_id is not None:
                acct.client_order_ids.pop(order.client_order_id, None)
            order.client_order_id = new_coid
            acct.client_order_ids[new_coid] = order
        expiry_changed = expiry != order.expiration_time_s
        order.expiration_time_s = expiry
        order.initial_count = req.count
        order.last_update_ns = now
        if new_remaining == 0:
            self._cancel(acct, order, now)
            return self._order_result(order, now)
        if not repriced and new_remaining <= order.remaining:
            self._reduce(acct, order, order.remaining - new_remaining, now)
            if expiry_changed and expiry is not None:
                self._schedule_expiry(order)
            self._emit(OrderUpdated(ts_ns=now, order=order.snapshot()))
            return self._order_result(order, now)
        # re-queue: out of the book, new terms, match like a new arrival, rest the remainder
        self._unbook(acct, order, now)
        order.price = req.price
        order.remaining = new_remaining
        self._accounts.reserve(acct, order, mult)
        group = self._groups.by_id.get(order.order_group_id) if order.order_group_id is not None else None
        stopped = self._match(market, acct, order, now)
        if order.remaining == 0:
            self._finish(acct, order, OrderStatus.EXECUTED, now)
        elif stopped or order.status is not OrderStatus.RESTING:
            self._finish(acct, order, OrderStatus.CANCELED, now)
        else:
            self._rest(market, acct, order, group)
        self._emit(OrderUpdated(ts_ns=now, order=order.snapshot()))
        return self._order_result(order, now)

    def _reduce(self, acct: Account, order: Order, by: Count, now: int) -> None:
        if by <= 0:
            return
        order.remaining -= by
        lvl = self._markets[order.ticker].book.reduce(order, by)
        self._accounts.relock(acct, order, self._markets[order.ticker].series.fee_multiplier_bps)
        self._touched.add(order.ticker)
        order.last_update_ns = now
        self._emit_level_changed(order, lvl, -by, now)

    def decrease_order(
        self, user_id: str, order_id: str, *, reduce_by: Count | None = None, reduce_to: Count | None = None
    ) -> CancelResult:
        """Reduce the remaining count by ``reduce_by`` or to ``reduce_to`` (exactly one), keeping
        priority; reaching zero cancels."""
        try:
            now = self._catch_up()
            if (reduce_by is None) == (reduce_to is None):
                raise ExchangeError(400, "bad_request", "exactly one of reduce_by and reduce_to is required")
            acct, order = self._own_order(user_id, order_id)
            self._cancelable(order)
            if reduce_by is not None:
                if reduce_by <= 0:
                    raise ExchangeError(400, "bad_request", "reduce_by must be positive")
                by = min(reduce_by, order.remaining)
            else:
                assert reduce_to is not None
                if reduce_to < 0 or reduce_to > order.remaining:
                    raise ExchangeError(
                        400,
                        "bad_request",
                        "reduce_to must be between 0 and the remaining count",
                        f"remaining {order.remaining / 100:.2f}",
                    )
                by = order.remaining - reduce_to
            if by == order.remaining:
                reduced = self._cancel(acct, order, now)
            else:
                self._reduce(acct, order, by, now)
                reduced = by
                self._emit(OrderUpdated(ts_ns=now, order=order.snapshot()))
            return CancelResult(order=order.snapshot(), reduced_by=reduced, ts_ns=now)
        finally:
            self._flush()

    def get_order(self, user_id: str, order_id: str) -> OrderView:
        """404 unless the order exists and belongs to ``user_id``."""
        self.advance()
        return self._own_order(user_id, order_id)[1].snapshot()

    def orders(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        event_tickers: Iterable[str] | None = None,
        status: str | None = None,
        min_ts_s: int | None = None,
        max_ts_s: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
    ) -> list[OrderView]:
        """The account's orders, newest first (stable: by arrival sequence); with ``before_seq``
        only older ones, and at most ``limit`` (a page: only those are snapshotted)."""
        self.advance()
        acct = self._accounts.get(user_id)
        wanted = None
        if status is not None:
            try:
                wanted = OrderStatus(status)
            except ValueError:
                raise ExchangeError(400, "bad_request", "invalid status filter", status) from None
        events = set(event_tickers) if event_tickers is not None else None
        lo = None if min_ts_s is None else min_ts_s * NANOS_PER_SECOND
        hi = None if max_ts_s is None else (max_ts_s + 1) * NANOS_PER_SECOND
        pool = acct.resting.values() if wanted is OrderStatus.RESTING else acct.orders.values()
        chosen = [
            o
            for o in pool
            if (ticker is None or o.ticker == ticker)
            and (events is None or o.event_ticker in events)
            and (wanted is None or o.status is wanted)
            and (lo is None or o.created_ns >= lo)
            and (hi is None or o.created_ns < hi)
            and (before_seq is None or o.seq < before_seq)
        ]
        chosen.sort(key=lambda o: -o.seq)
        if limit is not None:
            del chosen[limit:]
        return [o.snapshot() for o in chosen]

    def queue_position(self, user_id: str, order_id: str) -> Count:
        """Contracts ahead of the order at its price level (0 at the front)."""
        self.advance()
        _, order = self._own_order(user_id, order_id)
        if not order.book_entry:
            return 0
        return self._markets[order.ticker].book.queue_ahead(order)

    # --- order groups ---------------------------------------------------------------------------------

    def create_order_group(self, user_id: str, contracts_limit: Count) -> OrderGroupView:
        """A new group (limit 1..1,000,000 contracts, in count units) -- emits ``created``."""
        try:
            now = self._catch_up()
            self._accounts.get(user_id)
            group = self._groups.create(self._new_id(), user_id, contracts_limit)
            self._emit_group(group, "created", now)
            return group.view(now)
        finally:
            self._flush()

    def _emit_group(self, group: OrderGroup, event_type: str, now: int) -> None:
        self._emit(
            OrderGroupUpdated(
                ts_ns=now,
                user_id=group.user_id,
                order_group_id=group.order_group_id,
                event_type=event_type,
                contracts_limit=group.contracts_limit if event_type in ("created", "limit_updated") else None,
            )
        )

    def order_groups(self, user_id: str) -> list[OrderGroupView]:
        self.advance()
        now = self._now
        return [g.view(now) for g in self._groups.of_user(user_id)]

    def order_group(self, user_id: str, order_group_id: str) -> OrderGroupView:
        self.advance()
        return self._groups.get(user_id, order_group_id).view(self._now)

    def reset_order_group(self, user_id: str, order_group_id: str) -> None:
        """Clear the trigger and the rolling counter."""
        try:
            now = self._catch_up()
            group = self._groups.get(user_id, order_group_id)
            group.reset()
            self._emit_group(group, "reset", now)
        finally:
            self._flush()

    def trigger_order_group(self, user_id: str, order_group_id: str) -> None:
        """Trigger now: cancel the group's resting orders and block new ones until reset."""
        try:
            now = self._catch_up()
            self._trigger(self._groups.get(user_id, order_group_id), now)
        finally:
            self._flush()

    def _trigger(self, group: OrderGroup, now: int) -> None:
        group.triggered = True
        self._cancel_group_orders(group, now)
        self._emit_group(group, "triggered", now)

    def _cancel_group_orders(self, group: OrderGroup, now: int) -> None:
        acct = self._accounts.by_user[group.user_id]
        for order_id in list(group.orders):
            order = acct.orders[order_id]
            if order.is_resting:
                self._cancel(acct, order, now)
        group.orders.clear()

    def set_order_group_limit(self, user_id: str, order_group_id: str, contracts_limit: Count) -> None:
        """Change the limit; a limit below the rolling 15 s filled volume triggers the group."""
        try:
            now = self._catch_up()
            group = self._groups.get(user_id, order_group_id)
            check_limit(contracts_limit)
            group.contracts_limit = contracts_limit
            self._emit_group(group, "limit_updated", now)
            if not group.triggered and contracts_limit < group.roll(now):
                self._trigger(group, now)
        finally:
            self._flush()

    def delete_order_group(self, user_id: str, order_group_id: str) -> None:
        """Cancel the group's resting orders and remove it."""
        try:
            now = self._catch_up()
            group = self._groups.get(user_id, order_group_id)
            self._cancel_group_orders(group, now)
            self._groups.delete(group)
            self._emit_group(group, "deleted", now)
        finally:
            self._flush()

    # --- lifecycle --------------------------------------------------------------------------------------

    def _open(self, market: _Market) -> None:
        if market.state.status is MarketStatus.INITIALIZED:
            market.state.status = MarketStatus.ACTIVE  # Kalshi sends no lifecycle message here

    def _schedule_close(self, market: _Market) -> None:
        market.close_generation += 1
        generation = market.close_generation
        if market.state.close_ts_ns <= 0:
            return

        def close(now: int) -> None:
            if market.close_generation == generation and market.state.status in (
                MarketStatus.ACTIVE,
                MarketStatus.INACTIVE,
                MarketStatus.INITIALIZED,
            ):
                self._close(market, now)
                self._determine(market, None, now)

        self.schedule(market.state.close_ts_ns, close)

    def _cancel_market_orders(self, market: _Market, now: int, only_on_pause: bool = False) -> None:
        ticker = market.state.ticker
        for acct in self._accounts.by_user.values():
            for order in list(acct.resting.values()):
                if order.ticker == ticker and (not only_on_pause or order.cancel_order_on_pause):
                    self._cancel(acct, order, now)

    def _close(self, market: _Market, now: int) -> None:
        self._cancel_market_orders(market, now)
        market.state.status = MarketStatus.CLOSED
        if market.state.close_ts_ns <= 0 or market.state.close_ts_ns > now:
            market.state.close_ts_ns = now
        self._touched.add(market.state.ticker)

    def _determine(self, market: _Market, result: str | None, now: int) -> None:
        state = market.state
        if result is None:
            result = "yes" if self._rng.random() < self._fair[state.ticker] else "no"
        if result not in ("yes", "no"):
            raise ExchangeError(400, "bad_request", "result must be yes or no", result)
        state.result = result
        state.settlement_value = ONE if result == "yes" else 0
        state.status = MarketStatus.DETERMINED
        state.determination_ns = now
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now,
                ticker=state.ticker,
                event_type="determined",
                fields={"result": result, "determination_ts": now // NANOS_PER_SECOND},
            )
        )
        generation = market.close_generation
        self.schedule(
            now + state.spec.settlement_timer_seconds * NANOS_PER_SECOND,
            lambda t: self._settle(market, t) if market.close_generation == generation else None,
        )

    def _settle(self, market: _Market, now: int) -> None:
        state = market.state
        if state.status is not MarketStatus.DETERMINED:
            return
        seq = self._next_seq()
        for acct, rec, _ in self._accounts.settle(state.ticker, state.result, now, seq):
            self._emit(PositionUpdated(ts_ns=now, position=rec.view(acct.user_id)))
        state.open_interest = 0
        state.status = MarketStatus.FINALIZED
        state.settled_ns = now
        self._touched.add(state.ticker)
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now,
                ticker=state.ticker,
                event_type="settled",
                fields={
                    "result": state.result,
                    "settled_ts": now // NANOS_PER_SECOND,
                    "settlement_value": format_price(state.settlement_value or 0),
                },
            )
        )

    def _update_ticker(self, market: _Market) -> None:
        state = market.state
        yes_bid, yes_bid_size, yes_ask, yes_ask_size = market.book.top()
        state.yes_bid, state.yes_bid_size, state.yes_ask, state.yes_ask_size = (
            yes_bid,
            yes_bid_size,
            yes_ask,
            yes_ask_size,
        )
        key = (
            state.last_price,
            yes_bid,
            yes_ask,
            yes_bid_size,
            yes_ask_size,
            state.volume,
            state.open_interest,
        )
        if key == market.last_ticker:
            return
        market.last_ticker = key
        self._emit(
            TickerChanged(
                ts_ns=self._now,
                ticker=state.ticker,
                last_price=state.last_price,
                yes_bid=yes_bid,
                yes_ask=yes_ask,
                yes_bid_size=yes_bid_size,
                yes_ask_size=yes_ask_size,
                last_trade_size=state.last_trade_size,
                volume=state.volume,
                open_interest=state.open_interest,
                dollar_volume=state.dollar_volume,
                dollar_open_interest=state.open_interest * (state.last_price or ONE // 2) // 100,
            )
        )

    # --- operator / fault injection / ground truth ----------------------------------------------------

    def set_trading_active(self, active: bool) -> None:
        """Pause or resume the whole exchange. Paused: create/amend rejected, cancel/decrease allowed;
        orders with ``cancel_order_on_pause`` are canceled when the pause starts."""
        self._operate(lambda: self.set_trading_in_loop(active))

    @property
    def trading_active(self) -> bool:
        return self._trading_active

    def deactivate_market(self, ticker: str) -> None:
        """Pause one market (``inactive``): cancels all its resting orders; emits ``deactivated``."""
        self._operate(lambda: self.deactivate_in_loop(ticker))

    def activate_market(self, ticker: str) -> None:
        """Resume an inactive market; emits ``activated``."""
        self._operate(lambda: self.activate_in_loop(ticker))

    def close_market(self, ticker: str) -> None:
        """Close now (early close): resting orders canceled, status ``closed``; emits
        ``close_date_updated``. `determine_market` / `settle_market` finish it."""
        self._operate(lambda: self.close_in_loop(ticker))

    def determine_market(self, ticker: str, result: str | None = None) -> None:
        """Set the result (``yes``/``no``; None draws it from the fair probability) -> ``determined``;
        settlement follows after ``settlement_timer_seconds``. Closes the market first if needed."""
        self._operate(lambda: self._determine_internal(ticker, result))

    def settle_market(self, ticker: str) -> None:
        """Pay out now (determining first if needed): $1 per winning contract to net positions,
        ``finalized``, settlement records, ``settled`` event."""
        self._operate(lambda: self.settle_in_loop(ticker))

    def _operate(self, action: Callable[[], None]) -> None:
        try:
            self._catch_up()
            action()
        finally:
            self._flush()

    def set_trading_in_loop(self, active: bool) -> None:
        """`set_trading_active` from inside the time loop."""
        now = self._now
        if active == self._trading_active:
            return
        self._trading_active = active
        if not active:
            for market in self._markets.values():
                self._cancel_market_orders(market, now, only_on_pause=True)
        self._emit(
            ExchangeStatusChanged(ts_ns=now, exchange_active=self._exchange_active, trading_active=active)
        )

    def deactivate_in_loop(self, ticker: str) -> None:
        """`deactivate_market` from inside the time loop."""
        now = self._now
        market = self._market(ticker)
        if market.state.status is not MarketStatus.ACTIVE:
            raise _market_closed(market.state)
        self._cancel_market_orders(market, now)
        market.state.status = MarketStatus.INACTIVE
        self._emit(BookCleared(ts_ns=now, ticker=ticker))
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now, ticker=ticker, event_type="deactivated", fields={"is_deactivated": True}
            )
        )

    def activate_in_loop(self, ticker: str) -> None:
        """`activate_market` from inside the time loop."""
        now = self._now
        market = self._market(ticker)
        if market.state.status is not MarketStatus.INACTIVE:
            raise ExchangeError(400, "bad_request", "market is not inactive", market.state.status.value)
        self._cancel_market_orders(market, now)  # Kalshi: reactivation cancels resting orders
        market.state.status = MarketStatus.ACTIVE
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now, ticker=ticker, event_type="activated", fields={"is_deactivated": False}
            )
        )

    def close_in_loop(self, ticker: str) -> None:
        """`close_market` from inside the time loop."""
        now = self._now
        market = self._market(ticker)
        if market.state.status not in (MarketStatus.ACTIVE, MarketStatus.INACTIVE, MarketStatus.INITIALIZED):
            raise _market_closed(market.state)
        market.close_generation += 1
        self._close(market, now)
        self._emit(
            MarketLifecycleChanged(
                ts_ns=now,
                ticker=ticker,
                event_type="close_date_updated",
                fields={"close_ts": now // NANOS_PER_SECOND},
            )
        )

    def _determine_internal(self, ticker: str, result: str | None) -> None:
        now = self._now
        market = self._market(ticker)
        if market.state.status in (MarketStatus.DETERMINED, MarketStatus.FINALIZED):
            raise ExchangeError(400, "bad_request", "market already determined", market.state.status.value)
        if result is not None and result not in ("yes", "no"):
            raise ExchangeError(400, "bad_request", "result must be yes or no", result)
        if market.state.status is not MarketStatus.CLOSED:
            market.close_generation += 1
            self._close(market, now)
        self._determine(market, result, now)

    def settle_in_loop(self, ticker: str) -> None:
        """`settle_market` from inside the time loop."""
        now = self._now
        market = self._market(ticker)
        if market.state.status is MarketStatus.FINALIZED:
            raise ExchangeError(400, "bad_request", "market already settled", ticker)
        if market.state.status is not MarketStatus.DETERMINED:
            self._determine_internal(ticker, None)
        self._settle(market, now)

    def set_close_time(self, ticker: str, close_ts_ns: int) -> None:
        """Move close_time (emits ``close_date_updated``); reopens a closed, undetermined market if in
        the future."""
        try:
            now = self._catch_up()
            market = self._market(ticker)
            state = market.state
            if state.status in (MarketStatus.DETERMINED, MarketStatus.FINALIZED):
                raise _market_closed(state)
            state.close_ts_ns = close_ts_ns
            if state.status is MarketStatus.CLOSED and (close_ts_ns <= 0 or close_ts_ns > now):
                state.status = MarketStatus.ACTIVE
            self._schedule_close(market)
            self._emit(
                MarketLifecycleChanged(
                    ts_ns=now,
                    ticker=ticker,
                    event_type="close_date_updated",
                    fields={"close_ts": close_ts_ns // NANOS_PER_SECOND},
                )
            )
        finally:
            self._flush()

    def resting_orders(self, ticker: str | None = None) -> list[OrderView]:
        """Ground truth: every resting order of every account (synthetic traders included)."""
        self.advance()
        out = [
            o.snapshot()
            for acct in self._accounts.by_user.values()
            for o in acct.resting.values()
            if ticker is None or o.ticker == ticker
        ]
        out.sort(key=lambda o: o.seq)
        return out

    def all_positions(self, ticker: str | None = None) -> list[PositionView]:
        """Ground truth: every account's positions."""
        self.advance()
        return [
            rec.view(acct.user_id)
            for acct in self._accounts.by_user.values()
            for t, rec in sorted(acct.positions.items())
            if (ticker is None or t == ticker) and (rec.volume or rec.position)
        ]

    def fair_values(self) -> dict[str, float]:
        """Ground truth: the hidden fair YES probability of each market."""
        self.advance()
        return dict(self._fair)

    def set_fair_value(self, ticker: str, probability: float) -> None:
        """Move a market's hidden fair probability (scripted scenarios, tests)."""
        self._market(ticker)
        if not 0.0 < probability < 1.0:
            raise ExchangeError(
                400, "bad_request", "probability must be strictly between 0 and 1", str(probability)
            )
        self.set_fair_in_loop(ticker, probability)

    def participant_user_ids(self) -> list[str]:
        """Accounts used by the synthetic traders (to tell them apart in ground truth)."""
        return self._participants.user_ids() if self._participants is not None else []

    def total_money(self) -> int:
        """Conservation check, in micro-dollars (1/1,000,000 $): all cash (collateral included) + $1
        escrow per open contract + fees collected. Changes only by `deposit`/`open_account`."""
        open_interest = sum(m.state.open_interest for m in self._markets.values())
        return self._accounts.total_money_micro(open_interest)

    def total_deposits(self) -> int:
        """Money put in by `open_account`/`deposit`, micro-dollars; equals `total_money`."""
        return self._accounts.deposits

    # --- in-loop operations: for code the exchange itself runs from `schedule` (the synthetic
    # participants, a scenario's scripted faults). They neither catch up time nor flush events: the
    # exchange's time loop that called them does both. Everyone else uses the public methods above.

    def submit_in_loop(self, user_id: str, request: OrderRequest) -> OrderResult | None:
        """Place an order now; None when the exchange refuses it."""
        try:
            return self._create(user_id, request)
        except ExchangeError:
            return None

    def cancel_user_orders_in_loop(self, user_id: str, ticker: str, now: int) -> None:
        """Cancel every resting order of ``user_id`` in ``ticker``."""
        for order in self.resting_in_loop(user_id, ticker):
            self.cancel_order_in_loop(user_id, order, now)

    def resting_in_loop(self, user_id: str, ticker: str) -> list[Order]:
        """The resting orders of ``user_id`` in ``ticker`` (the engine's own objects: read, don't change)."""
        return [o for o in self._accounts.by_user[user_id].resting.values() if o.ticker == ticker]

    def cancel_order_in_loop(self, user_id: str, order: Order, now: int) -> None:
        """Cancel one resting order of ``user_id`` (from `resting_in_loop`)."""
        self._cancel(self._accounts.by_user[user_id], order, now)

    def market_state_in_loop(self, ticker: str) -> MarketState:
        """A market's state as it stands (no catch-up)."""
        return self._markets[ticker].state

    def book_of(self, ticker: str) -> Book:
        """A market's order book."""
        return self._markets[ticker].book

    def grid_of(self, ticker: str) -> PriceGrid:
        """A market's price grid."""
        return self._markets[ticker].grid

    def is_trading(self, ticker: str) -> bool:
        """Whether ``ticker`` takes orders now (exchange trading and the market active)."""
        return self._trading_active and self._markets[ticker].state.status is MarketStatus.ACTIVE

    def fair_of(self, ticker: str) -> float:
        """A market's hidden fair probability."""
        return self._fair[ticker]

    def set_fair_in_loop(self, ticker: str, probability: float) -> None:
        """Move a market's hidden fair probability (unchecked: the participants keep it in bounds)."""
        self._fair[ticker] = probability
        self.truth.record_fair(ticker, self._now, probability)
