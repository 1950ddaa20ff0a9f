"""Fees by series fee type and Kalshi's rounding (API.md §9): trade fee rounded up to $0.0001, cash
change floored to the cent, rounding overpayment refunded per order by whole cents."""

from __future__ import annotations

from mmframe_sim.engine import FillExecuted

from tests.sim.sim_engine_helpers import DOLLAR, IOC, MICRO_DOLLAR, ask, bid, build_exchange, of_type


def test_fee_when_series_is_quadratic_maker_pays_nothing_taker_pays_ceil_to_cent():
    x, _, events = build_exchange()
    x.create_order("alice", bid("M", 50, 10))
    x.create_order("bob", ask("M", 50, 10, time_in_force=IOC))
    fees = {e.fill.user_id: e.fill.fee for e in of_type(events, FillExecuted)}
    assert fees == {"alice": 0, "bob": 1750}
    bob = x.positions("bob")[0]
    # Kalshi's fees_paid is the plain sum of the fills' fee_cost; cash also paid the $0.005 rounding fee
    assert (bob.fees_paid, bob.fees_charged) == (175_000, 180_000)
    assert x.balance("bob").available == 1_000 * DOLLAR - 5 * DOLLAR - 1_800  # NO at $0.50 x 10 + $0.18
    assert x.positions("alice")[0].fees_paid == 0


def test_fee_when_series_has_maker_fees_maker_pays_a_quarter_rate():
    x, _, events = build_exchange()
    x.create_order("alice", bid("MF", 50, 10))
    x.create_order("bob", ask("MF", 50, 10, time_in_force=IOC))
    fees = {e.fill.user_id: e.fill.fee for e in of_type(events, FillExecuted)}
    assert fees == {"alice": 438, "bob": 1750}  # 0.0175 x 10 x 0.25 = 0.04375 -> $0.0438
    assert x.balance("alice").available == 1_000 * DOLLAR - 50_500  # $5 + fee floored to $0.05


def test_fee_when_one_order_fills_twice_the_rounding_accumulator_refunds_a_cent():
    x, _, _ = build_exchange()
    x.create_order("bob", ask("M", 50, 10))
    x.create_order("carol", ask("M", 50, 10))
    x.create_order("alice", bid("M", 50, 20, time_in_force=IOC))
    # two fills of $0.175 each: charged 0.18 then 0.18 - 0.01 rebate = exactly the $0.35 of one fill
    assert x.balance("alice").available == 1_000 * DOLLAR - 100_000 - 3_500
    alice = x.positions("alice")[0]
    assert (alice.fees_paid, alice.fees_charged) == (35 * MICRO_DOLLAR // 100, 35 * MICRO_DOLLAR // 100)
    assert x.total_money() == x.total_deposits()


def test_fee_when_subpenny_and_fractional_fills_cash_stays_cent_aligned_and_conserved():
    x, _, _ = build_exchange()
    x.create_order("alice", bid("D", 55.5, 1.37))
    x.create_order("bob", ask("D", 50.1, 3.03, time_in_force=IOC))
    x.create_order("carol", ask("D", 55.3, 0.5))
    x.create_order("bob", bid("D", 56.7, 2.21, time_in_force=IOC))
    for user in ("alice", "bob", "carol"):
        x.cancel_all(user)
        balance = x.balance(user)
        assert balance.locked == 0
        assert balance.available % 100 == 0, user
    assert x.total_money() == x.total_deposits()
    assert sum(p.position for p in x.all_positions("D")) == 0
