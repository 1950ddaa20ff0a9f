"""``mmframe backtest``: output contract, determinism, every backtest pipeline runs, clear errors."""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mmframe.api import BookSnapshotReceived, ComponentSpec, Event, Kind, hookimpl
from mmframe.cli import create_cli
from mmframe.pipeline import load_pipeline
from mmframe.plugins import Registry, load_registry
from mmframe.runtime.backtest import BacktestError, build_backtest, run_backtest

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"
METRIC_KEYS = ["profit", "final_inventory", "spread", "fills", "fees"]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(extra_modules=[_test_plugin()])


def _invoke(registry: Registry, *args: str) -> Result:
    return CliRunner().invoke(create_cli(registry, plugin_commands=False), ["backtest", *args])


def _backtest_pipelines() -> list[Path]:
    venue = re.compile(r"^venue:\s*(backtest\s*$|\{\s*backtest\s*:)", re.MULTILINE)
    return sorted(p for p in PIPELINES.glob("*.yaml") if venue.search(p.read_text(encoding="utf-8")))


def test_backtest_cli_when_json_prints_exact_shape(registry: Registry) -> None:
    result = _invoke(registry, str(PIPELINES / "as2008-symmetric.yaml"), "--runs", "3", "--seed", "7", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # The first release's shape, extended: keys and metrics added after, never renamed.
    assert list(data)[:2] == ["runs", "metrics"] and data["runs"] == 3
    assert list(data["metrics"])[:5] == METRIC_KEYS
    for summary in data["metrics"].values():
        assert set(summary) == {"mean", "std"}
    for name in METRIC_KEYS:
        assert all(isinstance(v, float) for v in data["metrics"][name].values())
    assert list(data["distribution"]) == list(data["metrics"])
    assert [run["seed"] for run in data["per_run"]] == [7, 8, 9]
    assert data["metrics"]["spread"] == {"mean": 1.4918, "std": 0.0}  # the inventory strategy's, unskewed
    assert data["metrics"]["fees"] == {"mean": 0.0, "std": 0.0}


def test_backtest_cli_when_same_seed_repeats_exactly_and_other_seed_differs(registry: Registry) -> None:
    path = str(PIPELINES / "as2008-inventory.yaml")
    first = _invoke(registry, path, "--runs", "2", "--seed", "42", "--json").output
    again = _invoke(registry, path, "--runs", "2", "--seed", "42", "--json").output
    other = _invoke(registry, path, "--runs", "2", "--seed", "43", "--json").output
    assert first == again
    assert json.loads(first) != json.loads(other)


def test_backtest_cli_when_set_overrides_strategy_param_changes_result(registry: Registry) -> None:
    path = str(PIPELINES / "as2008-inventory.yaml")
    base = json.loads(_invoke(registry, path, "--runs", "2", "--json").output)
    tweaked = _invoke(registry, path, "--runs", "2", "--json", "--set", "strategy.with.gamma=0.01")
    assert tweaked.exit_code == 0, tweaked.output
    # (2/γ)·ln(1 + γ/k) + γσ²(T−t) on average: 1.49 for γ = 0.1, 1.35 for γ = 0.01.
    assert base["metrics"]["spread"]["mean"] == pytest.approx(1.49, abs=0.01)
    assert json.loads(tweaked.output)["metrics"]["spread"]["mean"] == pytest.approx(1.35, abs=0.01)


def test_backtest_cli_when_table_prints_every_metric(registry: Registry) -> None:
    result = _invoke(registry, str(PIPELINES / "as2008-symmetric.yaml"), "--runs", "2")
    assert result.exit_code == 0, result.output
    for label in ("net PnL at final mid ($)", "fees ($)", "fills", "average quoted spread ($)",
                  "final inventory (contracts)", "mean", "std"):
        assert label in result.output


def test_backtest_cli_when_pipelines_use_backtest_venue_each_runs(registry: Registry) -> None:
    paths = _backtest_pipelines()
    assert {p.name for p in paths} >= {"as2008-inventory.yaml", "as2008-symmetric.yaml", "replay-example.yaml"}
    for path in paths:
        result = _invoke(registry, str(path), "--runs", "2", "--json")
        assert result.exit_code == 0, f"{path.name}: {result.output}"
        assert json.loads(result.output)["runs"] == 2


def test_backtest_cli_when_replay_example_runs_trades_with_maker_fees(registry: Registry) -> None:
    result = _invoke(registry, str(PIPELINES / "replay-example.yaml"), "--json")
    metrics = json.loads(result.output)["metrics"]
    assert metrics["fills"]["mean"] > 0 and metrics["fees"]["mean"] > 0


def test_backtest_cli_when_feed_is_live_only_exits_2_naming_it(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text("name: live\nvenue: backtest\nmarkets: [X]\nfeeds:\n  - use: live-only\n"
                    "strategy: {use: symmetric, with: {spread: 0.04, size: 1}}\n", encoding="utf-8")
    result = _invoke(registry, str(path))
    assert result.exit_code == 2
    assert "feed 'live-only' cannot run in a backtest" in result.output


def test_backtest_cli_when_pipeline_invalid_exits_1_with_file_line(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nvenue: backtest\nmarkets: [X]\nstrategy: {use: symetric}\n", encoding="utf-8")
    result = _invoke(registry, str(path))
    assert result.exit_code == 1
    assert f"{path}:4" in result.output and "symmetric" in result.output


def test_backtest_cli_when_runs_is_zero_refuses(registry: Registry) -> None:
    result = _invoke(registry, str(PIPELINES / "as2008-symmetric.yaml"), "--runs", "0")
    assert result.exit_code == 2 and "--runs" in result.output


def test_backtest_when_feed_goes_back_in_time_raises(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "backwards.yaml"
    path.write_text("name: back\nvenue: backtest\nmarkets: [X]\nfeeds:\n  - use: backwards\n"
                    "strategy: {use: symmetric, with: {spread: 0.04, size: 1}}\n", encoding="utf-8")
    parts = build_backtest(load_pipeline(path, registry), registry)
    with pytest.raises(BacktestError, match="out of order"):
        run_backtest(parts)


def test_backtest_when_events_are_for_other_markets_ignores_them(registry: Registry) -> None:
    pipeline = load_pipeline(PIPELINES / "replay-example.yaml", registry, ["markets=[OTHER-MARKET]"])
    (run,) = run_backtest(build_backtest(pipeline, registry)).runs
    assert (run.fills, run.spread_samples, run.profit, run.final_inventory) == (0, 0, 0, 0)


def test_backtest_when_symmetric_paper_market_fill_rate_matches_model(registry: Registry) -> None:
    pipeline = load_pipeline(PIPELINES / "as2008-symmetric.yaml", registry)
    report = run_backtest(build_backtest(pipeline, registry), runs=40, seed=1000)
    fills = report.summary()["fills"]
    # Two sides x 200 steps x A·e^(−k·δ(t))·dt with half-spread δ(t) = γσ²(T−t)/2 + ln(1+γ/k)/γ
    # = 0.2(1−t) + 0.645: 91.8 fills a run; the mean of 40 runs is within ~1.5.
    expected = sum(2 * 140 * math.exp(-1.5 * (0.2 * (1 - i * 0.005) + math.log1p(0.1 / 1.5) / 0.1)) * 0.005
                   for i in range(200))
    assert expected == pytest.approx(91.8, abs=0.05)
    assert fills.mean == pytest.approx(expected, abs=6)
    for run in report.runs:
        assert run.spread_samples == 200 and run.fees == 0


# --- an in-test plugin with components that cannot be backtested ---------------------------------


class _LiveOnlyFeed:
    async def run(self, ctx: Any) -> None:
        return None


class _BackwardsFeed:
    def events(self, rng_seed: int) -> Iterator[Event]:
        yield BookSnapshotReceived(ts_ns=10, ticker="X", yes_bids=((4000, 100),), no_bids=((5000, 100),))
        yield BookSnapshotReceived(ts_ns=5, ticker="X", yes_bids=((4000, 100),), no_bids=((5000, 100),))


def _test_plugin() -> types.ModuleType:
    module = types.ModuleType("backtest_test_plugin")

    @hookimpl
    def register_feeds(register: Any) -> None:
        register(ComponentSpec(kind=Kind.FEED, name="live-only", summary="no events()",
                               factory=lambda config, ctx: _LiveOnlyFeed()))
        register(ComponentSpec(kind=Kind.FEED, name="backwards", summary="time goes back",
                               factory=lambda config, ctx: _BackwardsFeed()))

    module.register_feeds = register_feeds  # type: ignore[attr-defined]
    return module


def test_backtest_when_recording_goes_quiet_time_based_rules_see_simulated_time(registry: Registry) -> None:
    def actions(max_age: str) -> int:
        overrides = ["risk=[{use: stale-data, with: {max_age_seconds: " + max_age + "}}]"]
        pipeline = load_pipeline(PIPELINES / "replay-example.yaml", registry, overrides)
        (run,) = run_backtest(build_backtest(pipeline, registry)).runs
        return run.actions

    # Book updates come 40-400 ms apart: a 0.05 s limit pulls the quotes at housekeeping times
    # between updates (and they come back on the next update); a 60 s limit never does.
    assert actions("0.05") > actions("60") > 0


def test_run_when_pipeline_uses_backtest_venue_exits_2_pointing_to_backtest(registry: Registry) -> None:
    result = CliRunner().invoke(create_cli(registry, plugin_commands=False),
                                ["run", str(PIPELINES / "as2008-symmetric.yaml"), "--duration", "1"])
    assert result.exit_code == 2
    assert "use `mmframe backtest FILE`" in result.output


def test_backtest_when_the_pipeline_journals_records_the_first_run_and_report_shows_it(tmp_path: Path) -> None:
    cli = create_cli(load_registry())
    journal = tmp_path / "bt.sqlite"
    result = CliRunner().invoke(cli, ["backtest", str(PIPELINES / "replay-example.yaml"), "--runs", "2", "--json",
                                      "--set", f"sinks.0.with.path={journal}"])
    assert result.exit_code == 0, result.output
    backtest = json.loads(result.output)["metrics"]
    shown = CliRunner().invoke(cli, ["report", "--journal", str(journal), "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["mode"] == "backtest" and len(report["runs"]) == 1  # --journal-runs 1 by default
    assert report["runs"][0]["stop_reason"] == "backtest run, seed 0"
    # The journal's books are the backtest's: same PnL, fees and fills (a recording: every seed alike).
    assert Decimal(report["totals"]["net_pnl"]) == Decimal(str(backtest["profit"]["mean"]))
    assert Decimal(report["totals"]["fees"]) == Decimal(str(backtest["fees"]["mean"]))
    assert report["totals"]["fills"] == backtest["fills"]["mean"]
    market = report["by_market"][0]
    assert Decimal(market["bought"]) - Decimal(market["sold"]) == Decimal(market["position"])
    assert CliRunner().invoke(cli, ["report", "--journal", str(journal), "--mode", "live", "--json"]).exit_code == 0
