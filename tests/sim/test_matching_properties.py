"""Property tests of the matching engine: random sequences of order operations by a few accounts
must keep the exchange's invariants (issue 4 "Must show")."""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from mmframe_sim.engine import (
    AmendRequest,
    BookLevelChanged,
    ExchangeError,
    FillExecuted,
    OrderRequest,
    SelfTradePrevention,
    Side,
    SimEvent,
    TimeInForce,
    TradeExecuted,
)

from tests.sim.sim_engine_helpers import build_exchange

ONE = 10_000
USERS = ("alice", "bob", "carol")
# (ticker, price choices, count step): a cent market, a maker-fee market, a deci-cent fractional one
MARKETS = {
    "M": ([p * 100 for p in range(44, 57)], 100),
    "MF": ([p * 100 for p in range(46, 55)], 100),
    "D": ([p * 10 for p in range(490, 511, 2)], 1),
}


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.x, self.clock, self.events = build_exchange(balance_dollars=60, users=USERS)
        self.checked = 0
        self.replayed_to = 0
        self.replayed: dict[tuple[str, str, int], int] = defaultdict(int)
        self.post_only_ids: set[str] = set()
        self.groups: dict[str, str] = {u: self.x.create_order_group(u, 1500).order_group_id for u in USERS}

    @rule(
        user=st.sampled_from(USERS),
        ticker=st.sampled_from(["M", "M", "MF", "D"]),
        side=st.sampled_from([Side.BID, Side.ASK]),
        price_index=st.integers(0, 12),
        units=st.integers(1, 12),
        tif=st.sampled_from(list(TimeInForce)),
        post_only=st.booleans(),
        stp=st.sampled_from(list(SelfTradePrevention)),
        grouped=st.booleans(),
        reduce_only=st.booleans(),
    )
    def place(self, user, ticker, side, price_index, units, tif, post_only, stp, grouped, reduce_only):
        prices, step = MARKETS[ticker]
        count = units * (100 if step == 100 else 37)
        request = OrderRequest(
            ticker=ticker,
            side=side,
            price=prices[price_index % len(prices)],
            count=count,
            time_in_force=tif,
            self_trade_prevention_type=stp,
            post_only=post_only and tif is TimeInForce.GOOD_TILL_CANCELED,
            reduce_only=reduce_only and tif is TimeInForce.IMMEDIATE_OR_CANCEL,
            order_group_id=self.groups[user] if grouped else None,
        )
        try:
            result = self.x.create_order(user, request)
        except ExchangeError as exc:
            assert exc.code in {
                "insufficient_balance",
                "invalid_order",
                "order_group_triggered",
                "invalid_price",
            }, exc
            if exc.code == "order_group_triggered":
                self.x.reset_order_group(user, self.groups[user])
            return
        if request.post_only:
            self.post_only_ids.add(result.order.order_id)
            assert result.fill_count == 0

    def _some_resting(self, user, pick):
        resting = self.x.orders(user, status="resting")
        return resting[pick % len(resting)] if resting else None

    @rule(user=st.sampled_from(USERS), pick=st.integers(0, 50))
    def cancel(self, user, pick):
        order = self._some_resting(user, pick)
        if order is not None:
            assert self.x.cancel_order(user, order.order_id).reduced_by == order.remaining

    @rule(
        user=st.sampled_from(USERS),
        pick=st.integers(0, 50),
        move=st.integers(-3, 3),
        extra=st.integers(-2, 3),
    )
    def amend(self, user, pick, move, extra):
        order = self._some_resting(user, pick)
        if order is None:
            return
        prices, step = MARKETS[order.ticker]
        index = min(max(prices.index(order.price) + move, 0), len(prices) - 1)
        count = max(order.filled + order.remaining + extra * (100 if step == 100 else 37), order.filled)
        try:
            self.x.amend_order(
                user, order.order_id, AmendRequest(order.ticker, order.side, prices[index], count)
            )
        except ExchangeError as exc:
            assert exc.code in {"insufficient_balance", "invalid_order"}, exc

    @rule(user=st.sampled_from(USERS), pick=st.integers(0, 50), to=st.integers(0, 5))
    def decrease(self, user, pick, to):
        order = self._some_resting(user, pick)
        if order is not None:
            target = min(order.remaining, to * (100 if MARKETS[order.ticker][1] == 100 else 37))
            self.x.decrease_order(user, order.order_id, reduce_to=target)

    @rule(seconds=st.integers(1, 20))
    def wait(self, seconds):
        self.clock.advance(seconds)
        self.x.advance()

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def book_is_never_crossed(self):
        for ticker in MARKETS:
            book = self.x.orderbook(ticker)
            if book.yes and book.no:
                assert book.yes[-1][0] + book.no[-1][0] < ONE, (ticker, book)

    @invariant()
    def book_levels_equal_resting_orders(self):
        expected: dict[tuple[str, str, int], int] = defaultdict(int)
        for order in self.x.resting_orders():
            leg, price = ("yes", order.price) if order.side is Side.BID else ("no", ONE - order.price)
            expected[(order.ticker, leg, price)] += order.remaining
            assert order.remaining > 0
        actual = {}
        for ticker in MARKETS:
            book = self.x.orderbook(ticker)
            actual.update({(ticker, "yes", p): s for p, s in book.yes})
            actual.update({(ticker, "no", p): s for p, s in book.no})
        assert actual == dict(expected)

    @invariant()
    def book_rebuilt_from_deltas_equals_the_book(self):
        for event in self.events[self.replayed_to :]:
            if isinstance(event, BookLevelChanged):
                assert event.delta != 0
                key = (event.ticker, event.leg, event.price)
                self.replayed[key] += event.delta
                assert self.replayed[key] == event.size
                if self.replayed[key] == 0:
                    del self.replayed[key]
        self.replayed_to = len(self.events)
        actual = {}
        for ticker in MARKETS:
            book = self.x.orderbook(ticker)
            actual.update({(ticker, "yes", p): s for p, s in book.yes})
            actual.update({(ticker, "no", p): s for p, s in book.no})
        assert actual == dict(self.replayed)

    @invariant()
    def trades_pair_opposite_sides_at_one_dollar(self):
        new: list[SimEvent] = self.events[self.checked :]
        self.checked = len(self.events)
        fills_by_trade = defaultdict(list)
        for event in new:
            if isinstance(event, FillExecuted):
                fills_by_trade[event.fill.trade_id].append(event.fill)
                assert not (event.fill.is_taker and event.fill.order_id in self.post_only_ids)
        for event in new:
            if isinstance(event, TradeExecuted):
                trade = event.trade
                maker, taker = sorted(fills_by_trade[trade.trade_id], key=lambda f: f.is_taker)
                assert {maker.side, taker.side} == {Side.BID, Side.ASK}
                assert maker.price == taker.price == trade.price and 0 < trade.price < ONE
                assert trade.price + trade.no_price == ONE
                assert maker.count == taker.count == trade.count

    @invariant()
    def money_is_conserved_and_never_negative(self):
        assert self.x.total_money() == self.x.total_deposits()
        for user in USERS:
            balance = self.x.balance(user)
            assert balance.locked >= 0
            assert balance.available >= 0, (user, balance)

    @invariant()
    def positions_net_to_zero_and_match_open_interest(self):
        for ticker in MARKETS:
            positions = [p.position for p in self.x.all_positions(ticker)]
            assert sum(positions) == 0
            assert self.x.market(ticker).open_interest == sum(p for p in positions if p > 0)

    @invariant()
    def triggered_groups_hold_no_orders(self):
        for user in USERS:
            for group in self.x.order_groups(user):
                if group.triggered:
                    assert group.order_ids == ()


