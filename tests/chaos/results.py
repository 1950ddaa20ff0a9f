"""The chaos suite's record of outcomes (a JSON file) and the table docs/reliability.md shows from it.

The file maps each case (``test_file.py::test_name[params]``) to how often it ran and how it ended:
``{"tries": 3, "passed": 1, "xfailed": 2, "failed": 0, "xpassed": 0, "last": "passed", "seconds": 7.1}``,
plus ``observed`` (what the last run saw on the venue) for cases that record it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHAOS_DIR = Path(__file__).resolve().parent
DOC = CHAOS_DIR.parents[1] / "docs" / "reliability.md"
DEFAULT_RESULTS = CHAOS_DIR / "results.json"
TABLE_BEGIN = "<!-- chaos-table:begin (rendered by tests/chaos/render_reliability.py) -->"
TABLE_END = "<!-- chaos-table:end -->"
_OUTCOMES = ("passed", "xfailed", "failed", "xpassed", "skipped")


@dataclass(frozen=True)
class Outcome:
    """How one case ended in one run."""

    node: str
    outcome: str
    seconds: float
    observed: str = ""
    """What the case saw on the venue, when it says (``record_property("observed", ...)``)."""


def case_name(node: str) -> str:
    """``tests/chaos/test_chaos_stop.py::test_x[a-b]`` -> ``test_chaos_stop.py::test_x[a-b]``."""
    return node.split("/")[-1]


def is_chaos_case(node: str) -> bool:
    """Whether a test id is a chaos case (a test in ``tests/chaos/test_chaos_*.py``), not a helper's test."""
    return case_name(node).startswith("test_chaos_")


def load(path: Path) -> dict[str, dict[str, object]]:
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()))


def record(path: Path, outcomes: Iterable[Outcome]) -> None:
    """Add ``outcomes`` to the file at ``path`` (created if missing)."""
    data = load(path)
    for outcome in outcomes:
        entry = data.setdefault(case_name(outcome.node), {"tries": 0, **{k: 0 for k in _OUTCOMES}})
        entry["tries"] = int(str(entry["tries"])) + 1
        entry[outcome.outcome] = int(str(entry.get(outcome.outcome, 0))) + 1
        entry["last"] = outcome.outcome
        entry["seconds"] = round(outcome.seconds, 1)
        if outcome.observed:
            entry["observed"] = outcome.observed
    path.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")


def chaos_functions() -> dict[str, str]:
    """Every chaos test function (``file::name``) and the first paragraph of its docstring: what the
    case checks against the venue."""
    found: dict[str, str] = {}
    for path in sorted(CHAOS_DIR.glob("test_chaos_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                doc = ast.get_docstring(node) or ""
                found[f"{path.name}::{node.name}"] = " ".join(doc.split("\n\n")[0].split())
    return found


def _function_of(case: str) -> str:
    return re.sub(r"\[.*\]$", "", case)


def _counts(entries: list[dict[str, object]]) -> str:
    def total(key: str) -> int:
        return sum(int(str(e.get(key, 0))) for e in entries)

    # an xpass is a run the daemon passed (the known bug did not show)
    return f"{total('tries')} | {total('passed') + total('xpassed')} | {total('xfailed')} | {total('failed')}"


def render_table(results: dict[str, dict[str, object]]) -> str:
    """The Markdown table: per chaos test function a row with its totals and what it checks against the
    venue, then one row per case (parameters) that has run."""
    rows = ["| case | tries | passed | xfail (known bug) | failed | checked against the venue |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for function, doc in sorted(chaos_functions().items()):
        cases = {case: entry for case, entry in sorted(results.items()) if _function_of(case) == function}
        plain = cases.get(function, {})  # an unparametrized case: its last run goes in this row
        last = f" *Last run: {plain['observed']}.*" if plain.get("observed") else ""
        rows.append(f"| `{function}` | {_counts(list(cases.values()))} | {doc}{last} |")
        for case, entry in cases.items():
            params = case[len(function):]
            if params:
                last = f"last run: {entry['observed']}" if entry.get("observed") else ""
                rows.append(f"| &nbsp;&nbsp;`{params}` | {_counts([entry])} | {last} |")
    return "\n".join(rows)


def render_doc(doc: str, results: dict[str, dict[str, object]]) -> str:
    """``doc`` with the text between the table markers replaced by the current table."""
    start, end = doc.index(TABLE_BEGIN) + len(TABLE_BEGIN), doc.index(TABLE_END)
    return doc[:start] + "\n" + render_table(results) + "\n" + doc[end:]
