"""The shared post-only step: whatever a strategy or a rule proposes, no level rests at or through
the book, none is off the market's grid, and a dropped level is counted (never moved)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.book import OrderBook
from mmframe.domain.grid import PriceRange, TickGrid
from mmframe.domain.post_only import post_only_safe
from mmframe.domain.quote import Level, Quote

GRIDS = [
    TickGrid.linear_cent(),
    TickGrid.uniform(10),
    TickGrid([PriceRange(0, 1000, 10), PriceRange(1000, 9000, 100), PriceRange(9000, 10_000, 10)]),
]


def book(yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> OrderBook:
    b = OrderBook("M")
    b.apply_snapshot(yes, no, ts_ns=1)
    return b


def test_post_only_keeps_a_bid_one_tick_behind_the_best_ask_and_drops_one_at_it() -> None:
    b = book([(4800, 100)], [(4800, 100)])  # 0.48 / 0.52
    quote = Quote("M", (Level(5100, 100), Level(5200, 100)), (Level(4900, 100), Level(4800, 100)))
    safe, dropped = post_only_safe(quote, b, TickGrid.linear_cent())
    assert safe == Quote("M", (Level(5100, 100),), (Level(4900, 100),))
    assert dropped == 2


def test_post_only_with_the_grid_drops_an_off_grid_level() -> None:
    b = book([(4800, 100)], [(4800, 100)])
    quote = Quote("M", (Level(4950, 100),), (Level(5050, 100),))  # half-cent prices on a cent grid
    assert post_only_safe(quote, b, TickGrid.linear_cent()) == (Quote("M", (), ()), 2)
    assert post_only_safe(quote, b) == (quote, 0)  # grid unknown: the venue's to refuse


def test_post_only_when_the_book_is_invalid_passes_the_quote_unchanged() -> None:
    b = book([(4800, 100)], [(4800, 100)])
    b.invalidate()
    quote = Quote("M", (Level(9000, 100),), ())
    assert post_only_safe(quote, b, TickGrid.linear_cent()) == (quote, 0)


@settings(max_examples=400, deadline=None)
@given(
    grid=st.sampled_from(GRIDS),
    yes=st.lists(st.tuples(st.integers(1, 99).map(lambda c: c * 100), st.integers(1, 100)), max_size=3,
                 unique_by=lambda level: level[0]),
    no=st.lists(st.tuples(st.integers(1, 99).map(lambda c: c * 100), st.integers(1, 100)), max_size=3,
                unique_by=lambda level: level[0]),
    bids=st.lists(st.integers(-100, 10_100), max_size=3),
    asks=st.lists(st.integers(-100, 10_100), max_size=3),
)
def test_post_only_output_never_crosses_is_on_grid_and_counts_exactly_what_it_dropped(
    grid: TickGrid, yes: list[tuple[int, int]], no: list[tuple[int, int]], bids: list[int], asks: list[int]
) -> None:
    b = book(yes, no)
    quote = Quote("M", tuple(Level(p, 100) for p in bids), tuple(Level(p, 100) for p in asks))
    safe, dropped = post_only_safe(quote, b, grid)
    best_bid, best_ask = b.best_bid(), b.best_ask()
    for level in safe.bids:
        assert grid.is_valid(level.price)
        assert best_ask is None or level.price < best_ask
    for level in safe.asks:
        assert grid.is_valid(level.price)
        assert best_bid is None or level.price > best_bid
    assert set(safe.bids) <= set(quote.bids) and set(safe.asks) <= set(quote.asks)  # dropped, never moved
    assert dropped == len(quote.bids) + len(quote.asks) - len(safe.bids) - len(safe.asks)
