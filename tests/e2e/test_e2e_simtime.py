"""``mmframe run --sim-time``: the real CLI on simulated time, judged by its journal.

Each run is its own process with its own journal (`MMFRAME_JOURNAL`); the simulator is the
in-process one behind a Unix socket, so these runs open no TCP port at all.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from bench.bench_simtime import compare, run_once
from mmframe.simtime import DEFAULT_START_NS
from tests.e2e.harness import MMFRAME, PIPELINES, SYMMETRIC

NANOS_PER_HOUR = 3600 * 10**9


def _run(pipeline: Path, journal: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MMFRAME_JOURNAL": str(journal)}
    env.pop("PYTHONHASHSEED", None)  # the CLI fixes it itself for --sim-time
    return subprocess.run([*MMFRAME, "run", str(pipeline), "--no-status", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _rows(journal: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(journal)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


FILLS = "SELECT ts_ns, ticker, client_order_id, order_id, trade_id, side, price, count, fee, mid FROM fills ORDER BY id"
EVENTS = "SELECT ts_ns, client_order_id, ticker, event, price, size, detail FROM order_events ORDER BY id"
PNL = "SELECT ts_ns, realised, unrealised, fees, net FROM pnl ORDER BY rowid"


def test_two_sim_time_runs_with_one_seed_when_compared_write_identical_journals(tmp_path: Path) -> None:
    journals = [tmp_path / "a.sqlite", tmp_path / "b.sqlite"]
    for journal in journals:
        done = _run(SYMMETRIC, journal, "--sim-time", "--duration", "120", "--set", "venue.sim.seed=11")
        assert done.returncode == 0, done.stderr[-3000:]
    a, b = journals
    fills = _rows(a, FILLS)
    assert len(fills) > 5  # something happened worth comparing
    assert fills == _rows(b, FILLS)
    assert _rows(a, EVENTS) == _rows(b, EVENTS)
    assert _rows(a, PNL) == _rows(b, PNL)
    # stamped with simulated time: the run starts at the fixed epoch and lasts 120 simulated seconds
    first, last = fills[0][0], fills[-1][0]
    assert isinstance(first, int) and isinstance(last, int)
    assert DEFAULT_START_NS <= first <= last <= DEFAULT_START_NS + 121 * 10**9


def test_sim_time_when_the_seed_differs_gives_another_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    assert _run(SYMMETRIC, a, "--sim-time", "--duration", "60", "--set", "venue.sim.seed=1").returncode == 0
    assert _run(SYMMETRIC, b, "--sim-time", "--duration", "60", "--set", "venue.sim.seed=2").returncode == 0
    assert _rows(a, FILLS) != _rows(b, FILLS)


def test_sim_time_when_the_pipeline_is_not_on_the_simulator_refuses_with_exit_2(tmp_path: Path) -> None:
    done = _run(PIPELINES / "symmetric-demo.yaml", tmp_path / "j.sqlite", "--sim-time", "--duration", "10")
    assert done.returncode == 2
    assert "--sim-time runs only pipelines on `venue: sim`" in done.stderr
    assert "kalshi-demo" in done.stderr
    assert not (tmp_path / "j.sqlite").exists()  # refused before anything started


def test_sim_time_without_a_duration_refuses_with_exit_2(tmp_path: Path) -> None:
    done = _run(SYMMETRIC, tmp_path / "j.sqlite", "--sim-time")
    assert done.returncode == 2
    assert "--sim-time needs --duration" in done.stderr


ONE_MARKET_SCENARIO = """\
name: one-market
description: One market for eight hours.
seed: 5
duration_minutes: 480
participants:
  fair_step_seconds: 1
  liquidity:
    refresh_seconds: 5
    half_spread: 0.04
    levels: 3
    level_gap: 0.01
    size: 50
  noise:
    rate_per_minute: 6
    min_size: 1
    max_size: 20
    slippage: 0.02
  informed:
    rate_per_minute: 3
    edge: 0.03
    size: 10
series:
  - ticker: SIM-RAIN
    title: Rain
    category: Climate and Weather
    fee_type: quadratic
events:
  - ticker: SIM-RAIN-26NOV
    series: SIM-RAIN
    title: Rain today
markets:
  - ticker: SIM-RAIN-NYC
    event: SIM-RAIN-26NOV
    title: Rain in NYC?
    price_level_structure: linear_cent
    initial_probability: 0.35
    volatility: 0.6
    jump_rate: 0.5
    jump_size: 0.5
"""

ONE_MARKET_PIPELINE = """\
name: eight-hours
venue:
  sim: {scenario: one-market.yaml}
markets: [SIM-RAIN-NYC]
strategy:
  use: symmetric
  with: {spread: 0.04, size: 10}
risk:
  - use: market-lifecycle
    with: {stop_before_close_minutes: 5}
  - use: max-position
    with: {per_market: 100, total: 100}
sinks:
  - use: journal
    with: {path: "${MMFRAME_JOURNAL}"}
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_eight_simulated_hours_of_a_small_pipeline_when_run_complete_to_the_close(tmp_path: Path) -> None:
    (tmp_path / "one-market.yaml").write_text(ONE_MARKET_SCENARIO)
    pipeline = tmp_path / "eight-hours.yaml"
    pipeline.write_text(textwrap.dedent(ONE_MARKET_PIPELINE))
    journal = tmp_path / "j.sqlite"
    done = _run(pipeline, journal, "--sim-time", "--duration", "28800", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "duration 28800s elapsed" in done.stderr
    (first, last, fills), = _rows(journal, "SELECT min(ts_ns), max(ts_ns), count(*) FROM fills")
    assert isinstance(first, int) and isinstance(last, int) and isinstance(fills, int)
    assert fills > 50
    assert first - DEFAULT_START_NS < NANOS_PER_HOUR  # trading from the start ...
    assert last - DEFAULT_START_NS > 7 * NANOS_PER_HOUR  # ... to the last hour before the close


@pytest.mark.timeout(400)
def test_wall_clock_and_sim_time_when_run_alike_trade_alike(tmp_path: Path) -> None:
    """The agreement `bench/bench_simtime.py` measures at 60 s x 4 seeds (docs/benchmarks.md), at a
    smaller scale: 20 s each way, two seeds. Both modes trade (fills on each run) and their fill
    counts are of one size (within a factor of 3 of each other on the sum over seeds: the spread
    over seeds alone is about that at this length, see the bench table)."""
    results = [
        run_once(SYMMETRIC, 20, seed, sim_time=sim_time, workdir=tmp_path)
        for seed in (3, 4)
        for sim_time in (False, True)
    ]
    table = compare(results)
    assert all(r.code == 0 for r in results), table
    assert all(r.fills > 0 for r in results), table
    wall = sum(r.fills for r in results if r.mode == "wall")
    sim = sum(r.fills for r in results if r.mode == "sim")
    assert wall / 3 <= sim <= wall * 3, table
