"""The portfolio's running totals always equal a full recomputation over every market.

Arbitrary sequences of order actions and events (acks, fills, amends taking effect early, rejects,
adoptions), ledger changes (fills, seeds, settlements, payout changes, positions outside any market
state), book moves and requotes drive a real `QuotingCore`; at random points (so several changes pile
up between reads) every total and per-market term of `Portfolio` is compared with the old
O(markets) scans in `tests.risk.portfolio_oracle`, and the PnL totals with the ledger's own sums
marked the way `Portfolio.marks` always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import (
    AmendOrder,
    BookDeltaReceived,
    BookInvalidated,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    Leg,
    Level,
    MarketInfo,
    MarketInfoReceived,
    MarketView,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    Price,
    Quote,
    WorkingOrder,
)
from mmframe.runtime.quoting import QuotingCore
from tests.risk import portfolio_oracle as oracle

QUOTED = ("A", "B", "C")
STRAY = "D"  # orders only: no market state, no position object
LEDGER_ONLY = "E"  # a position booked straight into the ledger, no market state
TICKERS = (*QUOTED, STRAY)
SIDES = (BookSide.BID, BookSide.ASK)
prices = st.integers(1, 99).map(lambda cents: cents * 100)
sizes = st.integers(1, 40).map(lambda contracts: contracts * 100)


class ScriptedStrategy:
    """Quotes whatever the test put in ``next``."""

    def __init__(self) -> None:
        self.next: Quote | None = None

    def quote(self, market: MarketView) -> Quote:
        return self.next or Quote.empty(market.ticker)

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        return None

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


class Run:
    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.strategy = ScriptedStrategy()
        self.core = QuotingCore(strategy=self.strategy, rules=[], now_ns=lambda: 0, emit=lambda e: None)
        for ticker in QUOTED:
            self.core.market(ticker)
        self.ids: list[str] = []
        self.serial = 0
        self.last_mark: dict[str, Price | None] = {}
        """Marks the way `Portfolio.marks` always kept them: updated at each read."""

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def new_id(self) -> str:
        self.serial += 1
        self.ids.append(f"x{self.serial}")
        return self.ids[-1]

    def some_id(self) -> str:
        return self.draw(st.sampled_from(self.ids)) if self.ids else "unknown"

    def ticker_of(self, client_order_id: str) -> str:
        order = self.core.tracker.get(client_order_id)
        return order.ticker if order is not None else self.draw(st.sampled_from(TICKERS))

    # --- steps ----------------------------------------------------------------------------------

    def step(self) -> None:
        kind = self.draw(st.sampled_from(STEPS))
        getattr(self, kind)()

    def create(self) -> None:
        action = CreateOrder(client_order_id=self.new_id(), ticker=self.draw(st.sampled_from(TICKERS)),
                             side=self.draw(st.sampled_from(SIDES)), price=self.draw(prices), size=self.draw(sizes))
        self.core.tracker.submitted(action, 0)

    def amend(self) -> None:
        old = self.some_id()
        order = self.core.tracker.get(old)
        side = order.side if order else BookSide.BID
        action = AmendOrder(client_order_id=old, new_client_order_id=self.new_id(), ticker=self.ticker_of(old),
                            side=side, price=self.draw(prices), size=self.draw(sizes))
        self.core.tracker.submitted(action, 0)

    def decrease(self) -> None:
        old = self.some_id()
        action = DecreaseOrder(client_order_id=old, ticker=self.ticker_of(old), size=self.draw(st.integers(0, 4000)))
        self.core.tracker.submitted(action, 0)

    def cancel(self) -> None:
        old = self.some_id()
        self.core.tracker.submitted(CancelOrder(client_order_id=old, ticker=self.ticker_of(old)), 0)

    def accepted(self) -> None:
        cid = self.some_id()
        remaining = self.draw(st.none() | st.integers(0, 4000))
        filled = self.draw(st.none() | st.integers(0, 4000)) if remaining is not None else None
        self.core.apply(OrderAccepted(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid), order_id=f"o-{cid}",
                                      remaining=remaining, filled=filled))

    def amended(self) -> None:
        cid = self.some_id()
        new = self.some_id()
        self.core.apply(OrderAmended(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid), new_client_order_id=new,
                                     price=self.draw(prices), remaining=self.draw(st.integers(0, 4000))))

    def decreased(self) -> None:
        cid = self.some_id()
        self.core.apply(OrderDecreased(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid),
                                       remaining=self.draw(st.integers(0, 4000))))

    def canceled(self) -> None:
        cid = self.some_id()
        self.core.apply(OrderCanceled(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid)))

    def rejected(self) -> None:
        cid = self.some_id()
        action = self.draw(st.sampled_from(("create", "cancel", "amend", "decrease")))
        self.core.apply(OrderRejected(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid), code="x", message="x",
                                      action=action))

    def filled(self) -> None:
        cid = self.some_id()
        order = self.core.tracker.get(cid)
        side = order.side if order is not None else self.draw(st.sampled_from(SIDES))
        price = order.price if order is not None else self.draw(prices)
        self.serial += 1
        trade = self.draw(st.sampled_from((f"t{self.serial}", "t-repeat", "")))
        self.core.apply(OrderFilled(ts_ns=0, client_order_id=cid, ticker=self.ticker_of(cid), order_id=f"o-{cid}",
                                    trade_id=trade, side=side, price=price, count=self.draw(sizes),
                                    fee=self.draw(st.integers(0, 50)), is_taker=False))

    def adopt(self) -> None:
        status = self.draw(st.sampled_from(list(OrderStatus)))
        order = WorkingOrder(self.new_id(), self.draw(st.sampled_from(TICKERS)), self.draw(st.sampled_from(SIDES)),
                             self.draw(prices), self.draw(sizes), status)
        self.core.tracker.adopt(order)

    def requote(self) -> None:
        ticker = self.draw(st.sampled_from(QUOTED))
        bids = self.draw(st.lists(st.tuples(prices, sizes), max_size=2, unique_by=lambda level: level[0]))
        asks = self.draw(st.lists(st.tuples(prices, sizes), max_size=2, unique_by=lambda level: level[0]))
        self.strategy.next = Quote(ticker, tuple(Level(p, s) for p, s in sorted(bids, reverse=True)),
                                   tuple(Level(p, s) for p, s in sorted(asks)))
        for action in self.core.requote(ticker):
            if isinstance(action, CreateOrder):
                self.ids.append(action.client_order_id)
            elif isinstance(action, AmendOrder):
                self.ids.append(action.new_client_order_id)

    def pull_all(self) -> None:
        self.core.pull_all()

    def seed(self) -> None:
        position = self.core.market_state(self.draw(st.sampled_from(QUOTED))).position
        position.seed(self.draw(st.integers(-4000, 4000)), self.draw(prices))

    def settle(self) -> None:
        self.core.market_state(self.draw(st.sampled_from(QUOTED))).position.settle(self.draw(st.booleans()))

    def payout(self) -> None:
        ticker = self.draw(st.sampled_from(QUOTED))
        payout = self.draw(st.sampled_from((10_000, 5_000)))
        self.core.apply(MarketInfoReceived(ts_ns=0, ticker=ticker, info=MarketInfo(ticker, payout=payout)))

    def ledger_only(self) -> None:
        position = self.core.ledger.position(LEDGER_ONLY)
        position.apply_fill(self.draw(st.sampled_from(SIDES)), self.draw(prices), self.draw(sizes), 0)

    def snapshot(self) -> None:
        ticker = self.draw(st.sampled_from(QUOTED))
        yes = self.draw(st.lists(st.tuples(prices, sizes), min_size=1, max_size=2))
        no = self.draw(st.lists(st.tuples(prices, sizes), min_size=self.draw(st.sampled_from((0, 1, 1, 1))), max_size=2))
        self.core.apply(BookSnapshotReceived(ts_ns=0, ticker=ticker, yes_bids=tuple(yes), no_bids=tuple(no)))

    def delta(self) -> None:
        ticker = self.draw(st.sampled_from(QUOTED))
        self.core.apply(BookDeltaReceived(ts_ns=0, ticker=ticker, leg=self.draw(st.sampled_from(list(Leg))),
                                          price=self.draw(prices), delta=self.draw(st.integers(-2000, 2000))))

    def invalidate(self) -> None:
        self.core.apply(BookInvalidated(ts_ns=0, ticker=self.draw(st.sampled_from(QUOTED)), reason="gap"))

    # --- the check --------------------------------------------------------------------------------

    def slow_marks(self) -> dict[str, Price | None]:
        marks: dict[str, Price | None] = {}
        for ticker in self.core.ledger.positions:
            state = self.core.markets.get(ticker)
            mid = state.book.mid() if state is not None and state.book.valid else None
            if mid is None:
                mid = self.last_mark.get(ticker)
            else:
                self.last_mark[ticker] = mid
            marks[ticker] = mid
        return marks

    def check(self) -> None:
        portfolio = self.core.portfolio
        positions, orders = portfolio.positions, portfolio.working_orders
        ledger = self.core.ledger
        assert portfolio.unrealised_pnl == ledger.unrealised_pnl(self.slow_marks())
        assert portfolio.realised_pnl == ledger.realised_pnl()
        assert portfolio.fees == ledger.fees()
        assert portfolio.total_reachable_contracts == oracle.gross_contracts_elsewhere(positions, orders, oracle.NOWHERE)
        assert portfolio.total_worst_case_loss == oracle.loss_elsewhere(positions, orders, oracle.NOWHERE)
        for ticker in (*TICKERS, LEDGER_ONLY, "never-seen"):
            reach = portfolio.total_reachable_contracts - portfolio.reachable_contracts(ticker)
            assert reach == oracle.gross_contracts_elsewhere(positions, orders, ticker), ticker
            loss = portfolio.total_worst_case_loss - portfolio.worst_case_loss(ticker)
            assert loss == oracle.loss_elsewhere(positions, orders, ticker), ticker


STEPS = tuple(name for name in vars(Run) if not name.startswith("_") and name not in
              {"draw", "new_id", "some_id", "ticker_of", "step", "slow_marks", "check"})


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_portfolio_totals_when_anything_changes_equal_a_full_recomputation(data: st.DataObject) -> None:
    run = Run(data)
    for _ in range(data.draw(st.integers(1, 40))):
        run.step()
        if data.draw(st.booleans()):
            run.check()
    run.check()


def test_portfolio_unrealised_when_a_delta_moves_the_mid_follows_it() -> None:
    core = QuotingCore(strategy=ScriptedStrategy(), rules=[], now_ns=lambda: 0, emit=lambda e: None)
    core.market("A")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="A", yes_bids=((4000, 100),), no_bids=((5000, 100),)))
    core.ledger.position("A").apply_fill(BookSide.BID, 4000, 1000, 0)
    assert core.portfolio.unrealised_pnl == 5000
    core.apply(BookDeltaReceived(ts_ns=0, ticker="A", leg=Leg.YES, price=4600, delta=100))  # mid 0.48
    assert core.portfolio.unrealised_pnl == 8000


def test_portfolio_marks_when_the_book_goes_invalid_keep_the_last_mid() -> None:
    core = QuotingCore(strategy=ScriptedStrategy(), rules=[], now_ns=lambda: 0, emit=lambda e: None)
    core.market("A")
    core.apply(BookSnapshotReceived(ts_ns=0, ticker="A", yes_bids=((4000, 100),), no_bids=((5000, 100),)))
    core.ledger.position("A").apply_fill(BookSide.BID, 4000, 1000, 0)
    assert core.portfolio.unrealised_pnl == 5000  # 10 contracts bought at 0.40, marked at 0.45
    core.apply(BookInvalidated(ts_ns=0, ticker="A", reason="gap"))
    core.apply(BookDeltaReceived(ts_ns=0, ticker="A", leg=Leg.YES, price=4000, delta=-100))
    assert core.portfolio.unrealised_pnl == 5000
    assert core.portfolio.marks() == {"A": 4500}
