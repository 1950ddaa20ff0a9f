"""The layering rules: the core never imports a plugin; a plugin imports only ``mmframe.api`` from the core;
no first-party plugin imports another (import-linter, pyproject ``[tool.importlinter]``)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import mmframe
from tests.core.distfactory import REPO

ALLOWED_CORE_MODULE = "mmframe.api"


def core_imports_outside_api(path: Path) -> list[str]:
    """``file:line: import ...`` for every import of the core other than ``mmframe.api`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    violations = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mmframe":
                names = [f"mmframe.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        for name in names:
            if (name == "mmframe" or name.startswith("mmframe.")) and name != ALLOWED_CORE_MODULE:
                violations.append(f"{_shown(path)}:{node.lineno}: imports {name}")
    return violations


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def test_layering_when_import_linter_runs_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layering_when_plugins_scanned_import_only_mmframe_api() -> None:
    files = sorted((REPO / "plugins").rglob("*.py"))
    violations = [v for path in files for v in core_imports_outside_api(path)]
    assert files
    assert violations == [], "plugins must import only mmframe.api from the core:\n" + "\n".join(violations)


def test_layering_check_when_plugin_imports_core_internals_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("from mmframe.api import Kind\nimport mmframe.runtime\nfrom mmframe import pipeline, api\n"
                   "from . import sibling\nimport mmframe_other\n", encoding="utf-8")
    assert core_imports_outside_api(bad) == [
        f"{bad}:2: imports mmframe.runtime",
        f"{bad}:3: imports mmframe.pipeline",
    ]


def _contract(name: str) -> dict[str, object]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def test_layering_contracts_when_read_cover_every_core_module_but_the_api_and_every_first_party_plugin() -> None:
    """The import-linter lists are complete: a new core module is forbidden to plugins from the start,
    a new first-party plugin is independent of the others from the start."""
    core = sorted(f"mmframe.{m.name}" for m in pkgutil.iter_modules(mmframe.__path__))
    forbidden = _contract("Plugins import only mmframe.api from the core")
    assert sorted(forbidden["forbidden_modules"]) == [m for m in core if m != ALLOWED_CORE_MODULE]  # type: ignore[arg-type]
    plugins = sorted(p.name for p in (REPO / "plugins").iterdir() if (p / "__init__.py").is_file())
    assert sorted(forbidden["source_modules"]) == plugins  # type: ignore[arg-type]
    assert sorted(_contract("First-party plugins are independent of each other")["modules"]) == plugins  # type: ignore[arg-type]


def runtime_imports_at_run_time(path: Path) -> list[str]:
    """``file:line: imports ...`` for every import of ``mmframe.runtime`` in ``path`` that is not
    under ``if TYPE_CHECKING:`` (the control plane may name the engine's types, never load it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            type_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.startswith("mmframe.runtime") and id(node) not in type_only:
                found.append(f"{_shown(path)}:{node.lineno}: imports {name}")
    return found


def test_layering_when_control_plane_scanned_imports_the_runtime_only_for_type_checking() -> None:
    files = sorted((REPO / "mmframe" / "control").rglob("*.py"))
    violations = [v for path in files for v in runtime_imports_at_run_time(path)]
    assert files
    assert violations == [], ("the control plane may import mmframe.runtime only under TYPE_CHECKING "
                              "(mmframe.daemon composes the two):\n" + "\n".join(violations))


def test_layering_check_when_runtime_imported_at_run_time_reports_it(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mmframe.runtime.engine import "
                     "Engine\nfrom mmframe.runtime.gate import Gate\n", encoding="utf-8")
    assert runtime_imports_at_run_time(probe) == [f"{probe}:4: imports mmframe.runtime.gate"]
