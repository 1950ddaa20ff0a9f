"""``mmframe sweep``: the same table whatever the engine and the number of workers, searches
deterministic for a seed, refusals before anything runs, and the page in a real browser."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import MMFRAME
from tests.research.browser import needs_browser, open_in_chromium

REPO = Path(__file__).resolve().parents[2]
INVENTORY = str(REPO / "pipelines" / "as2008-inventory.yaml")
SYMMETRIC = str(REPO / "pipelines" / "as2008-symmetric.yaml")
GRID = ["--grid", "strategy.with.gamma=0.01,0.1,1", "--grid", "strategy.with.k=1:2:0.5"]


def _sweep(*args: str, out: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own (local workers are spawned processes; Ray starts its own)."""
    command = [*MMFRAME, "sweep", *args]
    if out is not None:
        command += ["--out", str(out)]
    env = {**os.environ, "MMFRAME_JOURNAL": os.devnull, "COLUMNS": "160"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)


def _table(out: Path) -> str:
    return (out / "results.csv").read_text(encoding="utf-8")


def _ray_starts() -> str | None:
    """None when a local Ray instance can start here, else why not."""
    try:
        import ray
    except ImportError:
        return "ray is not installed"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as exc:  # Ray's own failure to start on this machine
        return f"ray cannot start here: {type(exc).__name__}: {exc}"
    ray.shutdown()
    return None


def test_sweep_when_three_by_three_gives_identical_tables_on_any_engine_and_worker_count(tmp_path: Path) -> None:
    one = _sweep(INVENTORY, *GRID, "--runs", "6", "--seed", "3", "--workers", "1", out=tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = _sweep(INVENTORY, *GRID, "--runs", "6", "--seed", "3", "--workers", "2", out=tmp_path / "two")
    assert two.returncode == 0, two.stderr
    table = _table(tmp_path / "one")
    assert table == _table(tmp_path / "two")
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == 9
    assert [(r["strategy.with.gamma"], r["strategy.with.k"]) for r in rows][:3] == [
        ("0.01", "1.0"), ("0.01", "1.5"), ("0.01", "2.0")]
    assert list(rows[0])[:4] == ["strategy.with.gamma", "strategy.with.k", "profit_mean", "profit_std"]
    assert "9 combinations × 6 runs" in one.stdout
    why_not = _ray_starts()
    if why_not is not None:
        pytest.skip(f"local engine checked on 1 and 2 workers; {why_not}")
    ray = _sweep(INVENTORY, *GRID, "--runs", "6", "--seed", "3", "--engine", "ray", "--workers", "2",
                 out=tmp_path / "ray")
    assert ray.returncode == 0, ray.stderr
    assert _table(tmp_path / "ray") == table
    assert "on ray (2 workers)" in ray.stdout


def test_sweep_when_one_combination_is_the_backtest_of_its_overrides(tmp_path: Path) -> None:
    """A sweep row is exactly `mmframe backtest --set` of its values (the same seeds)."""
    done = _sweep(INVENTORY, "--grid", "strategy.with.gamma=0.5", "--runs", "3", "--seed", "9", "--workers", "1",
                  out=tmp_path)
    assert done.returncode == 0, done.stderr
    row = next(csv.DictReader(io.StringIO(_table(tmp_path))))
    import json

    backtest = subprocess.run(
        [*MMFRAME, "backtest", INVENTORY, "--runs", "3", "--seed", "9", "--journal-runs", "0",
         "--set", "strategy.with.gamma=0.5", "--json"], capture_output=True, text=True, timeout=300, cwd=REPO)
    metrics = json.loads(backtest.stdout)["metrics"]
    assert float(row["profit_mean"]) == metrics["profit"]["mean"]
    assert float(row["fills_std"]) == metrics["fills"]["std"]


@pytest.mark.parametrize("search", ["random", "optuna"])
def test_sweep_when_sampling_is_deterministic_for_a_seed(tmp_path: Path, search: str) -> None:
    args = (INVENTORY, "--grid", "strategy.with.gamma=0.01:0.2:0.01", "--grid", "strategy.with.k=1,1.5,2",
            "--runs", "2", "--search", search, "--trials", "6", "--seed", "4")
    first = _sweep(*args, "--workers", "1", out=tmp_path / "a")
    again = _sweep(*args, "--workers", "2", out=tmp_path / "b")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert _table(tmp_path / "a") == _table(tmp_path / "b")
    rows = list(csv.DictReader(io.StringIO(_table(tmp_path / "a"))))
    assert 1 <= len(rows) <= 6
    other = _sweep(*args[:-1], "5", "--workers", "1", out=tmp_path / "c")
    assert other.returncode == 0, other.stderr
    assert _table(tmp_path / "c") != _table(tmp_path / "a")


def test_sweep_when_files_are_several_adds_the_pipeline_column(tmp_path: Path) -> None:
    done = _sweep(INVENTORY, SYMMETRIC, "--grid", "strategy.with.size=1,2", "--runs", "2", "--workers", "1",
                  out=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(_table(tmp_path))))
    assert [(r["pipeline"], r["strategy.with.size"]) for r in rows] == [
        ("as2008-inventory", "1"), ("as2008-inventory", "2"), ("as2008-symmetric", "1"), ("as2008-symmetric", "2")]


@pytest.mark.parametrize("args, words", [
    (["--grid", "strategy.with.gamma"], "expected KEY=V1,V2"),
    (["--grid", "strategy.with.gamma=0.1", "--grid", "strategy.with.gamma=1"], "more than once"),
    (["--grid", "strategy.with.gamma=0.1,-3"], "gamma=-3: the pipeline refuses these values"),
    (["--grid", "strategy.with.nope=1"], "the pipeline refuses these values"),
    (["--grid", "strategy.with.gamma=0.1", "--objective", "happiness"], "is not a metric"),
    (["--grid", "strategy.with.gamma=0.1", "--search", "random"], "needs --trials"),
    (["--grid", "strategy.with.gamma=0.1", "--trials", "3"], "--trials is for"),
    (["--grid", "strategy.with.gamma=0.1", "--address", "auto"], "--address is for --engine ray"),
])
def test_sweep_when_it_cannot_be_meant_exits_2_before_running(args: list[str], words: str) -> None:
    done = _sweep(INVENTORY, *args, "--runs", "1", "--workers", "1")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_sweep_when_file_is_missing_exits_2_naming_it() -> None:
    done = _sweep("nowhere.yaml", "--grid", "strategy.with.gamma=0.1", "--workers", "1")
    assert done.returncode == 2
    assert "nowhere.yaml" in done.stderr and "Traceback" not in done.stderr


@needs_browser
@pytest.mark.anyio
async def test_sweep_html_when_opened_in_chromium_draws_the_ranking_and_heat_map(tmp_path: Path) -> None:
    done = _sweep(INVENTORY, *GRID, "--runs", "2", "--workers", "1", out=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = await open_in_chromium(tmp_path / "sweep.html")
    assert seen.console_errors == [] and seen.page_errors == []
    assert seen.plots == [
        "net PnL at final mid ($): the best 9",
        "net PnL at final mid ($) by k and gamma",
    ]
    assert seen.tables == 1
