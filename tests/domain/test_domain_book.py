"""The order book: YES/NO ladders in YES terms, deltas, best prices and depth."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.book import OrderBook
from mmframe.domain.events import BookDeltaReceived, BookSnapshotReceived, Leg
from mmframe.domain.quote import BookSide


def _book() -> OrderBook:
    book = OrderBook("FED-23DEC-T3.00")
    # API.md §6 snapshot: YES bids 0.08 x 300, 0.22 x 333; NO bids 0.54 x 20, 0.56 x 146.
    book.apply_snapshot([(800, 30_000), (2200, 33_300)], [(5400, 2000), (5600, 14_600)], ts_ns=5)
    return book


def test_book_when_snapshot_then_asks_are_payout_minus_no_bids() -> None:
    book = _book()
    assert book.valid
    assert book.best_bid() == 2200
    assert book.best_ask() == 4400  # 1 - 0.56
    assert book.best_bid_size() == 33_300
    assert book.best_ask_size() == 14_600
    assert book.bids() == [(2200, 33_300), (800, 30_000)]
    assert book.asks() == [(4400, 14_600), (4600, 2000)]
    assert book.asks(1) == [(4400, 14_600)]
    assert book.size_at(BookSide.ASK, 4600) == 2000
    assert book.size_at(BookSide.BID, 800) == 30_000
    assert book.leg_size_at(Leg.NO, 5600) == 14_600
    assert book.last_update_ns == 5


def test_book_when_new_book_then_invalid_and_empty() -> None:
    book = OrderBook("X")
    assert not book.valid
    assert book.best_bid() is None and book.best_ask() is None
    assert book.mid() is None and book.microprice() is None
    assert book.best_bid_size() == 0
    assert not book.is_crossed() and not book.is_locked()
    assert book.last_update_ns is None


def test_book_when_delta_removes_best_then_next_level_is_best() -> None:
    book = _book()
    book.apply_delta(Leg.YES, 2200, -33_300, ts_ns=9)
    assert book.best_bid() == 800
    book.apply_delta(Leg.NO, 5600, -20_000)  # over-removal removes the level
    assert book.best_ask() == 4600
    assert book.size_at(BookSide.ASK, 4400) == 0


def test_book_when_delta_improves_best_then_best_moves() -> None:
    book = _book()
    book.apply_delta(Leg.YES, 3000, 500)
    book.apply_delta(Leg.NO, 6000, 700)
    assert (book.best_bid(), book.best_ask()) == (3000, 4000)
    assert (book.best_bid_size(), book.best_ask_size()) == (500, 700)


def test_book_when_snapshot_has_empty_levels_then_ignored() -> None:
    book = OrderBook("X")
    book.apply_snapshot([(100, 0), (200, -5), (300, 10)], [])
    assert book.bids() == [(300, 10)]
    assert book.asks() == []


def test_book_when_mid_and_microprice_then_floored_integer() -> None:
    book = OrderBook("X")
    book.apply_snapshot([(4500, 100)], [(5400, 300)])  # ask 4600
    assert book.mid() == 4550
    assert book.microprice() == (4500 * 300 + 4600 * 100) // 400  # 4525
    book.apply_delta(Leg.YES, 4500, -99)
    book.apply_delta(Leg.NO, 5400, -299)
    book.apply_delta(Leg.YES, 4501, 1)
    assert book.mid() == (4501 + 4600) // 2


def test_book_when_bid_equals_ask_then_locked_not_crossed() -> None:
    book = OrderBook("X")
    book.apply_snapshot([(5000, 100)], [(5000, 100)])
    assert book.is_locked() and not book.is_crossed()
    book.apply_delta(Leg.YES, 5100, 100)
    assert book.is_crossed() and not book.is_locked()
    assert book.spread() == -100


def test_book_when_invalidated_then_invalid_until_next_snapshot() -> None:
    book = _book()
    book.invalidate()
    assert not book.valid
    book.apply_delta(Leg.YES, 2300, 100)
    assert not book.valid
    book.apply_snapshot([(100, 1)], [])
    assert book.valid
    assert book.bids() == [(100, 1)]


def test_book_when_depth_then_sums_levels_at_or_better() -> None:
    book = _book()
    assert book.depth(BookSide.BID, 800) == 63_300
    assert book.depth(BookSide.BID, 2200) == 33_300
    assert book.depth(BookSide.BID, 2201) == 0
    assert book.depth(BookSide.ASK, 4400) == 14_600
    assert book.depth(BookSide.ASK, 4600) == 16_600


def test_book_when_payout_differs_then_asks_use_it() -> None:
    book = OrderBook("PAPER", payout=10_000_000)
    book.apply_snapshot([(1_000_000, 100)], [(8_999_000, 100)])
    assert book.best_ask() == 1_001_000
    assert book.mid() == 1_000_500


def test_book_when_event_objects_applied_then_same_as_direct_calls() -> None:
    book = OrderBook("X")
    book.apply(BookSnapshotReceived(ts_ns=1, ticker="X", yes_bids=((100, 5),), no_bids=((9800, 7),)))
    book.apply(BookDeltaReceived(ts_ns=2, ticker="X", leg=Leg.YES, price=150, delta=3))
    assert book.bids() == [(150, 3), (100, 5)]
    assert book.asks() == [(200, 7)]
    assert book.last_update_ns == 2


_levels = st.lists(st.tuples(st.integers(1, 60), st.integers(1, 500)), max_size=12)
_deltas = st.lists(
    st.tuples(st.sampled_from([Leg.YES, Leg.NO]), st.integers(1, 60), st.integers(-600, 600)), max_size=80
)


@settings(max_examples=200, deadline=None)
@given(_levels, _levels, _deltas, st.data())
def test_book_when_random_deltas_then_matches_naive_model(
    yes: list[tuple[int, int]],
    no: list[tuple[int, int]],
    deltas: list[tuple[Leg, int, int]],
    data: st.DataObject,
) -> None:
    book = OrderBook("X", payout=100)
    book.apply_snapshot(yes, no)
    model = {Leg.YES: dict(yes), Leg.NO: dict(no)}
    for step, (leg, price, delta) in enumerate(deltas):
        book.apply_delta(leg, price, delta, ts_ns=step)
        size = model[leg].get(price, 0) + delta
        if size > 0:
            model[leg][price] = size
        else:
            model[leg].pop(price, None)
        if data.draw(st.booleans()):  # interleave reads so the lazy best cache is exercised
            assert book.best_bid() == max(model[Leg.YES], default=None)
    bids = sorted(model[Leg.YES].items(), reverse=True)
    asks = sorted((100 - p, s) for p, s in model[Leg.NO].items())
    assert book.bids() == bids
    assert book.asks() == asks
    assert book.bids(3) == bids[:3]
    assert book.asks(2) == asks[:2]
    assert book.best_bid() == (bids[0][0] if bids else None)
    assert book.best_ask() == (asks[0][0] if asks else None)
    assert book.best_bid_size() == (bids[0][1] if bids else 0)
    assert book.best_ask_size() == (asks[0][1] if asks else 0)
    if bids and asks:
        assert book.is_crossed() == (bids[0][0] > asks[0][0])
        assert book.is_locked() == (bids[0][0] == asks[0][0])
        assert book.mid() == (bids[0][0] + asks[0][0]) // 2
