"""How a sweep scales: the same 12 combinations × 200 runs of the paper's pipeline with 1 local worker
(the baseline), 2 local workers and a local Ray instance of 2 CPUs, each timed ``--repeat`` times in
this one run, as wall-clock seconds and speed-up over the baseline. Every engine must give the same
table (checked). Goal on 2 cores: >= 1.7x for both engines.

    python bench/bench_sweep.py [--runs 200] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MMFRAME = str(Path(sys.executable).parent / "mmframe")
PIPELINE = str(REPO / "pipelines" / "as2008-inventory.yaml")
GRID = ["--grid", "strategy.with.gamma=0.01,0.05,0.1,0.5", "--grid", "strategy.with.k=1,1.5,2"]  # 12


def sweep(engine: str, workers: int, runs: int, out: Path) -> float:
    """One sweep in a process of its own; its wall-clock seconds (engine start included)."""
    command = [MMFRAME, "sweep", PIPELINE, *GRID, "--runs", str(runs), "--engine", engine,
               "--workers", str(workers), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MMFRAME_JOURNAL": os.devnull})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{engine} x{workers} failed:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cases = [("local", 1), ("local", args.workers), ("ray", args.workers)]
    times: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
    tables: dict[tuple[str, int], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeat):
            for engine, workers in cases:  # interleaved, so load on the machine hits every case alike
                out = Path(tmp) / f"{engine}-{workers}-{repeat}"
                times[(engine, workers)].append(sweep(engine, workers, args.runs, out))
                tables[(engine, workers)] = (out / "results.csv").read_text(encoding="utf-8")
    if len(set(tables.values())) != 1:
        sys.exit("the engines gave different tables")
    base = statistics.median(times[cases[0]])
    print(f"sweep of 12 combinations x {args.runs} runs (as2008-inventory), {args.repeat} repeats, "
          f"{os.cpu_count()} cores; identical tables: yes")
    print(f"{'engine':<10} {'workers':>7} {'median s':>9} {'max s':>7} {'speed-up':>9}")
    for engine, workers in cases:
        series = times[(engine, workers)]
        median = statistics.median(series)
        print(f"{engine:<10} {workers:>7} {median:>9.1f} {max(series):>7.1f} {base / median:>8.2f}x")


if __name__ == "__main__":
    main()
