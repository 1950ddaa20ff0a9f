"""``mmframe check`` on pipeline files from 1 kB to 50 MB: a result or a clear refusal, and how long.

Run: ``python bench/bench_check.py [--sizes 0.001,0.1,0.5,5,50] [--baseline]``. Each file is the
shipped ``pipelines/symmetric.yaml`` padded with unknown top-level keys (the shape that used to make
``check`` quadratic: 5 MB took 22 s, 50 MB over 40 s), checked through the real console script in a
subprocess (interpreter and plugin start-up included). Prints size, wall seconds (median of
``--repeat``), exit code and the first line of output. ``--baseline`` also times strictyaml's own
validating loader (what ``check`` used before) on small files in the same run, to show its growth.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / "pipelines" / "symmetric.yaml").read_text(encoding="utf-8")
MMFRAME = [str(Path(sys.executable).parent / "mmframe")]


def padded(megabytes: float) -> str:
    """The base pipeline plus unknown keys up to about ``megabytes`` MB."""
    target = int(megabytes * 1_000_000)
    lines = [BASE]
    size = len(BASE)
    index = 0
    while size < target:
        line = f"unknown_key_{index}: value {index}\n"
        lines.append(line)
        size += len(line)
        index += 1
    return "".join(lines)


def time_check(path: Path, repeat: int) -> tuple[float, int, str]:
    """Median wall seconds of ``mmframe check path``, its exit code and first output line."""
    times = []
    code, first = 0, ""
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run([*MMFRAME, "check", str(path)], capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        code = result.returncode
        lines = (result.stdout or result.stderr).splitlines()
        first = lines[0].replace(str(path), "FILE") if lines else ""
    return statistics.median(times), code, first


def time_strictyaml(text: str) -> float:
    """Seconds strictyaml's validating ``dirty_load`` takes on ``text`` (the old parser)."""
    import strictyaml

    started = time.perf_counter()
    strictyaml.dirty_load(text, allow_flow_style=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.001,0.1,0.5,5,50", help="File sizes in MB, comma-separated.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per size (median reported).")
    parser.add_argument("--baseline", action="store_true", help="Also time strictyaml's validating loader.")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"{'size':>10}  {'seconds':>8}  {'exit':>4}  first line of output")
    with tempfile.TemporaryDirectory() as scratch:
        for megabytes in sizes:
            text = BASE if megabytes * 1_000_000 <= len(BASE) else padded(megabytes)
            path = Path(scratch) / f"p-{megabytes}.yaml"
            path.write_text(text, encoding="utf-8")
            seconds, code, first = time_check(path, args.repeat)
            size = len(text.encode())
            shown = f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
            print(f"{shown:>10}  {seconds:8.2f}  {code:>4}  {first[:110]}")
    if args.baseline:
        print("\nstrictyaml's validating loader (the old path), same machine, same run:")
        print(f"{'size':>10}  {'seconds':>8}")
        for kilobytes in (25, 50, 100):
            text = padded(kilobytes / 1000)
            print(f"{len(text.encode()) / 1e3:8.1f} kB  {time_strictyaml(text):8.2f}")


if __name__ == "__main__":
    main()
