"""The scoreboard's claims on short ``mmframe run --sim-time`` runs, judged by the simulator's truth.

Each run is the real CLI in its own process; at the end the simulator writes its ground truth
(``venue.sim.truth_path``) and `bench.trading.score` reads it: the exchange's refused requests, our
fills tagged with the counterparty and the true fair value. Nothing here reads the daemon's books.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.trading import SCENARIO_MARKETS, score
from tests.e2e.harness import MMFRAME, PIPELINES

SECONDS = 600


def _truth_run(pipeline: Path, scenario: str, tmp_path: Path, *extra: str) -> dict[str, object]:
    truth = tmp_path / "truth.json"
    env = {**os.environ, "MMFRAME_JOURNAL": str(tmp_path / "j.sqlite")}
    env.pop("PYTHONHASHSEED", None)  # the CLI fixes it itself for --sim-time
    args = [*MMFRAME, "run", str(pipeline), "--no-status", "--sim-time", "--duration", str(SECONDS),
            "--set", f"venue.sim.scenario={scenario}", "--set", "venue.sim.seed=3",
            "--set", f"venue.sim.truth_path={truth}", "--set", "control.enabled=false", *extra]
    args += ["--set", f"markets={SCENARIO_MARKETS[scenario]}"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, object] = json.loads(truth.read_bytes())
    return loaded


@pytest.mark.parametrize(
    ("pipeline", "scenario"),
    [
        ("symmetric.yaml", "standard"),
        ("symmetric.yaml", "news"),
        ("avellaneda.yaml", "standard"),
        ("avellaneda.yaml", "news"),
        ("guarded.yaml", "standard"),
        ("guarded.yaml", "news"),
        ("glft.yaml", "standard"),
        ("glft.yaml", "news"),
    ],
)
def test_shipped_pipeline_when_run_on_a_scenario_gets_no_post_only_cross_rejects(
    pipeline: str, scenario: str, tmp_path: Path
) -> None:
    truth = _truth_run(PIPELINES / pipeline, scenario, tmp_path)
    result = score(truth, SECONDS)
    assert result.contracts > 0  # it traded: the claim is about a pipeline that quoted
    crosses = [r for r in truth["rejects"] if "post only" in str(r["details"])]  # type: ignore[index, union-attr]
    assert crosses == []
    assert result.po_cross == 0


def test_truth_record_when_scored_splits_net_pnl_into_its_terms(tmp_path: Path) -> None:
    truth = _truth_run(PIPELINES / "symmetric.yaml", "news", tmp_path)
    result = score(truth, SECONDS)
    assert result.contracts > 0
    # the split adds up to the net by definition; the fees are the exchange's, not ours
    assert result.net == pytest.approx(result.spread + result.adverse + result.inventory + result.settlement
                                       - result.fees)
    assert result.fees >= 0
    # markouts are only kept for classes that traded with us, in contracts
    assert sum(result.markout_den.values()) == pytest.approx(result.contracts)
    assert 0.0 < result.uptime <= 1.0