TestExchangeProperties = ExchangeMachine.TestCase
TestExchangeProperties.settings = settings(
    max_examples=40, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_matching_when_long_random_order_flow_keeps_invariants(seed):
    """Long runs (hypothesis's stateful runs are short): 400 random operations, invariants after each."""
    rng = random.Random(seed)
    machine = ExchangeMachine()
    checks = [
        machine.book_is_never_crossed,
        machine.book_levels_equal_resting_orders,
        machine.book_rebuilt_from_deltas_equals_the_book,
        machine.trades_pair_opposite_sides_at_one_dollar,
        machine.money_is_conserved_and_never_negative,
        machine.positions_net_to_zero_and_match_open_interest,
        machine.triggered_groups_hold_no_orders,
    ]
    for _ in range(400):
        roll = rng.random()
        user = rng.choice(USERS)
        if roll < 0.6:
            machine.place(
                user=user,
                ticker=rng.choice(["M", "M", "MF", "D"]),
                side=rng.choice([Side.BID, Side.ASK]),
                price_index=rng.randint(0, 12),
                units=rng.randint(1, 12),
                tif=rng.choice([TimeInForce.GOOD_TILL_CANCELED] * 3 + list(TimeInForce)),
                post_only=rng.random() < 0.2,
                stp=rng.choice(list(SelfTradePrevention)),
                grouped=rng.random() < 0.3,
                reduce_only=rng.random() < 0.2,
            )
        elif roll < 0.75:
            machine.cancel(user=user, pick=rng.randint(0, 50))
        elif roll < 0.88:
            machine.amend(
                user=user, pick=rng.randint(0, 50), move=rng.randint(-3, 3), extra=rng.randint(-2, 3)
            )
        elif roll < 0.96:
            machine.decrease(user=user, pick=rng.randint(0, 50), to=rng.randint(0, 5))
        else:
            machine.wait(seconds=rng.randint(1, 20))
        for check in checks:
            check()
    assert any(isinstance(e, TradeExecuted) for e in machine.events)
