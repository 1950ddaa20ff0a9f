"""Rewrite the chaos table in docs/reliability.md from the suite's recorded results.

    MMFRAME_CHAOS_RESULTS=tests/chaos/results.json python -m pytest -m chaos   # record a run
    python tests/chaos/render_reliability.py [--results tests/chaos/results.json] [--check]

``--check`` renders nothing and exits 1 when the document's table is not what the results give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.chaos.results import DEFAULT_RESULTS, DOC, load, render_doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="The recorded results (JSON).")
    parser.add_argument("--doc", type=Path, default=DOC, help="The document holding the table.")
    parser.add_argument("--check", action="store_true", help="Only check that the table is current.")
    args = parser.parse_args(argv)
    current = args.doc.read_text()
    rendered = render_doc(current, load(args.results))
    if args.check:
        if rendered != current:
            print(f"{args.doc}: the chaos table is not current; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.doc.write_text(rendered)
    print(f"{args.doc}: table rendered from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
