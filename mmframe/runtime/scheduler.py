"""The intent scheduler: spends the account's write budget on the latest intent of each market.

What waits for the budget is a *market that needs a requote*, never an action decided earlier. When
a market's turn comes its actions are planned again from the current quote and the current order
state (`QuotingCore.plan`), so a create for a market that has since been re-quoted, paused or halted
is simply never produced; whatever is handed to the executor is covered by the budget at that moment
and leaves in the same step.

Policy (DESIGN.md "Data flow"; docs/reliability.md has the arithmetic):

1. Cancels and decreases are sent at once, whatever the budget: they only reduce what rests, and
   the venue client serves them first.
2. Creates and amends go out only while the budget covers them, the most mispriced first. An amend's
   mispricing is how far the order rests from its target (price units); a create that fills an
   empty side counts as `MISSING_QUOTE_SCORE` (a missing quote costs uptime and is worse than any
   ordinary move); a create of a further level counts as `EXTRA_LEVEL_SCORE`.
3. Markets whose creates or amends do not fit wait, scored by their worst mispricing plus one price
   unit per millisecond waited (so nothing starves), and are planned again, best score first, as
   soon as the budget covers the cheapest write.
4. When the gate closes, every waiting market is dropped (counted, logged once).

Without a metered executor (a backtest, a test executor) every planned action is sent at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mmframe.components import WriteBudget
from mmframe.domain.actions import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder, OrderAction
from mmframe.domain.money import ONE_DOLLAR
from mmframe.domain.quote import BookSide
from mmframe.domain.trading import GateState, TradingState
from mmframe.runtime.quoting import QuotingCore

log = logging.getLogger("mmframe.scheduler")

MISSING_QUOTE_SCORE = ONE_DOLLAR // 2
"""The mispricing of an empty side: ahead of any amend short of 50¢."""
EXTRA_LEVEL_SCORE = ONE_DOLLAR // 100
"""The mispricing of a further level on a side that already rests: 1¢."""
_NS_PER_SCORE_UNIT = 1_000_000
"""Waiting adds one price unit ($0.0001) of score per millisecond."""
_PROBE_CREATE = CreateOrder(client_order_id="-", ticker="-", side=BookSide.BID, price=1, size=1)
"""A create to ask the budget what one costs."""


class IntentScheduler:
    """Plans markets when they change or their turn comes, and hands the executor what fits.

    ``send`` takes actions already recorded in the tracker and starts them without awaiting.
    ``mono_ns`` is the runtime's monotonic clock.
    """

    def __init__(
        self,
        core: QuotingCore,
        budget: WriteBudget | None,
        send: Callable[[Sequence[OrderAction]], None],
        mono_ns: Callable[[], int],
    ) -> None:
        self.core = core
        self.budget = budget
        self._send = send
        self._mono = mono_ns
        self._waiting: dict[str, tuple[int, int]] = {}
        """Markets whose creates or amends wait for the budget: ticker -> (mispricing, since_ns)."""
        self.dropped = 0
        """Waiting markets dropped because the gate closed."""
        self.deferred = 0
        """Creates and amends that did not fit the budget when planned (re-planned later)."""
        core.gate.on_close(self._gate_closed)

    # --- state ------------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """How many markets wait for the budget."""
        return len(self._waiting)

    def cheapest_write(self) -> int:
        """Tokens of the cheapest create or amend (what a turn waits for)."""
        if self.budget is None:
            return 0
        return self.budget.cost(_PROBE_CREATE)

    def seconds_to_next_turn(self) -> float | None:
        """How long until a waiting market can be served; None when none waits."""
        if not self._waiting:
            return None
        if self.budget is None:
            return 0.0
        return self.budget.seconds_until(self.cheapest_write())

    def describe(self) -> dict[str, object]:
        return {
            "waiting_markets": len(self._waiting),
            "deferred_writes": self.deferred,
            "dropped_on_gate_close": self.dropped,
            "tokens": None if self.budget is None else self.budget.tokens(),
        }

    # --- planning -----------------------------------------------------------------------------------

    def requote(self, ticker: str) -> None:
        """``ticker`` changed: plan it now and send what the budget covers (markets waiting with a
        higher score keep their place: this market's creates and amends then wait behind them)."""
        self._serve(ticker, in_turn=False)

    def turn(self, until_ns: int | None = None) -> int:
        """Serve waiting markets, highest score first, while the budget covers a write (and, with
        ``until_ns`` on the monotonic clock, until then: the caller yields and calls again, so one
        turn never stalls the event loop); returns how many markets were planned."""
        if not self._waiting:
            return 0
        now = self._mono()
        order = sorted(self._waiting, key=lambda t: self._score(t, now), reverse=True)
        cheapest = self.cheapest_write()
        served = 0
        for ticker in order:
            if self.budget is not None and self.budget.tokens() < cheapest:
                break
            if until_ns is not None and served and self._mono() >= until_ns:
                break
            if ticker not in self._waiting:
                continue
            self._serve(ticker, in_turn=True)
            served += 1
        return served

    def _score(self, ticker: str, now_ns: int) -> int:
        score, since = self._waiting[ticker]
        return score + (now_ns - since) // _NS_PER_SCORE_UNIT

    def _serve(self, ticker: str, *, in_turn: bool) -> None:
        core = self.core
        actions = core.plan(ticker)
        if core.state == TradingState.HALTED:
            self._waiting.clear()
            self._send_committed(None, core.pull_all())
            return
        if not actions:
            self._waiting.pop(ticker, None)
            core.commit(ticker, ())
            return
        budget = self.budget
        if budget is None:
            self._waiting.pop(ticker, None)
            self._send_committed(ticker, actions)
            return
        reducing: list[OrderAction] = []
        writes: list[tuple[int, OrderAction]] = []
        for action in actions:
            if isinstance(action, CancelOrder | DecreaseOrder):
                reducing.append(action)
            elif core.gate.allows(action):
                writes.append((self._mispricing(action), action))
        writes.sort(key=lambda item: item[0], reverse=True)
        chosen = reducing
        left_score = 0
        if writes:
            tokens = budget.tokens()
            # While other markets wait for the budget, a changed market joins them (scored) instead
            # of jumping the queue; the next turn serves the best scores first.
            ahead = not in_turn and len(self._waiting) > (ticker in self._waiting)
            for score, action in writes:
                cost = budget.cost(action)
                if ahead or cost > tokens:
                    left_score = max(left_score, score)
                    self.deferred += 1
                    continue
                tokens -= cost
                chosen.append(action)
        if left_score:
            since = self._waiting.get(ticker, (0, self._mono()))[1]
            self._waiting[ticker] = (left_score, since)
        else:
            self._waiting.pop(ticker, None)
        if chosen:
            core.commit(ticker, chosen, complete=not left_score)
            self._send(chosen)

    def _send_committed(self, ticker: str | None, actions: Sequence[OrderAction]) -> None:
        if ticker is not None:
            self.core.commit(ticker, actions)
        if actions:
            self._send(actions)

    def _mispricing(self, action: OrderAction) -> int:
        if isinstance(action, AmendOrder):
            order = self.core.tracker.get(action.client_order_id)
            return abs(action.price - order.price) + 1 if order is not None else MISSING_QUOTE_SCORE
        assert isinstance(action, CreateOrder)
        same_side = [
            o for o in self.core.tracker.working(action.ticker) if o.side is action.side and o.status.is_live
        ]
        return EXTRA_LEVEL_SCORE if same_side else MISSING_QUOTE_SCORE

    def _gate_closed(self, state: GateState, reason: str) -> None:
        if self._waiting:
            self.dropped += len(self._waiting)
            log.warning(
                "gate %s (%s): dropped the queued intents of %d market(s)", state.value, reason, len(self._waiting)
            )
            self._waiting.clear()

