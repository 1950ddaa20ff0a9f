"""`AlertThrottle` invariants over generated alert sequences: no kind ever exceeds its cap in any
60 s window, the same kind and market is never sent twice within the dedup window, and no alert is
lost — each one is sent, folded as a count into a later one, or listed by `take_held`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_sinks.alerting.model import Alert
from mmframe_sinks.alerting.throttle import WINDOW_NS, AlertThrottle

from mmframe.api import NANOS_PER_SECOND

KINDS = ("reject", "halt", "quarantine", "stop")
MARKETS = (None, "M-A", "M-B")

alerts = st.lists(
    st.tuples(st.integers(0, 20 * NANOS_PER_SECOND), st.sampled_from(KINDS), st.sampled_from(MARKETS)),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(alerts, st.integers(1, 5), st.integers(0, 120))
def test_throttle_when_alerts_arrive_caps_each_kind_folds_repeats_and_loses_none(
    steps: list[tuple[int, str, str | None]], per_minute: int, dedup_s: int
) -> None:
    throttle = AlertThrottle(per_minute, dedup_s * NANOS_PER_SECOND, {"quarantine": 1})
    now = 0
    sent: list[tuple[int, Alert]] = []
    folded = 0
    for gap, kind, market in steps:
        now += gap
        admitted = throttle.admit(Alert(kind, "m", now, market=market), now)
        if admitted is not None:
            sent.append((now, admitted.alert))
            folded += admitted.repeats
    held = sum(h.count for h in throttle.take_held())
    assert len(sent) + folded + held == len(steps)
    for kind in ("reject", "halt", "quarantine"):
        times = [t for t, a in sent if a.kind == kind]
        cap = throttle.cap(kind)
        assert all(times[i + cap] - times[i] >= WINDOW_NS for i in range(len(times) - cap)), (kind, times)
    last: dict[tuple[str, str, str], int] = {}
    for t, alert in sent:
        if alert.kind != "stop" and alert.key in last:
            assert t - last[alert.key] >= dedup_s * NANOS_PER_SECOND
        last[alert.key] = t
    assert len([a for _, a in sent if a.kind == "stop"]) == len([s for s in steps if s[1] == "stop"])


def test_throttle_when_cap_below_one_refuses() -> None:
    import pytest

    with pytest.raises(ValueError, match="per_minute must be at least 1"):
        AlertThrottle(0, 0)
