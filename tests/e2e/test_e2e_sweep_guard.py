"""The sweep guard races the news sweepers, judged by the simulator's truth: ``pipelines/guarded.yaml``
on the ``news`` scenario under ``mmframe run --sim-time``, at our one-way latency of 0.5 ms and of
500 ms, same seed. Only the modelled latency differs, so the contracts the news sweepers take from us
show what the race is worth."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.trading import score
from tests.e2e.harness import MMFRAME, PIPELINES

SECONDS = 3600  # 10 news jumps in the three markets at seed 3


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


def test_guarded_pipeline_when_faster_is_picked_off_less_by_news_sweepers(tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:  # two processes: the runs are independent
        fast, slow = pool.map(lambda ms: _truth(tmp_path, ms), ("0.5", "500"))
    fast_score, slow_score = score(fast, SECONDS), score(slow, SECONDS)
    assert fast_score.jumps == slow_score.jumps > 0  # the same news, seed for seed
    assert fast_score.contracts > 0 and slow_score.contracts > 0
    # At 0.5 ms the guard's cancel reaches the exchange ~1.5 ms after the first sweep, before the
    # next sweeper (50-500 ms after the news); at 500 ms it arrives after all of them.
    assert fast_score.picked_contracts < slow_score.picked_contracts
