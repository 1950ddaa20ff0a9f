"""Backtest speed on the Avellaneda–Stoikov (2008) paper market, against a bare baseline.

Run: ``python bench/bench_backtest.py [--runs N] [--rounds R]``. Prints median and p99 milliseconds
per run (200 steps each), runs per second, the time 1000 runs take, and the ratio of each path's
rate to the baseline's, with rounds interleaved so every path sees the same machine load.

- baseline: the paper's procedure as one tight float loop (mid walk, quotes, Bernoulli fills, no
  framework, no exact money): the floor of what a Python simulation costs.
- inventory: ``pipelines/as2008-inventory.yaml`` through `run_backtest` (feed events, quoting core,
  avellaneda-stoikov strategy, reconciler, order tracker, ledger, as2008-fills executor).
- symmetric: ``pipelines/as2008-symmetric.yaml`` the same way.

The contract (issue 3): ``mmframe backtest ... --runs 1000`` under a minute on this machine.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.backtest import build_backtest, run_backtest_once

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def baseline_run(seed: int) -> float:
    """One path of the paper's simulation in plain floats; returns the terminal wealth."""
    rng = random.Random(seed)
    s, q, x, gamma, sigma2, k, a, dt = 100.0, 0, 0.0, 0.1, 4.0, 1.5, 140.0, 0.005
    step = math.sqrt(sigma2 * dt)
    for i in range(200):
        left = 1.0 - i * dt
        r = s - q * gamma * sigma2 * left
        half = 0.5 * gamma * sigma2 * left + math.log1p(gamma / k) / gamma
        bid, ask = r - half, r + half
        if rng.random() < a * math.exp(-k * (ask - s)) * dt:
            q -= 1
            x += ask
        if rng.random() < a * math.exp(-k * (s - bid)) * dt:
            q += 1
            x -= bid
        s += step if rng.random() < 0.5 else -step
    return x + q * s


def pipeline_runner(name: str) -> Callable[[int], object]:
    registry = load_registry()
    parts = build_backtest(load_pipeline(PIPELINES / name, registry), registry)
    return lambda seed: run_backtest_once(parts, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    paths: dict[str, Callable[[int], object]] = {
        "baseline": baseline_run,
        "inventory": pipeline_runner("as2008-inventory.yaml"),
        "symmetric": pipeline_runner("as2008-symmetric.yaml"),
    }
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(args.rounds):
        for name, run in paths.items():
            for i in range(args.runs):
                started = time.perf_counter_ns()
                run(round_ * args.runs + i)
                samples[name].append((time.perf_counter_ns() - started) / 1e6)
    base = statistics.median(samples["baseline"])
    print(f"{'path':<10} {'median ms/run':>14} {'p99 ms/run':>11} {'runs/s':>9} {'1000 runs s':>12} {'ratio':>7}")
    for name, times in samples.items():
        times.sort()
        median = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:<10} {median:>14.3f} {p99:>11.3f} {1000 / median:>9.0f} {median:>12.1f} {base / median:>7.3f}")


if __name__ == "__main__":
    main()
