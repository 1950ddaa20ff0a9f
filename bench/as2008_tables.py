"""The Avellaneda–Stoikov paper's three tables from one sweep, next to the paper's figures, as the
markdown table in docs/avellaneda-stoikov.md.

    mmframe sweep pipelines/as2008-*.yaml --grid strategy.with.gamma=0.1,0.01,0.5 --runs 1000 --out var/as2008
    python bench/as2008_tables.py var/as2008/results.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# The paper's Tables 1-3 (Avellaneda & Stoikov 2008, §4): spread, profit, std(profit), final q, std(final q).
PAPER: dict[tuple[str, str], tuple[float, float, float, float, float]] = {
    ("0.1", "inventory"): (1.29, 62.94, 5.89, 0.10, 2.80),
    ("0.1", "symmetric"): (1.29, 67.21, 13.43, -0.018, 8.66),
    ("0.01", "inventory"): (1.33, 66.78, 8.76, -0.02, 4.70),
    ("0.01", "symmetric"): (1.33, 67.36, 13.40, -0.31, 8.65),
    ("0.5", "inventory"): (1.15, 33.92, 4.72, -0.02, 1.88),
    ("0.5", "symmetric"): (1.15, 66.20, 14.53, 0.25, 9.06),
}
TABLE = {"0.1": 1, "0.01": 2, "0.5": 3}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with Path(sys.argv[1]).open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    print("| table | γ | strategy | | spread | profit | std(profit) | final q | std(final q) |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for row in sorted(rows, key=lambda r: (TABLE[r["strategy.with.gamma"]], r["pipeline"])):
        gamma = row["strategy.with.gamma"]
        strategy = row["pipeline"].removeprefix("as2008-")
        paper = PAPER[(gamma, strategy)]
        ours = (float(row["spread_mean"]), float(row["profit_mean"]), float(row["profit_std"]),
                float(row["final_inventory_mean"]), float(row["final_inventory_std"]))
        print(f"| {TABLE[gamma]} | {gamma} | {strategy} | paper | " + " | ".join(f"{v:g}" for v in paper) + " |")
        print("| | | | mmframe | " + " | ".join(f"{v:.2f}" for v in ours) + " |")


if __name__ == "__main__":
    main()
