"""The quoting core: events in, order actions out. Synchronous, no I/O, deterministic.

The async engine feeds it events and hands its actions to the executor; backtests and property
tests drive it directly. Per market: strategy quote -> risk rules in pipeline order -> reconciler.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mmframe.components import RiskRule, Strategy
from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, OrderAction
from mmframe.domain.book import OrderBook
from mmframe.domain.events import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    Event,
    FairValueUpdated,
    MarketEvent,
    MarketInfoReceived,
    MarketReleased,
    MarketStatusChanged,
    OrderEvent,
    OrderFilled,
    PositionReported,
    QuoteComputed,
    RiskVerdictIssued,
    TradeReported,
    TradingHalted,
    TradingPaused,
    TradingResumed,
)
from mmframe.domain.incentive import DEFAULT_TERMS as DEFAULT_INCENTIVE_TERMS
from mmframe.domain.incentive import incentive_score
from mmframe.domain.ledger import Ledger
from mmframe.domain.market import MarketInfo
from mmframe.domain.money import format_price
from mmframe.domain.orders import OrderTracker
from mmframe.domain.post_only import post_only_safe
from mmframe.domain.quote import Quote, Verdict, VerdictKind
from mmframe.domain.reconciler import ReconcilePolicy, reconcile
from mmframe.domain.reject_policy import RejectPolicy
from mmframe.domain.trading import GateState, TradingState
from mmframe.logsampling import RateLimitedLog
from mmframe.runtime.gate import Gate
from mmframe.runtime.market_state import MarketState
from mmframe.runtime.plugin_faults import PluginErrorPolicy, PluginFault, describe_fault
from mmframe.runtime.portfolio import Portfolio
from mmframe.runtime.rejects import RejectGuard

log = logging.getLogger("mmframe.quoting")
_TRADE_IDS_KEPT = 100_000
"""How many booked fills' trade ids are remembered to drop repeats."""


@dataclass(frozen=True)
class NamedRule:
    """A risk rule with the name it reports verdicts under."""

    name: str
    rule: RiskRule


