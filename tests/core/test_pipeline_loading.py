"""Loading valid pipeline files: typed values from the schema, defaults, overrides, environment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import Kind
from mmframe.pipeline import PipelineError, load_pipeline, load_pipeline_text
from mmframe.plugins import Registry
from tests.core.fake_components import isolated_registry

FIXTURE = Path(__file__).parent / "pipelines" / "fixture.yaml"

MINIMAL = """\
name: demo
venue: testsim
markets: [NO, KX-1]
strategy: {use: symmetric, with: {spread: 0.04}}
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return isolated_registry()


def test_load_pipeline_when_fixture_file_builds_typed_pipeline(registry: Registry) -> None:
    pipeline = load_pipeline(FIXTURE, registry)

    assert pipeline.name == "fixture"
    assert pipeline.path == str(FIXTURE)
    assert (pipeline.venue.kind, pipeline.venue.name, pipeline.venue.line) == (Kind.VENUE, "testexchange", 3)
    assert pipeline.venue.config == {"rest_url": "http://127.0.0.1:1/trade-api/v2"}
    assert pipeline.markets.series == ("KXHIGHNY",)
    assert pipeline.markets.patterns == ("KXHIGHNY-*",)
    assert pipeline.markets.filters.status == ("active",)
    assert pipeline.markets.filters.min_close_minutes == 30
    assert pipeline.markets.filters.min_volume == 1050  # count units
    assert pipeline.markets.filters.max_spread == 1000  # price units
    assert pipeline.strategy.config == {"spread": Decimal("0.04"), "size": 5, "post_only": True, "side": "both"}
    assert pipeline.strategy.line == 8  # the `strategy:` key
    assert [r.name for r in pipeline.risk] == ["max-position"]
    assert pipeline.risk[0].config == {"per_market": 200, "total": 1000}
    assert pipeline.executor is None
    assert [(s.name, s.config) for s in pipeline.sinks] == [("counter", {})]
    assert (pipeline.control.enabled, pipeline.control.port) == (False, 0)
    assert pipeline.runtime.price_tolerance == 100
    assert pipeline.runtime.size_tolerance == 100
    assert pipeline.runtime.housekeeping_seconds == 0.5


def test_load_pipeline_when_scalars_look_like_other_types_keeps_them_strings(registry: Registry) -> None:
    pipeline = load_pipeline_text(MINIMAL, "p.yaml", registry)

    assert pipeline.markets.tickers == ("NO", "KX-1")  # no implicit YAML typing: NO stays a string
    assert isinstance(pipeline.strategy.config["spread"], Decimal)
    assert pipeline.control.host == "127.0.0.1"


def test_load_pipeline_when_block_and_flow_style_mixed_gives_same_result(registry: Registry) -> None:
    block = MINIMAL.replace(
        "strategy: {use: symmetric, with: {spread: 0.04}}", "strategy:\n  use: symmetric\n  with:\n    spread: 0.04"
    )
    assert load_pipeline_text(block, "a", registry).strategy.config == \
        load_pipeline_text(MINIMAL, "b", registry).strategy.config


def test_load_pipeline_when_with_is_empty_uses_defaults(registry: Registry) -> None:
    text = MINIMAL + "risk:\n  - use: max-position\n    with: {per_market: 3}\nsinks:\n  - use: counter\n    with:\n"
    pipeline = load_pipeline_text(text, "p.yaml", registry)
    assert pipeline.sinks[0].config == {}
    assert pipeline.venue.config == {"seed": 7}


def test_load_pipeline_when_env_reference_set_substitutes_it(registry: Registry) -> None:
    text = MINIMAL + "control:\n  token: ${MMFRAME_CONTROL_TOKEN}\n  port: ${PORT:-3002}\n"
    pipeline = load_pipeline_text(text, "p.yaml", registry, environ={"MMFRAME_CONTROL_TOKEN": "t0ken"})
    assert pipeline.control.token == "t0ken"
    assert pipeline.control.port == 3002
    assert "t0ken" not in repr(pipeline.control)


def test_load_pipeline_when_control_token_absent_reads_environment(registry: Registry) -> None:
    pipeline = load_pipeline_text(MINIMAL, "p.yaml", registry, environ={"MMFRAME_CONTROL_TOKEN": "abc"})
    assert pipeline.control.token == "abc"


