"""Tick grids from Kalshi price_ranges: validity, rounding, sub-penny and wide grids."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.grid import PriceRange, TickGrid
from mmframe.domain.money import FixedPointError

SAMPLES = Path("/work/shared/kalshi/samples/rest")
TAPERED = [
    {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
    {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
    {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
]


def _sample_grids() -> dict[str, TickGrid]:
    path = SAMPLES / "get_markets_response.json"
    if not path.exists():
        pytest.skip("Kalshi samples not available")
    pages = json.loads(path.read_text())  # a list of captured response bodies
    markets = [m for page in pages for m in page["markets"]]
    return {m["price_level_structure"]: TickGrid.from_kalshi(m["price_ranges"]) for m in markets}


def test_grid_when_built_from_sample_markets_matches_structure() -> None:
    grids = _sample_grids()
    assert grids["linear_cent"] == TickGrid.linear_cent()
    assert grids["tapered_deci_cent"] == TickGrid.from_kalshi(TAPERED)


def test_linear_cent_when_bounds_then_excludes_zero_and_one_dollar() -> None:
    grid = TickGrid.linear_cent()
    assert (grid.min_price, grid.max_price) == (100, 9900)
    assert not grid.is_valid(0)
    assert not grid.is_valid(10_000)
    assert grid.is_valid(5600)
    assert not grid.is_valid(5650)


def test_linear_cent_when_rounding_bids_down_and_asks_up() -> None:
    grid = TickGrid.linear_cent()
    assert grid.round_down(5650) == 5600
    assert grid.round_up(5650) == 5700
    assert grid.round_down(5600) == 5600
    assert grid.round_up(5600) == 5600


def test_linear_cent_when_rounding_outside_grid_returns_none_or_clamps() -> None:
    grid = TickGrid.linear_cent()
    assert grid.round_down(99) is None
    assert grid.round_down(0) is None
    assert grid.round_up(9901) is None
    assert grid.round_up(10_000) is None
    assert grid.round_down(10_000) == 9900  # a bid above the grid is clamped to the top tick
    assert grid.round_up(-5) == 100
    assert grid.next_up(9900) is None
    assert grid.next_down(100) is None


def test_tapered_grid_when_deci_cent_tails_then_valid_sub_penny_prices() -> None:
    grid = TickGrid.from_kalshi(TAPERED)
    assert (grid.min_price, grid.max_price) == (10, 9990)
    assert grid.is_valid(10)  # $0.001
    assert grid.is_valid(1000)  # shared boundary of two ranges
    assert grid.is_valid(9010)
    assert not grid.is_valid(1010)  # only whole cents in the middle
    assert grid.round_down(1055) == 1000
    assert grid.round_up(1055) == 1100
    assert grid.round_up(955) == 960
    assert grid.next_up(990) == 1000
    assert grid.next_up(1000) == 1100
    assert grid.next_down(1000) == 990
    assert grid.next_up(8900) == 9000
    assert grid.next_up(9000) == 9010
    assert grid.round_up(9995) is None


def test_deci_cent_grid_when_sub_penny_then_tenth_cent_ticks() -> None:
    grid = TickGrid.from_kalshi([{"start": "0.0000", "end": "1.0000", "step": "0.0010"}])
    assert grid.round_down(5678) == 5670
    assert grid.round_up(5671) == 5680
    assert (grid.min_price, grid.max_price) == (10, 9990)


def test_wide_grid_when_paper_market_then_constant_time_math() -> None:
    # $0.0001 steps up to $1000: ten million ticks, never enumerated.
    grid = TickGrid.uniform(step=1, top=10_000_000)
    assert grid.min_price == 1
    assert grid.max_price == 9_999_999
    assert grid.round_down(1_000_000) == 1_000_000
    assert grid.next_up(1_000_000) == 1_000_001
    coarse = TickGrid.uniform(step=100, top=10_000_000)
    assert coarse.round_up(1_000_001) == 1_000_100


def test_grid_when_ranges_have_a_gap_then_rounding_skips_it() -> None:
    grid = TickGrid([PriceRange(0, 2000, 100), PriceRange(8000, 10_000, 100)])
    assert not grid.is_valid(5000)
    assert grid.round_down(5000) == 2000
    assert grid.round_up(5000) == 8000


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([], "at least one price range"),
        ([{"start": "0.0000", "end": "1.0000", "step": "0.0000"}], "step must be positive"),
        ([{"start": "0.5000", "end": "0.4000", "step": "0.0100"}], "start < end"),
        ([{"start": "0.0000", "end": "0.0100", "step": "0.0100"}], "no valid price"),
        ([{"start": "0.0000", "end": "1.0000"}], "lacks 'step'"),
    ],
)
def test_grid_when_ranges_invalid_raises_clear_error(ranges: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TickGrid.from_kalshi(ranges)


def test_grid_when_range_number_malformed_raises_fixed_point_error() -> None:
    with pytest.raises(FixedPointError, match=r"price '0\.01x'"):
        TickGrid.from_kalshi([{"start": "0.0000", "end": "1.0000", "step": "0.01x"}])


def _brute_valid(grid: TickGrid) -> list[int]:
    lo = min(r.start for r in grid.ranges)
    hi = max(r.end for r in grid.ranges)
    ticks = {r.start + k * r.step for r in grid.ranges for k in range((r.end - r.start) // r.step + 1)}
    return sorted(t for t in ticks if lo < t < hi)


@st.composite
def _grids(draw: st.DrawFn) -> TickGrid:
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=0, max_size=3)))
    bounds = [0, *cuts, 100]
    ranges = []
    for start, end in itertools.pairwise(bounds):
        step = draw(st.sampled_from([1, 2, 5, 10]))
        ranges.append(PriceRange(start * 100, end * 100, step * 10))
    return TickGrid(ranges)


@settings(deadline=None)
@given(_grids(), st.integers(-100, 10_100))
def test_grid_when_any_price_rounding_matches_brute_force(grid: TickGrid, price: int) -> None:
    valid = _brute_valid(grid)
    below = [t for t in valid if t <= price]
    above = [t for t in valid if t >= price]
    assert grid.round_down(price) == (below[-1] if below else None)
    assert grid.round_up(price) == (above[0] if above else None)
    assert grid.is_valid(price) == (price in valid)
    assert (grid.min_price, grid.max_price) == (valid[0], valid[-1])
