"""Plugin faults in the running engine (in-memory venue): a pipeline feed that raises pulls the
markets it published for and is started again; a sink that raises is named and the run goes on."""

from __future__ import annotations

import logging
import types
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from mmframe.api import (
    ComponentSpec,
    CreateOrder,
    Event,
    FairValueUpdated,
    FeedContext,
    Kind,
    Level,
    MarketQuarantined,
    MarketView,
    Quote,
    hookimpl,
)
from mmframe.domain.plugin_policy import PluginErrorPolicy
from mmframe.pipeline.model import ComponentRef, ControlConfig, MarketSelection, Pipeline, RuntimeConfig
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from tests.runtime import memory_plugin
from tests.runtime.memory_plugin import TICKERS, Collect, JoinBest, MemoryVenue


class DiesOnce:
    """Publishes a fair value for MEM-A, then raises; the second run stays up."""

    runs = 0

    async def run(self, ctx: FeedContext) -> None:
        DiesOnce.runs += 1
        ctx.publish(FairValueUpdated(ts_ns=ctx.clock.now_ns(), ticker="MEM-A", price=5000, source="dies"))
        if DiesOnce.runs == 1:
            raise RuntimeError("feed bug on purpose")
        await anyio.sleep_forever()


class RaisesOnB:
    """Quotes 0.45/0.55 in every market but MEM-B, where ``quote`` raises."""

    def quote(self, market: MarketView) -> Quote:
        if market.ticker == "MEM-B":
            raise ArithmeticError("strategy bug on purpose")
        return Quote(market.ticker, (Level(4_500, 100),), (Level(5_500, 100),))

    def on_fill(self, fill: Any, market: MarketView) -> None:
        return None

    def update_params(self, params: Any) -> None:
        return None


class BadSink:
    """Raises on every batch."""

    async def start(self) -> None:
        return None

    async def write(self, events: Sequence[Event]) -> None:
        raise OSError("disk on fire")

    async def close(self) -> None:
        return None


def _plugin() -> types.ModuleType:
    module = types.ModuleType("fault_plugins")

    @hookimpl
    def register_feeds(register: Any) -> None:
        register(ComponentSpec(kind=Kind.FEED, name="dies-once", summary="raises once",
                               factory=lambda config, ctx: DiesOnce()))

    @hookimpl
    def register_sinks(register: Any) -> None:
        register(ComponentSpec(kind=Kind.SINK, name="bad-sink", summary="raises",
                               factory=lambda config, ctx: BadSink()))

    @hookimpl
    def register_strategies(register: Any) -> None:
        register(ComponentSpec(kind=Kind.STRATEGY, name="raises-on-b", summary="raises in MEM-B",
                               factory=lambda config, ctx: RaisesOnB()))

    module.register_feeds = register_feeds  # type: ignore[attr-defined]
    module.register_strategies = register_strategies  # type: ignore[attr-defined]
    module.register_sinks = register_sinks  # type: ignore[attr-defined]
    return module


def _pipeline(feeds: tuple[str, ...] = (), sinks: tuple[str, ...] = ("collect",), strategy: str = "join-best",
              plugin_errors: str = "quarantine") -> Pipeline:
    return Pipeline(
        name="faults", path="<test>", venue=ComponentRef(Kind.VENUE, "memory", {}, None),
        markets=MarketSelection(tickers=TICKERS), strategy=ComponentRef(Kind.STRATEGY, strategy, {}, None),
        runtime=RuntimeConfig(plugin_errors=PluginErrorPolicy(plugin_errors)),
        feeds=tuple(ComponentRef(Kind.FEED, name, {}, None) for name in feeds),
        sinks=tuple(ComponentRef(Kind.SINK, name, {}, None) for name in sinks),
        control=ControlConfig(enabled=False),
    )


@pytest.fixture(autouse=True)
def _reset() -> None:
    Collect.events = []
    JoinBest.calls = 0
    MemoryVenue.instances = []
    DiesOnce.runs = 0


def _run(pipeline: Pipeline, duration: float) -> tuple[int, Any]:
    registry = load_registry(extra_modules=[memory_plugin, _plugin()], environ={"MMFRAME_DISABLE_PLUGINS": ""})
    engine = build_engine(pipeline, registry)
    return anyio.run(engine.run, duration), engine


def test_feed_when_it_raises_quarantines_the_markets_it_fed_and_restarts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        code, engine = _run(_pipeline(feeds=("dies-once",)), 1.6)
    assert code == 0 and engine.error is None
    quarantined = [e for e in Collect.events if isinstance(e, MarketQuarantined)]
    assert [q.ticker for q in quarantined] == ["MEM-A"]
    assert quarantined[0].reason.startswith("plugin error: feed 'dies-once' raised in run(): RuntimeError: "
                                            f"feed bug on purpose at {__file__}:")
    assert DiesOnce.runs == 2  # started again after a second
    venue = MemoryVenue.instances[0]
    assert venue.resting == {}


def test_sink_when_it_raises_is_named_with_its_line_and_the_run_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        code, engine = _run(_pipeline(sinks=("collect", "bad-sink")), 0.3)
    assert code == 0 and engine.error is None
    lines = [r.getMessage() for r in caplog.records if "bad-sink" in r.getMessage()]
    assert lines and lines[0].startswith(
        f"plugin error: sink 'bad-sink' raised in write(): OSError: disk on fire at {__file__}:")
    assert any(e.kind == "RunStopped" for e in Collect.events)  # the other sink saw the whole run


def test_strategy_when_it_raises_in_one_market_the_others_keep_quoting() -> None:
    code, engine = _run(_pipeline(strategy="raises-on-b"), 0.5)
    assert code == 0 and engine.error is None
    created = {a.ticker for a in MemoryVenue.instances[0].executor().executed if isinstance(a, CreateOrder)}
    assert created == {"MEM-A"}
    assert [e.ticker for e in Collect.events if isinstance(e, MarketQuarantined)] == ["MEM-B"]


def test_strategy_when_it_raises_under_stop_policy_stops_cleanly_naming_it() -> None:
    code, engine = _run(_pipeline(strategy="raises-on-b", plugin_errors="stop"), 5.0)
    assert code == 1
    assert "strategy 'raises-on-b' raised in quote(): ArithmeticError: strategy bug on purpose at " in engine.error
    assert f"{__file__}:" in engine.error
    assert MemoryVenue.instances[0].resting == {}  # the stop cancelled everything