def test_load_pipeline_when_dollar_escaped_keeps_literal(registry: Registry) -> None:
    pipeline = load_pipeline_text(MINIMAL.replace("name: demo", "name: demo") + "sinks:\n  - {use: counter, "
                                  "with: {label: 'cost $$5 ${X:-y}'}}\n", "p", registry, environ={})
    assert pipeline.sinks[0].config["label"] == "cost $5 y"


def test_load_pipeline_when_overrides_given_applies_them_typed(registry: Registry) -> None:
    text = MINIMAL + "risk:\n  - {use: max-position, with: {per_market: 5}}\n"
    pipeline = load_pipeline_text(text, "p.yaml", registry, overrides=[
        "strategy.with.spread=0.05", "strategy.with.size=3", "risk.0.with.per_market=9",
        "risk.1={use: max-position, with: {per_market: 1}}", "markets=[A, B]", "venue.testsim.seed=11",
    ])
    assert pipeline.strategy.config["spread"] == Decimal("0.05")
    assert pipeline.strategy.config["size"] == 3
    assert [r.config["per_market"] for r in pipeline.risk] == [9, 1]
    assert pipeline.markets.tickers == ("A", "B")
    assert (pipeline.venue.name, pipeline.venue.config) == ("testsim", {"seed": 11})


def test_load_pipeline_when_venue_switched_by_override_uses_new_venue(registry: Registry) -> None:
    pipeline = load_pipeline_text(MINIMAL, "p.yaml", registry, overrides=[
        "venue=testexchange", "venue.testexchange.rest_url=http://localhost:9"])
    assert (pipeline.venue.name, pipeline.venue.config) == ("testexchange", {"rest_url": "http://localhost:9"})


def test_load_pipeline_when_mapping_venue_overridden_keeps_other_keys(registry: Registry) -> None:
    text = MINIMAL.replace("venue: testsim", "venue:\n  testexchange:\n    api_key: k")
    pipeline = load_pipeline_text(text, "p.yaml", registry, overrides=["venue.testexchange.rest_url=http://x"])
    assert pipeline.venue.config == {"api_key": "k", "rest_url": "http://x"}


@settings(max_examples=60, deadline=None)
@given(spread=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.5"), places=4))
def test_load_pipeline_when_number_written_keeps_exact_decimal(spread: Decimal) -> None:
    text = MINIMAL.replace("spread: 0.04", f"spread: {spread}")
    pipeline = load_pipeline_text(text, "p.yaml", isolated_registry())
    assert pipeline.strategy.config["spread"] == spread


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=-10**6, max_value=10**6))
def test_load_pipeline_when_integer_overridden_accepts_exactly_the_valid_range(size: int) -> None:
    registry = isolated_registry()
    if size >= 1:
        pipeline = load_pipeline_text(MINIMAL, "p", registry, overrides=[f"strategy.with.size={size}"])
        assert pipeline.strategy.config["size"] == size
    else:
        with pytest.raises(PipelineError) as info:
            load_pipeline_text(MINIMAL, "p", registry, overrides=[f"strategy.with.size={size}"])
        assert str(info.value) == f"--set strategy.with.size: must be >= 1, got {size}"


def test_load_pipeline_when_runtime_rejects_given_converts_to_nanoseconds(registry: Registry) -> None:
    text = MINIMAL + (
        "runtime:\n  rejects: {backoff_ms: 100, max_backoff_ms: 5000, quarantine_after: 3, window_seconds: 30,\n"
        "            cooldown_seconds: 120, balance_cooldown_seconds: 7.5}\n"
    )
    policy = load_pipeline_text(text, "p.yaml", registry).runtime.rejects
    assert (policy.backoff_ns, policy.max_backoff_ns, policy.quarantine_after) == (100_000_000, 5_000_000_000, 3)
    assert (policy.window_ns, policy.cooldown_ns, policy.balance_cooldown_ns) == (
        30_000_000_000, 120_000_000_000, 7_500_000_000,
    )


def test_load_pipeline_when_runtime_rejects_absent_uses_the_documented_defaults(registry: Registry) -> None:
    policy = load_pipeline_text(MINIMAL, "p.yaml", registry).runtime.rejects
    s = 1_000_000_000
    assert (policy.backoff_ns, policy.max_backoff_ns, policy.quarantine_after) == (s // 4, 30 * s, 5)
    assert (policy.window_ns, policy.cooldown_ns, policy.balance_cooldown_ns) == (60 * s, 300 * s, 30 * s)
