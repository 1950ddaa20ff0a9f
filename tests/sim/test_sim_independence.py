"""The simulator shares no money, fee or wire code with the client it judges.

import-linter (pyproject ``[tool.importlinter]``) forbids ``mmframe_sim`` -> ``mmframe_kalshi`` and direct
imports of the core's money/fee/grid modules. ``mmframe.api`` re-exports those helpers, so this test
checks every name the simulator takes from ``mmframe.api`` against an allow-list of non-money plumbing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.core.distfactory import REPO

SIM = REPO / "plugins" / "mmframe_sim"

ALLOWED_FROM_API = frozenset({
    "hookimpl", "Clock", "LiveClock", "TestClock", "NANOS_PER_SECOND",
    # the `sim` venue's declaration (mmframe_sim/venue.py); MAX_DOLLARS bounds its balance key
    "ComponentSpec", "ComponentContext", "Kind", "ClientVenue", "VenueEndpoint", "MAX_DOLLARS",
    "in_virtual_time",  # whether the pipeline runs on simulated time (the exchange then runs on its clock)
})
"""Plugin registration, component declaration and clocks: nothing that parses, formats or computes money."""


def api_imports(path: Path) -> list[str]:
    """``file:line: name`` for each import that reaches into ``mmframe.api`` beyond the allow-list, or
    into the client or the core's internals."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mmframe.api":
                found += [f"{where}:{node.lineno}: {a.name}" for a in node.names if a.name not in ALLOWED_FROM_API]
            elif node.module == "mmframe":  # `from mmframe import api` gives every helper as an attribute
                found += [f"{where}:{node.lineno}: mmframe.{a.name}" for a in node.names]
            elif node.module.startswith(("mmframe.", "mmframe_kalshi")):
                found.append(f"{where}:{node.lineno}: {node.module}")
        elif isinstance(node, ast.Import):
            found += [
                f"{where}:{node.lineno}: {a.name}"
                for a in node.names
                if a.name == "mmframe" or a.name.startswith(("mmframe.", "mmframe_kalshi"))
            ]
    return found


def test_simulator_when_scanned_imports_only_plumbing_from_mmframe_api() -> None:
    files = sorted(SIM.rglob("*.py"))
    assert len(files) > 10
    found = [v for path in files for v in api_imports(path)]
    assert found == [], "the simulator must not use the client's money/fee/wire code:\n" + "\n".join(found)


def test_simulator_scan_when_money_helper_imported_reports_each_way_in(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from mmframe.api import Clock, format_price\n"
        "import mmframe.api\n"
        "from mmframe import api\n"
        "from mmframe.domain.fees import taker_fee\n"
        "import mmframe_kalshi.models\n"
        "from mmframe_kalshi import rest\n"
        "from mmframe_sim.money import parse_price\n",
        encoding="utf-8",
    )
    assert api_imports(probe) == [
        f"{probe}:1: format_price",
        f"{probe}:2: mmframe.api",
        f"{probe}:3: mmframe.api",
        f"{probe}:4: mmframe.domain.fees",
        f"{probe}:5: mmframe_kalshi.models",
        f"{probe}:6: mmframe_kalshi",
    ]
