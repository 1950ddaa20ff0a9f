"""The sweep guard races the news sweepers, judged by the simulator's truth: ``pipelines/guarded.yaml``
on the ``news`` scenario under ``mmframe run --sim-time``, at our one-way latency of 0.5 ms and of
500 ms, same seed. Only the modelled latency differs, so the contracts the news sweepers take from us
show what the race is worth."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.trading import score
from tests.e2e.harness import MMFRAME, PIPELINES

SECONDS = 1200
NS = 1_000_000_000


def _truth(tmp_path: Path, latency_ms: str) -> dict[str, Any]:
    truth = tmp_path / f"truth-{latency_ms}.json"
    env = {**os.environ, "MMFRAME_JOURNAL": str(tmp_path / f"j-{latency_ms}.sqlite")}
    env.pop("PYTHONHASHSEED", None)  # the CLI fixes it itself for --sim-time
    args = [*MMFRAME, "run", str(PIPELINES / "guarded.yaml"), "--no-status", "--sim-time", "--duration", str(SECONDS),
            "--set", "venue.sim.seed=3", "--set", f"venue.sim.latency.network_ms={latency_ms}",
            "--set", f"venue.sim.truth_path={truth}", "--set", "control.enabled=false"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(truth.read_bytes())
    return loaded


def _repeat_sweeps(truth: dict[str, Any], after_ns: int) -> float:
    """Contracts of ours a news sweeper took more than ``after_ns`` after another sweeper's fill of
    ours on the same market and side, within the guard's cool-down (1 s): sweeps the guard was
    there in time to dodge."""
    last: dict[tuple[str, str], int] = {}
    repeated = 0.0
    for fill in sorted(truth["fills"], key=lambda f: int(f["ts_ns"])):
        if fill["counterparty"] != "sim-news":
            continue
        key, ts = (fill["ticker"], fill["side"]), int(fill["ts_ns"])
        first = last.get(key)
        if first is not None and after_ns < ts - first <= NS:
            repeated += float(fill["count_fp"])
        if first is None or ts - first > NS:
            last[key] = ts
    return repeated


def test_guarded_pipeline_when_faster_is_picked_off_less_by_news_sweepers(tmp_path: Path) -> None:
    fast, slow = _truth(tmp_path, "0.5"), _truth(tmp_path, "500")
    fast_score, slow_score = score(fast, SECONDS), score(slow, SECONDS)
    assert fast_score.jumps == slow_score.jumps > 0  # the same news, seed for seed
    assert fast_score.contracts > 0 and slow_score.contracts > 0
    assert fast_score.picked_contracts < slow_score.picked_contracts
    # At 0.5 ms the guard's cancel reaches the exchange ~1.5 ms after a sweep: no later sweeper of
    # the same news finds that side of ours still resting.
    assert _repeat_sweeps(fast, after_ns=20_000_000) == 0
