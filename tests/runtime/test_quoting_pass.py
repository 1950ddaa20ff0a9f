"""`QuotingPass`: a market an event dirties during a long pass (housekeeping marks every market dirty)
is served next, not after the rest of the sweep (the 2,000-market p99 regression of issue 11)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.runtime.passes import QuotingPass
from mmframe.runtime.quoting import QuotingCore
from tests.runtime.test_quoting_core_review import FixedStrategy

MARKETS = 2_000


def _core(markets: int = MARKETS) -> QuotingCore:
    core = QuotingCore(strategy=FixedStrategy(), rules=[], now_ns=lambda: 0, emit=lambda _e: None)
    for i in range(markets):
        core.market(f"M{i:04d}")
    return core


def test_a_market_dirtied_mid_sweep_is_served_next_not_after_the_sweep() -> None:
    core = _core()
    core.housekeeping()  # every market dirty: one long pass
    sweep = QuotingPass(core)
    served = [next(sweep) for _ in range(10)]
    assert served == [f"M{i:04d}" for i in range(10)]
    core.mark_dirty("M1500")  # an event while the pass yielded
    visited_before = 0
    for ticker in sweep:
        if ticker == "M1500":
            break
        visited_before += 1
    assert visited_before == 0  # O(1), not the ~1,490 markets left in the sweep


def test_a_market_that_jumped_the_queue_is_not_served_twice_in_the_pass() -> None:
    core = _core(50)
    core.housekeeping()
    sweep = QuotingPass(core)
    next(sweep)
    core.mark_dirty("M0040")
    served = list(sweep)
    assert served.count("M0040") == 1
    assert served[0] == "M0040"
    assert sorted(served) == [f"M{i:04d}" for i in range(1, 50)]
    assert sweep.jumped == 1


def test_a_market_dirtied_again_after_its_turn_is_served_again() -> None:
    core = _core(5)
    core.housekeeping()
    sweep = QuotingPass(core)
    assert next(sweep) == "M0000"
    core.mark_dirty("M0000")  # a new event after its requote
    assert list(sweep) == ["M0000", "M0001", "M0002", "M0003", "M0004"]
    assert not core.dirty


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=30),
    st.lists(st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=29)), max_size=30),
)
def test_every_dirty_market_is_served_once_after_its_last_mark(initial: int, events: list[tuple[int, int]]) -> None:
    """Whatever the interleaving of marks and steps: each market marked dirty is served after its
    last mark, nothing is served that was never marked, and the pass ends with nothing dirty."""
    core = _core(30)
    for i in range(initial):
        core.mark_dirty(f"M{i:04d}")
    sweep = QuotingPass(core)
    last_mark = {f"M{i:04d}": -1 for i in range(initial)}
    served: list[tuple[int, str]] = []
    steps = dict(events)
    step = 0
    while True:
        if step in steps:
            ticker = f"M{steps[step]:04d}"
            core.mark_dirty(ticker)
            last_mark[ticker] = step
        try:
            served.append((step, next(sweep)))
        except StopIteration:
            break
        step += 1
    assert not core.dirty or max(steps, default=-1) > step
    served_at: dict[str, int] = {}
    for at, ticker in served:
        served_at[ticker] = at
    for ticker, marked in last_mark.items():
        if marked <= step:
            assert served_at.get(ticker, -2) >= marked, ticker
    assert set(served_at) <= set(last_mark)
