"""docs/avellaneda-stoikov.md: its one sweep command runs as written (fewer runs) and gives the
paper's six rows, which bench/as2008_tables.py turns into the doc's table."""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import MMFRAME

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "avellaneda-stoikov.md"


def _doc_command() -> list[str]:
    line = next(line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("mmframe sweep "))
    words = shlex.split(line)
    expanded: list[str] = []
    for word in words[1:]:
        expanded.extend(sorted(glob.glob(str(REPO / word))) if "*" in word else [word])
    return expanded


def test_as2008_doc_when_its_sweep_runs_gives_both_strategies_at_three_gammas(tmp_path: Path) -> None:
    args = _doc_command()
    assert args[:3] == ["sweep", str(REPO / "pipelines/as2008-inventory.yaml"),
                        str(REPO / "pipelines/as2008-symmetric.yaml")]
    runs = args.index("--runs")
    args[runs + 1] = "3"  # the doc's command, with 3 runs instead of 1,000
    if "--out" in args:
        del args[args.index("--out"):args.index("--out") + 2]
    done = subprocess.run([*MMFRAME, *args, "--workers", "1", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={**os.environ, "MMFRAME_JOURNAL": os.devnull})
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text(encoding="utf-8"))))
    assert sorted((r["pipeline"], r["strategy.with.gamma"]) for r in rows) == sorted(
        (p, g) for p in ("as2008-inventory", "as2008-symmetric") for g in ("0.1", "0.01", "0.5"))
    # Same γ, same spread: the symmetric benchmark quotes the inventory strategy's spread, unskewed.
    spread = {(r["pipeline"], r["strategy.with.gamma"]): r["spread_mean"] for r in rows}
    for gamma in ("0.1", "0.01", "0.5"):
        assert spread[("as2008-inventory", gamma)] == spread[("as2008-symmetric", gamma)]
    table = subprocess.run([sys.executable, str(REPO / "bench" / "as2008_tables.py"), str(tmp_path / "results.csv")],
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert len(re.findall(r"^\| \d \|", table.stdout, flags=re.MULTILINE)) == 6
