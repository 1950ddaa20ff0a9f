"""Simulated time against wall-clock time, and what 8 simulated hours cost.

Run: ``python bench/bench_simtime.py [--seconds 60] [--seeds 1 2 3 4] [--pipeline pipelines/symmetric.yaml]``
(the agreement table: each seed once on wall-clock time and once with ``--sim-time``), or
``python bench/bench_simtime.py --hours 8`` (one ``--sim-time`` run of that many hours, timed).

Every run is the real CLI (``mmframe run``) in its own process with its own journal; the figures
come from the journal: fills, contracts traded, and net PnL (realised + unrealised at the mid -
fees) at the end of the run, the daemon's own books. Wall-clock and simulated runs of one seed do
not follow the same market path (on the wall clock the exchange steps at whatever moments the loop
gets to it, so its random draws interleave differently), so the comparison is of distributions:
the mean and spread over seeds of each mode, and the difference of the means against its standard
error.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MMFRAME = str(Path(sys.executable).parent / "mmframe")


@dataclass(frozen=True)
class RunResult:
    """One run's outcome from its journal: fills, contracts (1/100), net PnL (1/10,000 $), real seconds."""

    mode: str
    seed: int
    code: int
    fills: int
    contracts: int
    net: int
    real_s: float


def run_once(pipeline: Path, seconds: float, seed: int, *, sim_time: bool, workdir: Path,
             extra: tuple[str, ...] = ()) -> RunResult:
    """``mmframe run pipeline`` for ``seconds`` with the simulator's ``seed``; its journal read back."""
    mode = "sim" if sim_time else "wall"
    journal = workdir / f"{mode}-{seed}.sqlite"
    env = {**os.environ, "MMFRAME_JOURNAL": str(journal)}
    args = [MMFRAME, "run", str(pipeline), "--duration", str(seconds), "--no-status",
            "--set", f"venue.sim.seed={seed}", "--set", "control.enabled=false", *extra]
    if sim_time:
        args.append("--sim-time")
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds * 20 + 600, check=False)
    real_s = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
    fills, contracts, net = read_journal(journal)
    return RunResult(mode, seed, done.returncode, fills, contracts, net, real_s)


def read_journal(path: Path) -> tuple[int, int, int]:
    """Fills, contracts and the last net PnL a journal holds."""
    db = sqlite3.connect(path)
    try:
        fills, contracts = db.execute("SELECT count(*), coalesce(sum(count), 0) FROM fills").fetchone()
        row = db.execute("SELECT net FROM pnl ORDER BY ts_ns DESC, rowid DESC LIMIT 1").fetchone()
    finally:
        db.close()
    return int(fills), int(contracts), int(row[0]) if row else 0


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def compare(results: list[RunResult]) -> str:
    """The agreement table: per seed, then mean ± sd per mode and the difference in standard errors."""
    lines = [f"{'seed':>4} {'mode':>4} {'exit':>4} {'fills':>6} {'contracts':>10} {'net $':>9} {'real s':>7}"]
    for r in sorted(results, key=lambda r: (r.seed, r.mode)):
        lines.append(f"{r.seed:>4} {r.mode:>4} {r.code:>4} {r.fills:>6} {r.contracts / 100:>10.2f} "
                     f"{r.net / 10_000:>9.4f} {r.real_s:>7.1f}")
    for label, get in (("fills", lambda r: float(r.fills)), ("contracts", lambda r: r.contracts / 100),
                       ("net $", lambda r: r.net / 10_000)):
        wall = [get(r) for r in results if r.mode == "wall"]
        sim = [get(r) for r in results if r.mode == "sim"]
        (mw, sw), (ms, ss) = _mean_sd(wall), _mean_sd(sim)
        se = ((sw**2) / max(len(wall), 1) + (ss**2) / max(len(sim), 1)) ** 0.5
        z = (ms - mw) / se if se else 0.0
        lines.append(f"{label:>10}: wall {mw:.2f} ± {sw:.2f}, sim {ms:.2f} ± {ss:.2f} "
                     f"(difference {ms - mw:+.2f} = {z:+.2f} standard errors)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", type=Path, default=REPO / "pipelines" / "symmetric.yaml")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--hours", type=float, default=None,
                        help="Instead: one --sim-time run of this many hours (first seed), timed.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-simtime-") as tmp:
        workdir = Path(tmp)
        if args.hours is not None:
            r = run_once(args.pipeline, args.hours * 3600, args.seeds[0], sim_time=True, workdir=workdir)
            print(f"{args.pipeline.name}, {args.hours:g} simulated hours, seed {r.seed}: exit {r.code}, "
                  f"{r.fills} fills, {r.contracts / 100:.2f} contracts, net ${r.net / 10_000:.4f}, "
                  f"{r.real_s:.1f} s real ({args.hours * 3600 / r.real_s:.0f}x)")
            return
        results = []
        for seed in args.seeds:
            for sim_time in (False, True):
                results.append(run_once(args.pipeline, args.seconds, seed, sim_time=sim_time, workdir=workdir))
        print(f"{args.pipeline.name}, {args.seconds:g} s per run, seeds {args.seeds}")
        print(compare(results))


if __name__ == "__main__":
    main()
