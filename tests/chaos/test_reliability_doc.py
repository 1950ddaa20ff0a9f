"""docs/reliability.md lists every chaos case, and its table is what the recorded results give."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.chaos.conftest import RESULTS_ENV
from tests.chaos.results import (
    DEFAULT_RESULTS,
    DOC,
    TABLE_BEGIN,
    TABLE_END,
    Outcome,
    chaos_functions,
    is_chaos_case,
    load,
    record,
    render_doc,
    render_table,
)


def _table(doc: str) -> str:
    return doc[doc.index(TABLE_BEGIN):doc.index(TABLE_END)]


def test_reliability_doc_when_read_lists_every_chaos_test_function() -> None:
    table = _table(DOC.read_text())
    functions = chaos_functions()
    assert len(functions) >= 5
    missing = [f for f in functions if f"`{f}" not in table]
    assert not missing, f"docs/reliability.md's table lacks {missing}: run tests/chaos/render_reliability.py"


@pytest.mark.skipif(bool(os.environ.get(RESULTS_ENV)), reason="this run records results: render the doc after it")
def test_reliability_doc_when_rendered_from_recorded_results_is_unchanged() -> None:
    doc = DOC.read_text()
    assert render_doc(doc, load(DEFAULT_RESULTS)) == doc, "run tests/chaos/render_reliability.py"


def test_every_chaos_test_function_when_listed_has_a_docstring_saying_what_the_venue_checked() -> None:
    assert all(chaos_functions().values())


def test_record_when_runs_added_counts_tries_per_outcome(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    case = "tests/chaos/test_chaos_stop.py::test_x[a]"
    record(path, [Outcome(case, "xfailed", 3.21)])
    record(path, [Outcome(case, "passed", 2.0), Outcome("tests/chaos/test_chaos_stop.py::test_y", "failed", 1.0)])
    data = json.loads(path.read_text())
    assert data["test_chaos_stop.py::test_x[a]"] == {
        "tries": 2, "passed": 1, "xfailed": 1, "failed": 0, "xpassed": 0, "skipped": 0, "last": "passed",
        "seconds": 2.0,
    }
    assert data["test_chaos_stop.py::test_y"]["failed"] == 1


def test_render_table_when_function_never_ran_shows_zero_tries() -> None:
    some = next(iter(chaos_functions()))
    rows = render_table({}).splitlines()
    assert any(row.startswith(f"| `{some}` | 0 | 0 | 0 | 0 |") for row in rows)


def test_render_doc_when_markers_missing_raises() -> None:
    with pytest.raises(ValueError):
        render_doc("no table here", {})


def test_is_chaos_case_when_helper_test_returns_false() -> None:
    assert is_chaos_case("tests/chaos/test_chaos_stop.py::test_x[a]")
    assert not is_chaos_case("tests/chaos/test_reliability_doc.py::test_y")
