"""The gate: which actions pass, when, and who can open it again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmframe.api import AmendOrder, BookSide, CancelOrder, CreateOrder, DecreaseOrder, TestClock
from mmframe.runtime.gate import Gate, GateState

CREATE = CreateOrder(client_order_id="c", ticker="T", side=BookSide.BID, price=4_000, size=100)
AMEND = AmendOrder(client_order_id="c", new_client_order_id="d", ticker="T", side=BookSide.BID, price=4_100, size=100)
CANCEL = CancelOrder(client_order_id="c", ticker="T")
DECREASE = DecreaseOrder(client_order_id="c", ticker="T", size=50)
CLOSE = CreateOrder(client_order_id="x", ticker="T", side=BookSide.ASK, price=3_000, size=100, post_only=False,
                    immediate_or_cancel=True, reduce_only=True)


def test_gate_when_open_allows_everything_decided_recently() -> None:
    clock = TestClock()
    gate = Gate(clock.monotonic_ns)
    decided = clock.monotonic_ns()
    clock.advance(0.999)
    assert all(gate.allows(a, decided) for a in (CREATE, AMEND, CANCEL, DECREASE))


def test_gate_when_decision_older_than_max_age_refuses_creates_and_amends_only() -> None:
    clock = TestClock()
    gate = Gate(clock.monotonic_ns, max_age_ns=1_000_000_000)
    decided = clock.monotonic_ns()
    clock.advance(1.001)
    assert not gate.allows(CREATE, decided)
    assert not gate.allows(AMEND, decided)
    assert gate.allows(CANCEL, decided) and gate.allows(DECREASE, decided)
    assert gate.blocked == 2


@pytest.mark.parametrize("state", [GateState.PAUSED, GateState.HALTED, GateState.STOPPING])
def test_gate_when_closed_refuses_creates_and_amends_but_passes_cancels(state: GateState) -> None:
    gate = Gate(TestClock().monotonic_ns)
    gate.close(state, "why")
    assert not gate.allows(CREATE) and not gate.allows(AMEND) and not gate.allows(CLOSE)
    assert gate.allows(CANCEL) and gate.allows(DECREASE)
    assert gate.describe() == {"state": state.value, "reason": "why", "blocked": 3}


def test_gate_when_flattening_passes_only_reduce_only_ioc_closes() -> None:
    gate = Gate(TestClock().monotonic_ns)
    gate.close(GateState.FLATTENING, "flatten")
    assert gate.allows(CLOSE)
    assert not gate.allows(CREATE) and not gate.allows(AMEND)


def test_gate_when_stopping_is_never_reopened_or_downgraded() -> None:
    gate = Gate(TestClock().monotonic_ns)
    gate.close(GateState.STOPPING, "SIGINT")
    assert gate.open() is False
    gate.close(GateState.PAUSED, "operator")
    assert gate.state is GateState.STOPPING and gate.reason == "SIGINT"


def test_gate_when_halted_a_pause_keeps_the_halt() -> None:
    gate = Gate(TestClock().monotonic_ns)
    gate.close(GateState.HALTED, "daily-loss")
    gate.close(GateState.PAUSED, "operator")
    assert gate.state is GateState.HALTED


def test_gate_close_notifies_listeners_once_per_change() -> None:
    gate = Gate(TestClock().monotonic_ns)
    heard: list[tuple[GateState, str]] = []
    gate.on_close(lambda state, reason: heard.append((state, reason)))
    gate.close(GateState.PAUSED, "a")
    gate.close(GateState.PAUSED, "a")
    gate.close(GateState.HALTED, "b")
    assert heard == [(GateState.PAUSED, "a"), (GateState.HALTED, "b")]
    with pytest.raises(ValueError):
        gate.close(GateState.OPEN, "no")


@given(st.lists(st.sampled_from(["pause", "halt", "flatten", "stop", "resume"]), max_size=30))
def test_gate_property_creates_pass_exactly_when_open(ops: list[str]) -> None:
    gate = Gate(TestClock().monotonic_ns)
    stopped = False
    for op in ops:
        if op == "resume":
            gate.open()
        else:
            gate.close({"pause": GateState.PAUSED, "halt": GateState.HALTED, "flatten": GateState.FLATTENING,
                        "stop": GateState.STOPPING}[op], op)
        stopped = stopped or op == "stop"
        assert gate.allows(CREATE) == (gate.state is GateState.OPEN)
        assert gate.allows(CANCEL)
        if stopped:
            assert gate.state is GateState.STOPPING