class QuotingCore:
    """Market state, order tracking, the ledger and the quote path for every market of a pipeline."""

    def __init__(
        self,
        *,
        strategy: Strategy,
        rules: Sequence[NamedRule],
        now_ns: Callable[[], int],
        emit: Callable[[Event], None],
        policy: ReconcilePolicy | None = None,
        client_order_prefix: str = "mm-",
        monotonic_ns: Callable[[], int] | None = None,
        reject_policy: RejectPolicy | None = None,
        post_only_guard: bool = True,
        strategy_name: str | None = None,
        plugin_errors: PluginErrorPolicy = PluginErrorPolicy.QUARANTINE,
    ) -> None:
        self.strategy = strategy
        self.strategy_name = strategy_name or type(strategy).__name__
        self.plugin_errors = PluginErrorPolicy(plugin_errors)
        """What a plugin exception does (`mmframe.runtime.plugin_faults`)."""
        self.plugin_faults = 0
        """Plugin exceptions caught so far."""
        self.rules = list(rules)
        self.policy = policy or ReconcilePolicy()
        self.ledger = Ledger()
        self.tracker = OrderTracker()
        self.markets: dict[str, MarketState] = {}
        self.portfolio = Portfolio(self.ledger, self.tracker, self.markets, now_ns)
        self._book_changed = self.portfolio.book_changed
        """Tell the portfolio a market's mark may have moved (its PnL totals are kept running)."""
        self.state = TradingState.ACTIVE
        self.halt_reason = ""
        self.resume_at_ns: int | None = None
        self.recent_verdicts: list[RiskVerdictIssued] = []
        self._now = now_ns
        self._mono = monotonic_ns or now_ns
        self.gate = Gate(self._mono)
        """Closed by pause, halt, flatten and stop; every create and amend passes it when written."""
        self.rejects = RejectGuard(reject_policy or RejectPolicy(), self._mono)
        """Backoff, quarantine and the balance stop after venue rejects."""
        self._post_only_guard = post_only_guard
        self.post_only_dropped = 0
        """Quote levels dropped because they would have crossed the book."""
        self._repeats = RateLimitedLog(log, self._mono)
        self._emit = emit
        self._prefix = client_order_prefix
        self._ids = itertools.count(1)
        self._dirty: dict[str, None] = {}
        self._quoted: set[str] = set()
        """Markets the pipeline quotes (registered through `market`); events never add one."""
        self._trade_ids: OrderedDict[str, None] = OrderedDict()
        """Recently booked fills' trade ids: a fill reported twice (WS and REST) is booked once."""
        self.latencies_ns: list[int] = []
        """Event-to-actions latency samples (monotonic ns), trimmed by the owner."""

    @property
    def halted(self) -> bool:
        """Whether a risk rule (or the venue) halted trading: read afresh after any call that may halt."""
        return self.state is TradingState.HALTED

    # --- identity -------------------------------------------------------------------------------

    def new_client_order_id(self) -> str:
        """A client order id this pipeline recognises as its own after a restart."""
        return f"{self._prefix}{next(self._ids)}"

    def owns(self, client_order_id: str) -> bool:
        """Whether a venue order was placed by this pipeline (by its client order id prefix)."""
        return client_order_id.startswith(self._prefix.rsplit("-", 2)[0] + "-")

    # --- markets --------------------------------------------------------------------------------

    def market(self, ticker: str, info: MarketInfo | None = None) -> MarketState:
        """The state of ``ticker``, created on first use, and registered as a market to quote."""
        self._quoted.add(ticker)
        return self.market_state(ticker, info)

    def market_state(self, ticker: str, info: MarketInfo | None = None) -> MarketState:
        """The state of ``ticker``, created on first use, without making it a market to quote (a
        stray event, a fill or an adopted order in a market outside the pipeline)."""
        state = self.markets.get(ticker)
        if state is None:
            position = self.ledger.position(ticker)
            if info is not None:
                position.payout = info.payout
            state = MarketState(ticker, position, self._now, self.tracker.working, info)
            self.markets[ticker] = state
        return state

    def incentive_scores(self) -> dict[str, int]:
        """Per quoted market, the estimated Liquidity Incentive Program score of our resting orders
        now (count units weighted by the distance multiplier; `mmframe.domain.incentive`)."""
        scores = {}
        for ticker in sorted(self._quoted):
            state = self.markets.get(ticker)
            if state is None:
                continue
            info = state.info
            terms = info.incentive if info is not None and info.incentive is not None else DEFAULT_INCENTIVE_TERMS
            scores[ticker] = incentive_score(state.book, state.working_orders, terms)
        return scores

    def is_quoted(self, ticker: str) -> bool:
        """Whether the strategy quotes ``ticker`` (else its working orders are only cancelled)."""
        return ticker in self._quoted

    def stop_quoting(self, ticker: str) -> None:
        """Quote ``ticker`` no more: its next requote cancels whatever rests there."""
        self._quoted.discard(ticker)
        self.mark_dirty(ticker)

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def take_dirty(self) -> list[str]:
        """The markets that need a new quote, oldest first; clears the set."""
        tickers = list(self._dirty)
        self._dirty.clear()
        return tickers

    def take_dirty_market(self, ticker: str) -> bool:
        """Take ``ticker`` out of the dirty set; whether it was there (the caller requotes it now)."""
        if ticker in self._dirty:
            del self._dirty[ticker]
            return True
        return False

    def remember_trades(self, trade_ids: Iterable[str]) -> None:
        """Fills already booked elsewhere (the journal's, carried in): a venue that reports one again
        (a reconnect re-reads recent fills) does not book it twice. The most recent are kept."""
        for trade_id in list(trade_ids)[-_TRADE_IDS_KEPT:]:
            self._trade_ids[trade_id] = None
        while len(self._trade_ids) > _TRADE_IDS_KEPT:
            self._trade_ids.popitem(last=False)

    def mark_dirty(self, ticker: str) -> None:
        if ticker not in self._dirty:
            self._dirty[ticker] = None
            state = self.markets.get(ticker)
            if state is not None and state.dirty_since_ns is None:
                state.dirty_since_ns = self._mono()

    def mark_all_dirty(self) -> None:
        for ticker in self.markets:
            self.mark_dirty(ticker)

    # --- events in ------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Update state from one event and mark the affected market for re-quoting. Returns False
        for a fill already booked (its trade id seen before: a venue reports some fills twice, over
        the WebSocket and again when reconciling over REST): it changes nothing and goes no further."""
        if isinstance(event, BookDeltaReceived):
            state = self.markets.get(event.ticker) or self.market_state(event.ticker)
            state.book.apply_delta(event.leg, event.price, event.delta, event.ts_ns)
            state.last_book_update_ns = event.ts_ns
            self._book_changed(event.ticker)
        elif isinstance(event, BookSnapshotReceived):
            state = self.market_state(event.ticker)
            state.book.apply_snapshot(event.yes_bids, event.no_bids, event.ts_ns)
            state.last_book_update_ns = event.ts_ns
            self._book_changed(event.ticker)
        elif isinstance(event, OrderEvent):
            if not self._apply_order_event(event):
                return False
            for raised in self.rejects.observe(event):
                self._quarantined(raised)
        elif isinstance(event, MarketEvent):
            self._apply_market_event(event)
            if isinstance(event, PositionReported):
                self.rejects.observe(event)
        self.observe(event)
        ticker = getattr(event, "ticker", None)
        if ticker is not None and ticker in self.markets:
            self.mark_dirty(ticker)
        return True

    def observe(self, event: Event) -> None:
        """Show ``event`` to every risk rule; a rule that raises is a plugin fault (of the event's
        market, or of every market when the event has none)."""
        for named in self.rules:
            try:
                named.rule.observe(event)
            except Exception as exc:
                self.plugin_failed("risk rule", named.name, "observe()", exc, named.rule, _tickers_of(event))

    def plugin_failed(
        self, kind: str, name: str, call: str, exc: Exception, component: object, tickers: Sequence[str] | None
    ) -> None:
        """A plugin raised: name it and where in the log, then quarantine ``tickers`` (None: halt
        every market) or, under ``plugin_errors: stop``, raise `PluginFault` to stop the run."""
        self.plugin_faults += 1
        what = describe_fault(kind, name, call, exc, component)
        scope = ", ".join(tickers) if tickers else "every market"
        # Keyed by the failing call and its markets: a rule that fails on every event logs one
        # line per 10 s (with a count), not one per event.
        self._repeats.log(("plugin", kind, name, call, scope), "plugin error (%s): %s", scope, what,
                          level=logging.ERROR)
        if self.plugin_errors is PluginErrorPolicy.STOP:
            raise PluginFault(f"plugin error: {what}") from exc
        if not tickers:
            self.halt(f"plugin error: {what}")
            return
        for ticker in tickers:
            for event in self.rejects.quarantine(ticker, f"plugin error: {what}", self._now()):
                self._quarantined(event)

    def _quarantined(self, event: Event) -> None:
        self._emit(event)
        ticker = getattr(event, "ticker", None)
        if ticker is not None and ticker in self.markets:
            self.mark_dirty(ticker)  # its next requote pulls its orders

    def _apply_market_event(self, event: MarketEvent) -> None:
        state = self.market_state(event.ticker)
        if isinstance(event, TradeReported):
            state.last_trade_price = event.price
        elif isinstance(event, BookInvalidated):
            state.book.invalidate()
            self._book_changed(state.ticker)
        elif isinstance(event, MarketStatusChanged):
            state.status = event.status
            if event.close_ts_ns is not None:
                # close_date_updated / early close: the lifecycle rule reads the close from the info.
                known = state.info or MarketInfo(state.ticker, status=event.status, payout=state.book.payout)
                state.info = replace(known, close_ts_ns=event.close_ts_ns)
        elif isinstance(event, MarketInfoReceived):
            info: MarketInfo = event.info
            state.info = info
            state.status = info.status
            if info.payout != state.book.payout:
                state.book = OrderBook(state.ticker, info.payout)
                self._book_changed(state.ticker)
            state.position.payout = info.payout
        elif isinstance(event, FairValueUpdated):
            state.fair_value = event.price

    def _apply_order_event(self, event: OrderEvent) -> bool:
        """Apply an order event; False for a fill already booked (the one place repeats are dropped)."""
        self.tracker.apply(event)  # it ignores what it does not know (and repeats of other events)
        if isinstance(event, OrderFilled):
            # A fill is money: it is booked even for an order the tracker no longer knows, but only
            # once (the tracker cannot tell a repeat for a finished order from a late first report).
            if event.trade_id:
                if event.trade_id in self._trade_ids:
                    return False
                self._trade_ids[event.trade_id] = None
                if len(self._trade_ids) > _TRADE_IDS_KEPT:
                    self._trade_ids.popitem(last=False)
            state = self.market_state(event.ticker)
            # The fill's fee is the venue's trade fee (its fee_cost); the ledger charges the balance
            # as the venue does, through the order's fee rounding (API.md §9).
            self.ledger.book(event.ticker, event.side, event.price, event.count, event.fee,
                             event.order_id or event.client_order_id or None)
            try:
                self.strategy.on_fill(event, state)
            except Exception as exc:  # the fill is booked; the strategy's own state is suspect
                self.plugin_failed("strategy", self.strategy_name, "on_fill()", exc, self.strategy, (event.ticker,))
        return True

    # --- quoting --------------------------------------------------------------------------------

    def requote(self, ticker: str) -> list[OrderAction]:
        """Compute the quote for ``ticker``, run the risk chain, reconcile; returns the actions
        (already recorded in the tracker as submitted). `plan` + `commit` in one step."""
        actions = self.plan(ticker)
        if self.state == TradingState.HALTED:
            return self.pull_all()
        self.commit(ticker, actions)
        return actions

    def plan(self, ticker: str) -> list[OrderAction]:
        """The actions that would bring ``ticker``'s orders to its quote now, recorded nowhere: the
        caller sends some or all of them and `commit`s those. Empty when trading is halted (the
        caller pulls every order, `pull_all`)."""
        state = self.market_state(ticker)
        rejects = self.rejects
        quoting = self.state == TradingState.ACTIVE and ticker in self._quoted and ticker not in rejects.quarantined
        quote = self._checked_quote(state) if quoting else Quote.empty(ticker)
        if self.state == TradingState.HALTED:
            return []
        actions = reconcile(quote, state.working_orders, self.policy, self.new_client_order_id)
        if actions and not (rejects.writes_allowed(ticker) and rejects.creates_allowed()):
            writes_ok = rejects.writes_allowed(ticker)
            creates_ok = writes_ok and rejects.creates_allowed()
            actions = [
                a for a in actions
                if not ((isinstance(a, CreateOrder) and not creates_ok) or (isinstance(a, AmendOrder) and not writes_ok))
            ]
        if quote != state.last_quote:
            state.last_quote = quote
            self._emit(QuoteComputed(ts_ns=self._now(), ticker=ticker, quote=quote))
        return actions

    def commit(self, ticker: str, actions: Sequence[OrderAction], *, complete: bool = True) -> None:
        """Record ``actions`` (planned for ``ticker``) as handed to the executor. ``complete``: they
        are all the market needed (its requote latency is sampled and its dirty mark cleared)."""
        state = self.market_state(ticker)
        if actions:
            self._submitted(actions)
            if state.dirty_since_ns is not None:
                self.latencies_ns.append(self._mono() - state.dirty_since_ns)
        if complete:
            state.dirty_since_ns = None

    def _checked_quote(self, state: MarketState) -> Quote:
        try:
            raw: Quote = self.strategy.quote(state)
        except Exception as exc:
            self.plugin_failed("strategy", self.strategy_name, "quote()", exc, self.strategy, (state.ticker,))
            return Quote.empty(state.ticker)
        quote = self._post_only(raw, state)
        for named in self.rules:
            try:
                verdict: Verdict = named.rule.check(quote, state, self.portfolio)
            except Exception as exc:
                self.plugin_failed("risk rule", named.name, "check()", exc, named.rule, (state.ticker,))
                return Quote.empty(state.ticker)
            kind = verdict.kind
            if kind is VerdictKind.PASS:
                continue
            self._record_verdict(state.ticker, named.name, verdict)
            if kind is VerdictKind.ADJUST and verdict.quote is not None:
                quote = self._post_only(verdict.quote, state)
            elif kind is VerdictKind.BLOCK:
                return Quote.empty(state.ticker)
            elif kind is VerdictKind.HALT:
                self.halt(f"{named.name}: {verdict.reason}", verdict.resume_after_ns)
                return Quote.empty(state.ticker)
        return quote

    def _post_only(self, quote: Quote, state: MarketState) -> Quote:
        """No level through the book, whichever step put it there (dropped and counted)."""
        if not self._post_only_guard:
            return quote
        safe, dropped = post_only_safe(quote, state.book)
        if dropped:
            self.post_only_dropped += dropped
            book = state.book
            self._repeats.log(
                ("post-only", state.ticker),
                "%s: dropped %d quote level(s) at or through the book (best bid %s, best ask %s)",
                state.ticker, dropped, _dollars(book.best_bid()), _dollars(book.best_ask()),
            )
        return safe

    def _record_verdict(self, ticker: str, rule: str, verdict: Verdict) -> None:
        event = RiskVerdictIssued(ts_ns=self._now(), ticker=ticker, rule=rule, verdict=verdict)
        self.recent_verdicts.append(event)
        del self.recent_verdicts[:-100]
        self._emit(event)

    def _submitted(self, actions: Iterable[OrderAction]) -> None:
        now = self._now()
        for action in actions:
            self.tracker.submitted(action, now)

    def pull_all(self) -> list[OrderAction]:
        """Cancel actions for every live order not already being cancelled."""
        actions: list[OrderAction] = []
        for order in self.tracker.live():
            if order.status.is_pending and order.status.value == "pending_cancel":
                continue
            actions.append(CancelOrder(client_order_id=order.client_order_id, ticker=order.ticker))
        self._submitted(actions)
        for state in self.markets.values():
            state.dirty_since_ns = None
        self._dirty.clear()
        return actions

    # --- trading state --------------------------------------------------------------------------

    def halt(self, reason: str, resume_after_ns: int | None = None) -> None:
        """Stop quoting everywhere; the caller cancels working orders (`pull_all`)."""
        if self.state == TradingState.HALTED:
            return
        self.state = TradingState.HALTED
        self.halt_reason = reason
        self.gate.close(GateState.HALTED, reason)
        self.resume_at_ns = self._now() + resume_after_ns if resume_after_ns else None
        self._emit(TradingHalted(ts_ns=self._now(), reason=reason))

    def pause(self, reason: str = "operator") -> None:
        if self.state == TradingState.ACTIVE:
            self.state = TradingState.PAUSED
            self.halt_reason = reason
            self.gate.close(GateState.PAUSED, reason)
            self._emit(TradingPaused(ts_ns=self._now(), reason=reason))
            self.mark_all_dirty()  # every market's next requote pulls its orders, quiet ones too

    def resume(self, reason: str = "operator") -> bool:
        """Back to quoting (quarantined markets too); returns False if already active."""
        released = self.rejects.release(reason=reason)
        for event in released:
            self._quarantined(event)
        if self.state == TradingState.ACTIVE or self.gate.state is GateState.STOPPING:
            return bool(released) and self.gate.state is not GateState.STOPPING
        self.gate.open()
        self.state = TradingState.ACTIVE
        self.halt_reason = ""
        self.resume_at_ns = None
        self._emit(TradingResumed(ts_ns=self._now(), reason=reason))
        self.mark_all_dirty()
        return True

    def release(self, ticker: str | None = None, reason: str = "operator") -> list[str]:
        """End the quarantine and backoff of ``ticker`` (None: every market, and the balance stop);
        returns the markets released from quarantine. Trading state (a pause) is left as it is."""
        released = self.rejects.release(ticker, reason=reason)
        for event in released:
            self._quarantined(event)
        if ticker is not None and ticker in self.markets:
            self.mark_dirty(ticker)  # a backoff ended too: quote it now
        return [event.ticker for event in released if isinstance(event, MarketReleased)]

    def housekeeping(self) -> None:
        """Periodic: auto-resume after a cool-down, and re-evaluate every market (staleness, age,
        lifecycle rules depend on time, not only on events)."""
        if (
            self.state == TradingState.HALTED
            and self.resume_at_ns is not None
            and self._now() >= self.resume_at_ns
        ):
            self.resume("cool-down elapsed")
        for event in self.rejects.expire():
            self._quarantined(event)
        self.mark_all_dirty()

    def update_params(self, target: str, params: Mapping[str, Any]) -> None:
        """Apply validated run-time params to the strategy (``strategy``) or a rule by name."""
        if target == "strategy":
            self.strategy.update_params(params)
        else:
            for named in self.rules:
                if named.name == target:
                    named.rule.update_params(params)
                    break
            else:
                raise KeyError(target)
        self.mark_all_dirty()


def _tickers_of(event: Event) -> tuple[str, ...] | None:
    """The markets ``event`` is about (an actions batch: each action's), or None for none."""
    ticker = getattr(event, "ticker", None)
    if isinstance(ticker, str):
        return (ticker,)
    actions = getattr(event, "actions", None)
    if actions:
        return tuple(dict.fromkeys(a.ticker for a in actions))
    return None


def _dollars(price: int | None) -> str:
    return "-" if price is None else format_price(price)
