"""Positions and the ledger: average cost, realised/unrealised PnL, settlement, worst-case loss."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.ledger import Ledger, Position
from mmframe.domain.quote import BookSide

BID, ASK = BookSide.BID, BookSide.ASK


def test_position_when_buying_twice_then_average_price() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=170)
    pos.apply_fill(BID, 5000, 1000, fee=180)
    assert pos.position == 2000
    assert pos.avg_price == 4500
    assert pos.fees == 350
    assert pos.volume == 2000
    assert pos.realised_pnl == 0
    assert pos.unrealised_pnl(5000) == 10_000  # 20 contracts x $0.05 = $1.00
    assert pos.net_pnl(5000) == 10_000 - 350


def test_position_when_selling_part_then_realised_against_average() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=0)
    pos.apply_fill(ASK, 4600, 400, fee=0)
    assert pos.position == 600
    assert pos.realised_pnl == 2400  # 4 x $0.06
    assert pos.avg_price == 4000


def test_position_when_fill_flips_long_to_short_then_new_basis_at_fill_price() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=0)
    pos.apply_fill(ASK, 5000, 1500, fee=0)
    assert pos.position == -500
    assert pos.realised_pnl == 10_000
    assert pos.avg_price == 5000
    assert pos.unrealised_pnl(4000) == 5000  # short 5 from 0.50, marked 0.40


def test_position_when_short_then_profits_as_price_falls() -> None:
    pos = Position("X")
    pos.apply_fill(ASK, 7000, 1000, fee=0)
    assert pos.unrealised_pnl(6000) == 10_000
    pos.apply_fill(BID, 6500, 1000, fee=0)
    assert pos.position == 0
    assert pos.realised_pnl == 5000
    assert pos.unrealised_pnl(1) == 0


def test_position_when_flat_or_no_mark_then_unrealised_zero() -> None:
    pos = Position("X")
    assert pos.unrealised_pnl(5000) == 0
    pos.apply_fill(BID, 4000, 100, fee=0)
    assert pos.unrealised_pnl(None) == 0


def test_position_when_fractional_average_then_floored_and_round_trip_exact() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 3333, 1, fee=0)
    pos.apply_fill(BID, 3334, 2, fee=0)
    assert pos.avg_price == 3333  # 3333.67 floored
    pos.apply_fill(ASK, 4000, 1, fee=0)
    pos.apply_fill(ASK, 4000, 2, fee=0)
    assert pos.position == 0
    assert pos.realised_pnl * 100 <= (4000 * 3 - 3333 - 2 * 3334)
    assert pos.cash_flow == pos.realised_pnl


def test_position_when_yes_wins_then_long_paid_and_pnl_booked() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=170)
    assert pos.settle(yes_won=True) == 100_000  # 10 x $1
    assert pos.position == 0
    assert pos.realised_pnl == 60_000
    assert pos.net_pnl(None) == 60_000 - 170
    assert pos.settled


def test_position_when_short_and_no_wins_then_no_contracts_paid() -> None:
    pos = Position("X")
    pos.apply_fill(ASK, 3000, 1000, fee=0)  # buys 10 NO at $0.70
    assert pos.settle(yes_won=False) == 100_000
    assert pos.realised_pnl == 30_000


def test_position_when_short_and_yes_wins_then_loses_payout_minus_price() -> None:
    pos = Position("X")
    pos.apply_fill(ASK, 3000, 1000, fee=0)
    assert pos.settle(yes_won=True) == 0
    assert pos.realised_pnl == -70_000


def test_worst_case_loss_when_long_then_cost_of_position() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=0)
    assert pos.worst_case_loss() == 40_000


def test_worst_case_loss_when_short_then_payout_minus_price() -> None:
    pos = Position("X")
    pos.apply_fill(ASK, 4000, 1000, fee=0)
    assert pos.worst_case_loss() == 60_000


def test_worst_case_loss_when_resting_orders_priced_then_adds_their_worst_case() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=0)
    # NO wins: lose 40,000 on the position + 5 x 0.45 on the bid; YES wins: +60,000 - 3 x 0.50.
    orders = [(BID, 4500, 500), (ASK, 5000, 300)]
    assert pos.worst_case_loss_with(orders) == 40_000 + 22_500
    # Without prices every resting contract is charged the payout.
    assert pos.worst_case_loss(resting_bids=500) == 40_000 + 50_000


def test_worst_case_loss_when_asks_hedge_long_then_loss_is_max_of_outcomes() -> None:
    pos = Position("X")
    pos.apply_fill(BID, 4000, 1000, fee=0)
    # Asks lose only if YES wins, where the long gains 60,000.
    assert pos.worst_case_loss_with([(ASK, 5000, 2000)]) == 40_000
    assert pos.worst_case_loss_with([(ASK, 1000, 3000)]) == 3000 * 9000 // 100 - 60_000


def test_position_when_seeded_then_marks_from_seed() -> None:
    pos = Position("X")
    pos.seed(-1000, 6000)
    assert pos.position == -1000
    assert pos.avg_price == 6000
    assert pos.unrealised_pnl(5000) == 10_000
    assert pos.worst_case_loss() == 40_000


def test_position_when_fill_count_not_positive_raises() -> None:
    with pytest.raises(ValueError, match="fill count must be positive"):
        Position("X").apply_fill(BID, 5000, 0, fee=0)


def test_ledger_when_fills_in_two_markets_then_totals() -> None:
    ledger = Ledger()
    ledger.position("A").apply_fill(BID, 4000, 1000, fee=10)
    ledger.position("B").apply_fill(ASK, 6000, 1000, fee=20)
    ledger.position("A").apply_fill(ASK, 4500, 1000, fee=5)
    assert set(ledger.positions) == {"A", "B"}
    assert ledger.realised_pnl() == 5000
    assert ledger.fees() == 35
    assert ledger.unrealised_pnl({"B": 5500}) == 5000
    assert ledger.unrealised_pnl({}) == 0
    assert ledger.net_pnl({"B": 5500}) == 10_000 - 35


_fills = st.lists(
    st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 9999), st.integers(1, 5000), st.integers(0, 200)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_fills, st.integers(0, 10_000))
def test_position_when_random_fills_then_pnl_identity_holds(
    fills: list[tuple[BookSide, int, int, int]], mark: int
) -> None:
    pos = Position("X")
    cash_micro = 0
    signed = 0
    fees = 0
    for side, price, count, fee in fills:
        pos.apply_fill(side, price, count, fee)
        direction = 1 if side is BID else -1
        cash_micro -= direction * price * count
        signed += direction * count
        fees += fee
    assert pos.position == signed
    assert pos.fees == fees
    # realised + unrealised == cash flow + mark value, exactly (both floored from micro units).
    assert pos.realised_pnl + pos.unrealised_pnl(mark) == (cash_micro + signed * mark) // 100
    assert pos.net_pnl(mark) == (cash_micro + signed * mark) // 100 - fees
    # the worst case is the open position's loss when settling the worse way (floor vs ceil: +1)
    expected = max(0, -pos.unrealised_pnl(0), -pos.unrealised_pnl(10_000))
    assert expected <= pos.worst_case_loss() <= expected + 1
    settled = pos.settle(yes_won=mark >= 5000)
    final = 10_000 if mark >= 5000 else 0
    assert pos.position == 0
    assert pos.realised_pnl == (cash_micro + signed * final) // 100
    assert settled == (signed * final if signed > 0 else -signed * (10_000 - final)) // 100


def test_ledger_when_a_position_is_created_or_changes_tells_its_watchers_the_ticker() -> None:
    ledger = Ledger()
    heard: list[str] = []
    ledger.watch(heard.append)
    position = ledger.position("X")
    ledger.position("X")  # already there: no change
    position.apply_fill(BID, 4000, 1000, fee=0)
    position.payout = 5000
    position.payout = 5000  # the same payout: no change
    position.seed(300, 4500)
    position.settle(yes_won=True)
    assert heard == ["X"] * 5


def test_position_when_not_in_a_ledger_changes_quietly() -> None:
    position = Position("X")
    position.apply_fill(BID, 4000, 1000, fee=0)
    position.payout = 5000
    assert position.payout == 5000 and position.position == 1000


def test_ledger_book_when_an_order_fills_in_parts_charges_the_venue_s_per_order_fee() -> None:
    ledger = Ledger()
    # 3 then 7 contracts of one order at $0.50 (trade fees $0.0525, $0.1225): the balance pays $0.18.
    assert ledger.book("A", BID, 5000, 300, 525, "o1") == 600 * 100
    assert ledger.book("A", BID, 5000, 700, 1225, "o1") == 1200 * 100
    assert ledger.position("A").fees == 1800
    assert ledger.book("A", ASK, 5000, 100, 175, None) == 175 * 100  # no order (carried in): as given


def test_position_carry_when_given_an_exact_cost_books_later_fills_against_it() -> None:
    pos = Position("A")
    pos.carry(300, 1_000_000)  # 3 contracts that cost $1.00 ($0.3333... each)
    assert pos.cost_basis_micro == 1_000_000 and pos.realised_pnl == 0 and pos.fees == 0
    assert pos.net_micro(None) == 0 and pos.net_micro(4000) == 300 * 4000 - 1_000_000
    pos.apply_fill(ASK, 4000, 300, 0)
    assert pos.position == 0 and pos.realised_micro == 200_000  # $1.20 - $1.00, exactly
    short = Position("B")
    short.carry(-200, 1_200_000)  # short 2 at $0.60
    short.apply_fill(BID, 5000, 200, 0)
    assert short.realised_pnl == 2000


def test_position_carry_when_cost_negative_refuses_it() -> None:
    with pytest.raises(ValueError, match="cost basis"):
        Position("A").carry(100, -1)
