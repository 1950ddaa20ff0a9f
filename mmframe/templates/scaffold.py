"""``mmframe plugins new``: write a separate, pip-installable plugin package with one working component.

The package is exactly what a third party would write: a pyproject.toml with an entry point in the
``mmframe`` group, one module that imports only ``mmframe.api``, a passing test, and a README.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

from mmframe import __version__
from mmframe.components import Kind
from mmframe.pipeline.snippets import component_snippet

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

_HOOKS = {Kind.STRATEGY: "register_strategies", Kind.RISK: "register_risk_rules", Kind.SINK: "register_sinks",
          Kind.FEED: "register_feeds", Kind.EXECUTOR: "register_executors"}
_SUFFIX = {Kind.STRATEGY: "Strategy", Kind.RISK: "Rule", Kind.SINK: "Sink", Kind.FEED: "Feed",
           Kind.EXECUTOR: "Executor"}
_SUMMARY = {
    Kind.STRATEGY: "Quotes one level each side, a fixed width around the book's mid.",
    Kind.RISK: "Blocks quoting a market while its book is wider than a maximum spread.",
    Kind.SINK: "Counts events by type, and optionally prints each one.",
    Kind.FEED: "Publishes a fixed fair value on a timer (or nothing until cancelled).",
    Kind.EXECUTOR: "Records every order action and acknowledges it without trading.",
}
_EXAMPLE: dict[Kind, dict[str, object]] = {  # typed as the pipeline file types them: numbers, not strings
    Kind.STRATEGY: {"width": Decimal("0.04"), "size": 1},
    Kind.RISK: {"max_book_spread": Decimal("0.10")},
    Kind.SINK: {"echo": False},
    Kind.FEED: {"fair_value": Decimal("0.5"), "interval_seconds": 5},
    Kind.EXECUTOR: {},
}


class ScaffoldError(ValueError):
    """The package cannot be written (bad name, kind, or an existing non-empty directory)."""


def package_names(name: str) -> tuple[str, str]:
    """``my-thing`` -> (``mmframe_my_thing``, ``mmframe-my-thing``): the module and distribution names."""
    return f"mmframe_{name.replace('-', '_')}", f"mmframe-{name.replace('_', '-')}"


def write_plugin_package(path: Path, kind: Kind, name: str) -> list[Path]:
    """Write the package for component ``name`` of ``kind`` at ``path``; the files written."""
    if kind not in _HOOKS:
        raise ScaffoldError(f"cannot create a {kind} plugin; kinds: {', '.join(k.value for k in _HOOKS)}")
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(f"invalid name {name!r}: use lower-case letters, digits and single '-' or '_' "
                            "between them, starting with a letter (e.g. my-strategy)")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ScaffoldError(f"{path} already exists and is not an empty directory")
    module, dist = package_names(name)
    values = {
        "name": name,
        "module": module,
        "dist": dist,
        "kind": kind.value,
        "hook": _HOOKS[kind],
        "class_name": "".join(part.capitalize() for part in re.split(r"[-_]", name)) + _SUFFIX[kind],
        "summary": _SUMMARY[kind],
        "mmframe_version": __version__,
        "snippet": component_snippet(kind, name, _EXAMPLE[kind]),
    }
    files = {
        path / "pyproject.toml": "pyproject.toml.tmpl",
        path / "README.md": "README.md.tmpl",
        path / module / "__init__.py": f"{kind.value}.py.tmpl",
        path / "tests" / f"test_{module}.py": f"test_{kind.value}.py.tmpl",
    }
    written = []
    for target, template in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_render(template, values), encoding="utf-8")
        written.append(target)
    return written


def _render(template: str, values: dict[str, str]) -> str:
    text = resources.files("mmframe.templates").joinpath("plugin", template).read_text(encoding="utf-8")
    return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], text)
