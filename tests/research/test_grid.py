"""``--grid``: lists and inclusive decimal ranges, refused when they cannot be meant, and the index
arithmetic the search uses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmframe.research.grid import MAX_VALUES_PER_KEY, Axis, Grid, GridError, parse_axis
from mmframe.research.search import Space


def test_axis_when_list_keeps_values_as_written() -> None:
    assert parse_axis("strategy.with.gamma=0.01, 0.1,1") == Axis("strategy.with.gamma", ("0.01", "0.1", "1"))


def test_axis_when_range_is_inclusive_and_exact_in_decimal() -> None:
    axis = parse_axis("strategy.with.spread=0.02:0.08:0.01")
    assert axis.values == ("0.02", "0.03", "0.04", "0.05", "0.06", "0.07", "0.08")
    assert parse_axis("k=1:2:0.5").values == ("1.0", "1.5", "2.0")
    assert parse_axis("n=1:10:4").values == ("1", "5", "9")  # stops before passing STOP


@pytest.mark.parametrize("text, words", [
    ("gamma", "expected KEY=V1,V2"),
    ("=1,2", "expected KEY=V1,V2"),
    ("a..b=1", "not a dotted key"),
    ("k=1,,2", "empty value"),
    ("k=1,1", "repeated"),
    ("k=1:0:1", "STOP is below START"),
    ("k=0:1:0", "STEP must be positive"),
    ("k=0:1:-1", "STEP must be positive"),
    ("k=a:b:c", "decimal numbers"),
    ("k=0:1:NaN", "finite"),
    (f"k=1:{MAX_VALUES_PER_KEY + 1}:1", "at most"),
])
def test_axis_when_malformed_is_refused_quoting_it(text: str, words: str) -> None:
    with pytest.raises(GridError, match=words) as caught:
        parse_axis(text)
    assert repr(text) in str(caught.value)


def test_grid_when_key_repeats_or_space_is_huge_is_refused() -> None:
    with pytest.raises(GridError, match="more than once"):
        Grid.parse(["k=1,2", "k=3"])
    with pytest.raises(GridError, match="at least one"):
        Grid.parse([])
    with pytest.raises(GridError, match="combinations"):
        Grid.parse(["a=1:1000:1", "b=1:1000:1"])


@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4), st.integers(1, 3))
def test_space_when_indexed_matches_enumeration_and_inverts(sizes: list[int], files: int) -> None:
    grid = Grid(tuple(Axis(f"k{i}", tuple(str(v) for v in range(n))) for i, n in enumerate(sizes)))
    space = Space(tuple(f"f{i}.yaml" for i in range(files)), grid)
    enumerated = [(f, c) for f in space.files for c in grid.combinations()]
    assert len(enumerated) == space.size
    for index, (file, values) in enumerate(enumerated):
        point = space.combination(index)
        assert (point.file, tuple(v for _, v in point.params)) == (file, values)
        assert space.index_of(file, values) == index
    assert next(grid.combinations()) == grid.combination(0)
