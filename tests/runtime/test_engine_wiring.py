"""The engine's wiring, proven with small in-memory components (see memory_plugin.py)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import anyio
import pytest

from mmframe.api import (
    BookSide,
    CreateOrder,
    Kind,
    OrderActionsSubmitted,
    OrderFilled,
    OrderRejected,
    QuoteComputed,
    RunStarted,
    RunStopped,
    TestClock,
    TradingHalted,
)
from mmframe.pipeline.model import ComponentRef, ControlConfig, MarketSelection, Pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from tests.runtime import memory_plugin
from tests.runtime.memory_plugin import TICKERS, Collect, JoinBest, MemoryVenue


def _pipeline(
    venue: dict[str, Any] | None = None, risk: tuple[str, ...] = (), sink: dict[str, Any] | None = None
) -> Pipeline:
    return Pipeline(
        name="wiring",
        path="<test>",
        venue=ComponentRef(Kind.VENUE, "memory", venue or {}, None),
        markets=MarketSelection(tickers=TICKERS),
        strategy=ComponentRef(Kind.STRATEGY, "join-best", {}, None),
        risk=tuple(ComponentRef(Kind.RISK, name, {}, None) for name in risk),
        sinks=(ComponentRef(Kind.SINK, "collect", sink or {}, None),),
        control=ControlConfig(enabled=False),
    )


@pytest.fixture(autouse=True)
def _reset() -> None:
    Collect.events = []
    JoinBest.calls = 0
    MemoryVenue.instances = []


@pytest.fixture()
def registry() -> Any:
    return load_registry(extra_modules=[memory_plugin], environ={"MMFRAME_DISABLE_PLUGINS": ""})


def _run(registry: Any, pipeline: Pipeline, duration: float, during: Any = None) -> tuple[int, Any]:
    engine = build_engine(pipeline, registry)

    async def main() -> int:
        async with anyio.create_task_group() as tg:
            if during is not None:
                tg.start_soon(during, engine)
            code = await engine.run(duration)
            tg.cancel_scope.cancel()
        return code

    return anyio.run(main), engine


def test_engine_when_duration_elapses_quotes_then_cancels_everything_and_exits_zero(registry: Any) -> None:
    code, _engine = _run(registry, _pipeline(), 0.3)

    venue = MemoryVenue.instances[0]
    assert code == 0
    assert venue.resting == {}, "nothing may be left resting after a stop"
    assert venue.opened and venue.closed
    created = [a for a in venue.executor().executed if isinstance(a, CreateOrder)]
    assert {a.ticker for a in created} == set(TICKERS)
    assert {(a.side.value, a.price) for a in created if a.ticker == "MEM-A"} == {("bid", 4500), ("ask", 5000)}
    kinds = [type(e) for e in Collect.events]
    assert kinds[0] is RunStarted and kinds[-1] is RunStopped
    assert QuoteComputed in kinds and OrderActionsSubmitted in kinds


def test_engine_when_a_burst_of_deltas_arrives_conflates_to_few_quotes(registry: Any) -> None:
    code, engine = _run(registry, _pipeline({"burst": 5000}), 0.3)

    assert code == 0
    assert engine.stats.events["BookDeltaReceived"] == 5000
    # The strategy sees the latest state, never a backlog: one quote per market per pass.
    assert JoinBest.calls < 100


def test_engine_when_the_feed_fails_stops_with_one_line_error_and_nothing_resting(registry: Any) -> None:
    code, engine = _run(registry, _pipeline({"fail": True}), 5.0)

    assert code == 1
    assert engine.error is not None and "feed lost its connection" in engine.error
    assert "\n" not in engine.error
    assert MemoryVenue.instances[0].resting == {}


def test_engine_when_a_risk_rule_halts_cancels_every_order_and_creates_nothing_more(registry: Any) -> None:
    async def fill_once(engine: Any) -> None:
        await anyio.sleep(0.1)
        venue = MemoryVenue.instances[0]
        client_order_id = next(iter(venue.resting))
        venue.executor().fill(client_order_id, 50)
        await anyio.sleep(0.1)
        assert venue.resting == {}, "a halt cancels everything"

    code, engine = _run(registry, _pipeline(risk=("halt-on-fill",)), 0.4, fill_once)

    assert code == 0
    assert engine.core.state == "halted"
    halted_at = next(i for i, e in enumerate(Collect.events) if isinstance(e, TradingHalted))
    later_creates = [
        a
        for e in Collect.events[halted_at:]
        if isinstance(e, OrderActionsSubmitted)
        for a in e.actions
        if isinstance(a, CreateOrder)
    ]
    assert later_creates == []
    assert sum(abs(p.position) for p in engine.core.ledger.positions.values()) == 50


def test_engine_when_a_sink_is_slow_quoting_goes_on_and_no_event_is_lost(registry: Any) -> None:
    code, _engine = _run(registry, _pipeline({"burst": 2000}, sink={"delay": Decimal("0.05")}), 0.3)

    assert code == 0
    assert sum(1 for e in Collect.events if type(e).__name__ == "BookDeltaReceived") == 2000
    assert isinstance(Collect.events[-1], RunStopped)


def test_engine_when_restarted_adopts_its_own_resting_orders_and_seeds_positions(registry: Any) -> None:
    venue = MemoryVenue({})
    venue.positions["MEM-A"] = 300
    from mmframe.api import BookSide, OrderStatus, WorkingOrder

    venue.resting["wiring-abcdef-7"] = WorkingOrder(
        client_order_id="wiring-abcdef-7",
        ticker="MEM-A",
        side=BookSide.BID,
        price=4500,
        remaining=100,
        status=OrderStatus.RESTING,
        order_id="o-old",
    )
    engine = build_engine(_pipeline(), registry)
    engine.parts.venue = venue
    engine.parts.executor = venue.executor()

    async def main() -> int:
        return await engine.run(0.2)

    code = anyio.run(main)
    assert code == 0
    assert engine.core.ledger.position("MEM-A").position == 300
    assert venue.resting == {}


def test_engine_when_an_order_of_ours_rests_untracked_the_audit_takes_it_back_and_cancels_it(
    registry: Any,
) -> None:
    from mmframe.api import BookSide, OrderStatus, WorkingOrder

    engine = build_engine(_pipeline(), registry)
    engine.audit_seconds = 0.05
    prefix = engine.core.new_client_order_id().rsplit("-", 1)[0]

    async def leak_an_order(_: Any) -> None:
        await anyio.sleep(0.1)
        venue = MemoryVenue.instances[0]
        # Rests on the venue, but the tracker never heard of it (as after a fill counted twice).
        venue.resting[f"{prefix}-999"] = WorkingOrder(
            client_order_id=f"{prefix}-999",
            ticker="MEM-A",
            side=BookSide.BID,
            price=1000,
            remaining=100,
            status=OrderStatus.RESTING,
            order_id="o-leak",
        )
        await anyio.sleep(0.3)
        assert f"{prefix}-999" not in venue.resting, "the audit must take the order back and cancel it"

    async def main() -> int:
        async with anyio.create_task_group() as tg:
            tg.start_soon(leak_an_order, engine)
            code = await engine.run(0.5)
            tg.cancel_scope.cancel()
        return code

    assert anyio.run(main) == 0
    assert engine.stats.audit_adoptions == 1


def test_engine_when_executor_is_immediate_quotes_right_after_the_burst_that_moved_the_market(
    registry: Any,
) -> None:
    code, _engine = _run(registry, _pipeline({"immediate": True, "probe": True}), 0.3)

    venue = MemoryVenue.instances[0]
    assert code == 0 and venue.resting == {}
    before, after = venue.last_feed.probed
    # The delta moved MEM-A's best bid to 0.46. Not quoted inside `publish` (the rest of a burst
    # of frames may still change the book: issue 16's post-only rejects), but on the very next
    # turn of the loop, before the feed task runs again: the amend is out.
    assert after == before
    assert venue.last_feed.probed_next == before + 1
    moved = venue.executor().executed[before]
    assert moved.ticker == "MEM-A" and getattr(moved, "price", None) == 4600


def test_engine_when_executor_is_not_immediate_leaves_quoting_to_its_task(registry: Any) -> None:
    code, _engine = _run(registry, _pipeline({"probe": True}), 0.3)

    venue = MemoryVenue.instances[0]
    assert code == 0
    before, after = venue.last_feed.probed
    assert after == before  # quoted later, by the quoting task


def test_engine_when_an_immediate_executor_acknowledges_while_quoting_does_not_requote_inside_itself(
    registry: Any,
) -> None:
    # ImmediateMemoryExecutor publishes each acknowledgement inside execute_nowait: those events
    # must not start a nested quoting pass (the market is left to the quoting task).
    code, engine = _run(registry, _pipeline({"immediate": True, "burst": 200}), 0.3)

    venue = MemoryVenue.instances[0]
    assert code == 0 and venue.resting == {}
    assert engine.stats.events["BookDeltaReceived"] == 200
    created = [a for a in venue.executor().executed if isinstance(a, CreateOrder)]
    assert {a.ticker for a in created} == set(TICKERS)
    assert engine.error is None


def test_engine_when_a_fill_is_reported_twice_sinks_and_observers_see_it_once(registry: Any) -> None:
    engine = build_engine(_pipeline(), registry)
    seen: list[Any] = []
    engine.add_observer(seen.append)
    fill = OrderFilled(ts_ns=1, client_order_id="x-1", ticker=TICKERS[0], order_id="o-1", trade_id="t-1",
                       side=BookSide.BID, price=4_000, count=100, fee=0, is_taker=False)

    engine.publish(fill)
    engine.publish(fill)  # the executor's REST reconciliation read it again

    assert [e for e in seen if isinstance(e, OrderFilled)] == [fill]
    assert engine.stats.fills == 1 and engine.stats.events["fill_repeated"] == 1


def test_engine_when_rejects_storm_logs_each_market_and_code_at_most_once_per_interval(
    registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TestClock()
    engine = build_engine(_pipeline(), registry, clock=clock)

    def reject(ticker: str, code: str) -> None:
        engine.publish(
            OrderRejected(
                ts_ns=clock.now_ns(), client_order_id="x", ticker=ticker, code=code, message="would cross"
            )
        )

    with caplog.at_level(logging.WARNING, logger="mmframe.engine"):
        for _ in range(300):
            reject("MEM-A", "post_only_cross")
        reject("MEM-B", "post_only_cross")
        reject("MEM-A", "insufficient_balance")
        clock.advance(10)
        reject("MEM-A", "post_only_cross")
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert lines == [
        "create rejected for MEM-A: post_only_cross would cross",
        "create rejected for MEM-B: post_only_cross would cross",
        "create rejected for MEM-A: insufficient_balance would cross",
        "create rejected for MEM-A: post_only_cross would cross (299 more since the last such line)",
    ]
    assert engine.stats.rejects == 303  # every reject is still counted
