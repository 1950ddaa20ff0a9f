"""The restart rule: a run carries the books of earlier runs over exactly, from their fills.

The journal's fills are the books. At start they are replayed, in the order they were booked,
through a `Ledger` (with the venue's per-order fee rounding), which gives for every market:

- the position and its exact cost: the new run's ledger starts from them (`Position.carry`), so
  realised PnL of later fills is booked against the venue's average cost, as the venue books it;
- today's (UTC) PnL made before this run, with the open position valued at that cost::

      day_pnl = (realised - fees) at the end of the record  -  net PnL at midnight (marked)

  The new run then counts the open position's PnL from that cost on, so the day's net is the
  day's cash flow and fees plus the change in marked value -- nothing counted twice, nothing lost,
  whenever the previous run stopped (a kill -9 included) and whatever its last snapshot said;
- the rounding each order has overpaid and not had refunded yet (an order that fills again after
  the restart is charged as the venue charges it);
- the trade ids journaled lately, so that fills the venue reports since then are booked (and
  journaled) exactly once.

Fills made while no run was up are read from the venue at start; the runtime books those not
journaled on top of the carried positions, then checks each position against the venue's. A
difference fills cannot explain (fills older than the venue's look-back, or a journal started
after the position) is booked as a carried-in fill at the venue's average cost and named in a
warning. Amounts are micro-dollars (1/1,000,000 $) until the end, then floored to price units.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from mmframe.domain.ledger import Ledger
from mmframe.domain.money import COUNT_SCALE, ONE_DOLLAR, Count, Price
from mmframe.domain.quote import BookSide

CARRY_TRADE_PREFIX = "carry-"
"""Trade ids of carried-in fills (a venue position the journal's fills did not explain)."""


@dataclass(frozen=True, slots=True)
class CarriedPosition:
    """One market at the end of the journal's record (micro-dollar amounts)."""

    position: Count
    cost_basis_micro: int
    """What the open position cost (long) or brought in (short), exactly, >= 0."""
    day_pnl_micro: int
    """Today's PnL of this market before the new run, the open position valued at its cost."""
    open_pnl_micro: int = 0
    """The open position's PnL at its last known mark (for a market the new run does not carry)."""


@dataclass(frozen=True)
class CarriedState:
    """What a journaling sink hands the runtime at start (see the module docstring).

    ``fee_rounding``: micro-dollars of rounding each venue order has overpaid and not had refunded.
    ``trade_ids``: fills journaled from ``trade_ids_since_ns`` on, in the order they were booked.
    """

    positions: Mapping[str, CarriedPosition] = field(default_factory=dict)
    fee_rounding: Mapping[str, int] = field(default_factory=dict)
    trade_ids: tuple[str, ...] = ()
    trade_ids_since_ns: int = 0
    fills: int = 0
    """How many journaled fills were replayed."""
    open_orders: tuple[tuple[str, str], ...] = ()
    """(client order id, ticker) of the orders the journal last knew live (a run may have been
    killed before their end was journaled): those not resting on the venue at start are closed."""

    def day_start_micro(self, carried: Collection[str]) -> int:
        """Today's net PnL before the new run, micro-dollars: the markets in ``carried`` (their
        positions go on in the new run's ledger) valued at cost, the others at their last known mark."""
        total = 0
        for ticker, item in self.positions.items():
            total += item.day_pnl_micro + (0 if ticker in carried else item.open_pnl_micro)
        return total

    def day_start_pnl(self, carried: Collection[str]) -> Price:
        """`day_start_micro` in price units (floored)."""
        return self.day_start_micro(carried) // COUNT_SCALE


class BooksReplay:
    """Replays fills, oldest first, into a `CarriedState` (see the module docstring).

    ``day_start_ns``: midnight UTC of the day the daily-loss limit counts; ``mark_at_day_start``:
    each market's mark then (None: unknown, the position counts at cost); ``keep_trade_ids_since_ns``:
    remember trade ids of fills from then on.
    """

    def __init__(
        self,
        *,
        day_start_ns: int,
        mark_at_day_start: Callable[[str], Price | None],
        keep_trade_ids_since_ns: int,
    ) -> None:
        self.ledger = Ledger()
        self._day_start_ns = day_start_ns
        self._mark_at_day_start = mark_at_day_start
        self._keep_since = keep_trade_ids_since_ns
        self._at_day_start: dict[str, int] | None = None
        self._trade_ids: dict[str, None] = {}
        self._fills = 0

    def book(
        self,
        *,
        ts_ns: int,
        ticker: str,
        side: BookSide,
        price: Price,
        count: Count,
        trade_fee: Price,
        order: str | None,
        trade_id: str,
        payout: Price = ONE_DOLLAR,
    ) -> None:
        """Book one journaled fill (``order``: the venue's order id, or the client's if none; None
        for a carried-in fill; ``payout``: what one contract of the market pays)."""
        if self._at_day_start is None and ts_ns >= self._day_start_ns:
            self._cut_day()
        if ts_ns >= self._keep_since and trade_id:
            self._trade_ids[trade_id] = None
        self.ledger.position(ticker, payout).payout = payout
        self.ledger.book(ticker, side, price, count, trade_fee, order)
        self._fills += 1

    def _cut_day(self) -> None:
        self._at_day_start = {
            ticker: position.net_micro(self._mark_at_day_start(ticker) if position.position else None)
            for ticker, position in self.ledger.positions.items()
        }

    def finish(self, last_mark: Callable[[str], Price | None]) -> CarriedState:
        """The carried state; ``last_mark``: each market's last known mark (for its open PnL)."""
        if self._at_day_start is None:
            self._cut_day()
        at_day_start = self._at_day_start or {}
        positions: dict[str, CarriedPosition] = {}
        for ticker, position in self.ledger.positions.items():
            at_cost = position.realised_micro - position.fees_micro
            mark = last_mark(ticker) if position.position else None
            positions[ticker] = CarriedPosition(
                position=position.position,
                cost_basis_micro=position.cost_basis_micro,
                day_pnl_micro=at_cost - at_day_start.get(ticker, 0),
                open_pnl_micro=position.net_micro(mark) - at_cost,
            )
        return CarriedState(
            positions=positions,
            fee_rounding=self.ledger.order_fees.pending(),
            trade_ids=tuple(self._trade_ids),
            trade_ids_since_ns=self._keep_since,
            fills=self._fills,
        )


def merge_carried(states: Collection[CarriedState]) -> CarriedState | None:
    """One state from several journaling sinks: the one that replayed the most fills (they journal
    the same events; a sink that started later knows less)."""
    best: CarriedState | None = None
    for state in states:
        if best is None or state.fills > best.fills:
            best = state
    return best

