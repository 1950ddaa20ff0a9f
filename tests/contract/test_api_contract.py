"""The plugin API as a contract (the pluggy/datasette practice): every name `mmframe.api` exports is
documented and used by a first-party plugin or by these contract tests; the component protocols are
what the first-party components actually implement; every hook spec is implemented by a first-party
plugin and exercised here through pluggy."""

from __future__ import annotations

import ast
import inspect
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest

import mmframe.api as api
from mmframe import hookspecs
from mmframe.api import (
    API_VERSION,
    AdoptingExecutor,
    BacktestFeed,
    BudgetedExecutor,
    ComponentContext,
    ComponentSpec,
    Event,
    Executor,
    Feed,
    ImmediateExecutor,
    Kind,
    MarketEvent,
    MarketQuarantined,
    MarketReleased,
    MarketsListener,
    OrderEvent,
    PositionReader,
    RestoringSink,
    RiskRule,
    SelectingVenue,
    SimulatedExecutor,
    Sink,
    Strategy,
    TestClock,
    Venue,
    WriteGate,
    load_pipeline,
)
from mmframe.domain import events as events_module
from mmframe.plugins import Registry, load_registry
from mmframe.runtime.app import build_engine
from mmframe.runtime.backtest import build_backtest
from mmframe.runtime.gate import Gate

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"
FIRST_PARTY = {"strategies", "risk", "sim", "kalshi", "backtest", "sinks"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


# --- every exported name: documented, versioned, used ---------------------------------------------


def _own_docstring(obj: Any) -> str | None:
    """A class's or function's own docstring (not inherited, not a dataclass's generated signature)."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        return None if not doc or doc.startswith(f"{obj.__name__}(") else doc
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return obj.__doc__
    return None


def _documented_in_module_docstring() -> set[str]:
    """Names given an entry in the api module's docstring (``- ``NAME``: ...`` or ``NAME``, ``NAME2``)."""
    section = (api.__doc__ or "").split("Names without a docstring of their own", 1)[-1]
    return {name for line in section.splitlines() if line.startswith("- ")
            for name in re.findall(r"``([A-Za-z_][A-Za-z0-9_]*)``", line.split(":", 1)[0])}


def test_api_when_every_exported_name_inspected_each_is_documented() -> None:
    entries = _documented_in_module_docstring()
    undocumented = [name for name in api.__all__ if not _own_docstring(getattr(api, name)) and name not in entries]
    assert undocumented == [], f"document these in their docstring or in mmframe/api.py's docstring: {undocumented}"
    assert sorted(entries - set(api.__all__)) == [], "the api docstring documents names it does not export"


def test_api_when_exports_listed_all_exist_and_nothing_else_is_public() -> None:
    assert len(set(api.__all__)) == len(api.__all__)
    assert [name for name in api.__all__ if not hasattr(api, name)] == []
    public = {name for name in vars(api) if not name.startswith("_")} - {"annotations"}
    assert sorted(public - set(api.__all__)) == []


def test_api_version_when_read_is_major_dot_minor() -> None:
    assert re.fullmatch(r"\d+\.\d+", API_VERSION)


def _imported_from_api(source: str) -> Iterator[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a template with placeholders: read its import block as text
        for block in re.findall(r"from mmframe\.api import \(([^)]*)\)|from mmframe\.api import ([^\n(]+)", source):
            yield from (name.strip() for name in ",".join(block).split(",") if name.strip())
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "mmframe.api":
            yield from (alias.name for alias in node.names)


def test_api_when_every_exported_name_looked_up_a_plugin_or_contract_test_uses_it() -> None:
    users: dict[str, set[str]] = {}
    sources = [*(REPO / "plugins").rglob("*.py"), *(REPO / "mmframe" / "templates" / "plugin").glob("*.tmpl"),
               *(REPO / "tests" / "contract").glob("*.py")]
    for path in sources:
        for name in _imported_from_api(path.read_text(encoding="utf-8")):
            users.setdefault(name, set()).add(str(path.relative_to(REPO)))
    unused = sorted(set(api.__all__) - set(users))
    assert unused == [], (f"exported by mmframe.api but used by no first-party plugin, template or contract test: "
                          f"{unused}; drop them (the core keeps them internally) or add a contract test")


def test_events_when_every_event_type_listed_each_is_exported_for_sinks() -> None:
    # A sink receives every event the runtime emits: all of their types are part of the API.
    classes = {obj for obj in vars(events_module).values() if inspect.isclass(obj) and issubclass(obj, Event)}
    assert sorted(cls.__name__ for cls in classes if getattr(api, cls.__name__, None) is not cls) == []
    assert issubclass(MarketQuarantined, Event) and issubclass(MarketReleased, Event)
    assert {MarketEvent, OrderEvent} <= classes


# --- the protocols are what the first-party components implement -----------------------------------


def _resolved(example: Any) -> Any:
    """An example config with its ``${VAR}`` placeholders filled as a pipeline file's would be."""
    if isinstance(example, str):
        return re.sub(r"\$\{[A-Z_]+\}", "json://localhost", example)
    if isinstance(example, list):
        return [_resolved(item) for item in example]
    if isinstance(example, dict):
        return {key: _resolved(value) for key, value in example.items()}
    return example


def _context(tmp_path: Path) -> ComponentContext:
    return ComponentContext(pipeline="contract", markets=("KX-A",), clock=TestClock(),
                            logger=logging.getLogger("contract"), base_dir=str(tmp_path))


@pytest.mark.parametrize(("kind", "protocol"), [(Kind.STRATEGY, Strategy), (Kind.RISK, RiskRule), (Kind.SINK, Sink)])
def test_components_when_built_from_their_example_implement_their_protocol(
    registry: Registry, tmp_path: Path, kind: Kind, protocol: type
) -> None:
    first_party = [e for e in registry.entries(kind) if e.spec is not None and e.package == "mmframe"]
    assert first_party
    for entry in first_party:
        assert entry.spec is not None
        component = entry.spec.factory(_resolved(entry.spec.example), _context(tmp_path))
        assert isinstance(component, protocol), f"{kind} {entry.name} does not implement {protocol.__name__}"


@pytest.mark.parametrize("file", ["symmetric.yaml", "symmetric-demo.yaml"])
def test_live_pipeline_when_built_venue_feed_and_executor_implement_their_protocols(
    registry: Registry, file: str
) -> None:
    pipeline = load_pipeline(str(PIPELINES / file), registry)
    engine = build_engine(pipeline, registry, credentials=False)
    parts = engine.parts
    assert isinstance(parts.venue, Venue)
    assert all(isinstance(feed, Feed) for feed in parts.feeds)
    assert isinstance(parts.executor, Executor)
    # the optional capabilities the runtime checks for (isinstance on runtime-checkable protocols):
    # the Kalshi executor's metered write budget, synchronous actions, adoption and position reads,
    # the Kalshi venue's market selection, the journal's restore
    # (both the embedded simulator and Kalshi's demo exchange run the Kalshi client)
    for capability in (BudgetedExecutor, ImmediateExecutor, AdoptingExecutor, PositionReader):
        assert isinstance(parts.executor, capability), capability.__name__
    assert isinstance(parts.venue, SelectingVenue)
    listener: MarketsListener = engine.markets_changed
    parts.venue.on_markets_changed(listener)
    assert any(isinstance(sink, RestoringSink) for _, sink in parts.sinks)
    assert isinstance(engine.core.strategy, Strategy)
    assert all(isinstance(named.rule, RiskRule) for named in engine.core.rules)
    assert all(isinstance(sink, Sink) for _, sink in parts.sinks)
    assert isinstance(Gate(TestClock().monotonic_ns), WriteGate)


def test_backtest_pipeline_when_built_feeds_and_executor_implement_backtest_protocols(registry: Registry) -> None:
    parts = build_backtest(load_pipeline(str(PIPELINES / "as2008-symmetric.yaml"), registry), registry)
    assert parts.feeds and all(isinstance(feed, BacktestFeed) for feed in parts.feeds)
    assert isinstance(parts.executor, SimulatedExecutor)


# --- every hook spec: implemented by a first-party plugin, exercised through pluggy -----------------


def _specs() -> list[str]:
    return sorted(name for name, obj in vars(hookspecs).items()
                  if callable(obj) and hasattr(obj, "mmframe_spec"))


def _registers(kind: Kind) -> Callable[[Registry, str], None]:
    def check(registry: Registry, hook: str) -> None:
        got: list[ComponentSpec] = []
        getattr(registry.manager.hook, hook)(register=got.append)
        assert got and {spec.kind for spec in got} == {kind}

    return check


def _adds_commands(registry: Registry, hook: str) -> None:
    group = click.Group("mmframe")
    registry.manager.hook.register_commands(cli=group)
    assert group.commands


HOOK_CHECKS: dict[str, Callable[[Registry, str], None]] = {
    "register_venues": _registers(Kind.VENUE),
    "register_feeds": _registers(Kind.FEED),
    "register_strategies": _registers(Kind.STRATEGY),
    "register_risk_rules": _registers(Kind.RISK),
    "register_executors": _registers(Kind.EXECUTOR),
    "register_sinks": _registers(Kind.SINK),
    "register_commands": _adds_commands,
}


def test_hookspecs_when_listed_each_has_a_contract_check() -> None:
    assert _specs() == sorted(HOOK_CHECKS), "a new hook spec needs a first-party implementation and a check here"


@pytest.mark.parametrize("hook", _specs())
def test_hookspec_when_called_through_pluggy_a_first_party_plugin_implements_it(registry: Registry, hook: str) -> None:
    implementers = {impl.plugin_name for impl in getattr(registry.manager.hook, hook).get_hookimpls()}
    assert implementers & FIRST_PARTY, f"no first-party plugin implements {hook}"
    HOOK_CHECKS[hook](registry, hook)


def test_queue_fill_model_when_the_market_trades_through_a_resting_order_fills_it_at_kalshi_s_trade_fee() -> None:
    """What a plugin simulating fills with `QueueFillModel` (the ``backtest`` executor, the ``paper``
    venue) hands the runtime: order events as a venue sends them, each fill's fee `trade_fee` as the
    venue reports ``fee_cost`` (the ledger charges it per order)."""
    from mmframe.api import (
        BookSide,
        BookSnapshotReceived,
        CreateOrder,
        FeeType,
        MarketInfo,
        MarketInfoReceived,
        OrderAccepted,
        OrderFilled,
        QueueFillModel,
        TradeReported,
        trade_fee,
    )

    model = QueueFillModel(id_prefix="contract")
    info = MarketInfo("M", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES)
    model.on_market_event(MarketInfoReceived(ts_ns=0, ticker="M", info=info))
    model.on_market_event(BookSnapshotReceived(ts_ns=0, ticker="M", yes_bids=((4000, 500),), no_bids=((5500, 500),)))
    placed = model.execute([CreateOrder(client_order_id="c", ticker="M", side=BookSide.ASK, price=4500, size=300)], 1)
    assert [type(e) for e in placed] == [OrderAccepted]
    fills = model.on_market_event(TradeReported(ts_ns=2, ticker="M", price=4600, count=1000, taker_side=BookSide.BID))
    assert [(type(f), f.count, f.price) for f in fills] == [(OrderFilled, 300, 4500)]  # traded through: all of it
    fill = fills[0]
    assert isinstance(fill, OrderFilled) and fill.trade_id.startswith("contract-")
    assert fill.fee == trade_fee(4500, 300, is_taker=False, fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES)
    assert model.orders == {}
