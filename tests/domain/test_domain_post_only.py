"""The shared post-only step: whatever a strategy or a rule proposes, no level rests at or through
the book (on the market's grid: at least one tick behind the other side's best), and a dropped
level is counted, never moved. An off-grid price is the venue's to refuse (the reject guard's
end-to-end test relies on it)."""

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
    safe, dropped = post_only_safe(quote, b)
    assert safe == Quote("M", (Level(5100, 100),), (Level(4900, 100),))
    assert dropped == 2
    grid = TickGrid.linear_cent()  # the highest bid allowed is one tick behind the best ask
    assert grid.next_down(b.best_ask() or 0) == safe.bids[0].price


def test_post_only_when_the_book_is_invalid_passes_the_quote_unchanged() -> None:
    b = book([(4800, 100)], [(4800, 100)])
    b.invalidate()
    quote = Quote("M", (Level(9000, 100),), ())
    assert post_only_safe(quote, b) == (quote, 0)


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
def test_post_only_output_never_crosses_and_counts_exactly_what_it_dropped(
    grid: TickGrid, yes: list[tuple[int, int]], no: list[tuple[int, int]], bids: list[int], asks: list[int]
) -> None:
    b = book(yes, no)
    on_grid = [grid.round_down(p) for p in bids] + [grid.round_up(p) for p in asks]
    quote = Quote("M", tuple(Level(p, 100) for p in on_grid[: len(bids)] if p is not None),
                  tuple(Level(p, 100) for p in on_grid[len(bids):] if p is not None))
    safe, dropped = post_only_safe(quote, b)
    best_bid, best_ask = b.best_bid(), b.best_ask()
    for level in safe.bids:  # on the grid, strictly below: at most the tick under the best ask
        assert best_ask is None or level.price <= (grid.next_down(best_ask) or 0)
    for level in safe.asks:
        assert best_bid is None or level.price >= (grid.next_up(best_bid) or 10_000)
    assert set(safe.bids) <= set(quote.bids) and set(safe.asks) <= set(quote.asks)  # dropped, never moved
    assert dropped == len(quote.bids) + len(quote.asks) - len(safe.bids) - len(safe.asks)
