"""``mmframe backtest --report``: the numbers the report shows, and the page in a real browser."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmframe.cli import create_cli
from mmframe.pipeline import load_pipeline
from mmframe.plugins import Registry, load_registry
from mmframe.runtime.backtest import build_backtest, run_backtest
from tests.research.browser import needs_browser, open_in_chromium

REPO = Path(__file__).resolve().parents[2]
INVENTORY = str(REPO / "pipelines" / "as2008-inventory.yaml")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def _backtest(registry: Registry, *args: str) -> str:
    result = CliRunner().invoke(create_cli(registry, plugin_commands=False), ["backtest", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_report_json_when_extended_keeps_the_first_release_and_adds_every_measurement(registry: Registry) -> None:
    data = json.loads(_backtest(registry, INVENTORY, "--runs", "4", "--journal-runs", "0", "--json",
                                "--markouts", "0.01,0.1"))
    names = list(data["metrics"])
    assert names[:5] == ["profit", "final_inventory", "spread", "fills", "fees"]
    assert names[5:] == ["fill_ratio", "spread_captured", "max_drawdown", "sharpe", "inventory_mean",
                         "abs_inventory_mean", "max_abs_inventory", "time_at_limit", "uptime",
                         "markout_0.01s", "markout_0.1s"]
    profit = data["distribution"]["profit"]
    assert profit["ci95"][0] < profit["mean"] < profit["ci95"][1]
    assert profit["min"] <= profit["p05"] <= profit["p50"] <= profit["p95"] <= profit["max"]
    # The per-run rows are the runs the summary summarises.
    per_run = [row["profit"] for row in data["per_run"]]
    assert sum(per_run) / 4 == pytest.approx(profit["mean"])
    # No max-position rule in the paper's pipeline: no limit to be at.
    assert data["metrics"]["time_at_limit"] == {"mean": None, "std": None}


def test_run_stats_when_measured_agree_with_the_run_s_own_totals(registry: Registry) -> None:
    parts = build_backtest(load_pipeline(INVENTORY, registry), registry)
    report = run_backtest(parts, runs=3, seed=5, record_runs=0, horizons_s=(Fraction(1, 10),), sample_runs=3)
    for run in report.runs:
        stats = run.stats
        assert stats is not None
        assert stats.filled == run.filled
        # The equity curve ends at the run's profit (marked at the final mid, after fees).
        assert stats.equity_curve[-1][1] == run.profit
        # Drawdown is the largest fall from a running peak of that curve (not thinned: 200 steps).
        peak, worst = stats.equity_curve[0][1], 0
        for _, equity in stats.equity_curve:
            peak = max(peak, equity)
            worst = max(worst, peak - equity)
        assert stats.max_drawdown == worst
        # Per-step PnL sums to the change of equity over the run.
        assert stats.step_pnl_sum == stats.equity_curve[-1][1] - stats.equity_curve[0][1]
        assert sum(t.count for t in stats.trades) == run.filled
        # The paper's quoter is always two-sided; inventory never exceeds what was filled.
        assert stats.uptime == 1
        assert stats.max_abs_inventory <= run.filled
        assert stats.markouts[0].contracts == run.filled  # every fill marked at 0 (the mid exists)


def test_report_when_same_seed_gives_identical_json(registry: Registry) -> None:
    args = (INVENTORY, "--runs", "3", "--seed", "11", "--journal-runs", "0", "--json")
    assert _backtest(registry, *args) == _backtest(registry, *args)


def test_report_when_path_cannot_be_written_exits_2_with_the_reason(registry: Registry, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(create_cli(registry, plugin_commands=False),
                                ["backtest", INVENTORY, "--journal-runs", "0", "--report", str(blocker / "r.html")])
    assert result.exit_code == 2
    assert "cannot write the report" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["0,1", "10,1", "x", "1,1", ""])
def test_backtest_when_markout_horizons_are_malformed_refuses_them(registry: Registry, bad: str) -> None:
    result = CliRunner().invoke(create_cli(registry, plugin_commands=False),
                                ["backtest", INVENTORY, "--markouts", bad])
    if bad == "":
        assert result.exit_code == 0, result.output  # empty: the default horizons
        return
    assert result.exit_code == 2
    assert "--markouts" in result.output
    assert "Traceback" not in result.output


@needs_browser
@pytest.mark.anyio
async def test_report_html_when_opened_in_chromium_draws_every_plot_without_errors(
    registry: Registry, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    _backtest(registry, INVENTORY, "--runs", "20", "--journal-runs", "0", "--markouts", "0.01,0.1,0.5",
              "--report", str(out))
    seen = await open_in_chromium(out)
    assert seen.console_errors == [] and seen.page_errors == []
    assert seen.plots == [
        "Distribution of net PnL at the final mid",
        "Equity (net PnL) over time",
        "Inventory over time (all markets)",
        "Markout per contract after the fill (mean across runs, 95% CI)",
    ]
    assert seen.tables == 3  # summary, every run, trades
