"""Hooks are called through pluggy, one plugin at a time: each plugin's mistakes are reported with
its name and never hide another plugin's components; a plugin's declared API range is checked."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from click.testing import CliRunner

from mmframe.api import API_VERSION, ComponentSpec, Kind, hookimpl
from mmframe.apiversion import api_range_problem
from mmframe.cli import create_cli
from mmframe.plugins import Registry, UnknownComponentError
from tests.core.fake_components import isolated_registry


def _plugin(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def _strategy(name: str) -> ComponentSpec:
    return ComponentSpec(kind=Kind.STRATEGY, name=name, summary="A test strategy.", factory=lambda c, x: c)


def _rows(registry: Registry) -> list[dict[str, str]]:
    result = CliRunner().invoke(create_cli(registry, plugin_commands=False), ["plugins", "list", "--json"])
    rows = json.loads(result.stdout)
    # `plugins list` exits 2 when it lists a broken plugin (status error or api-mismatch)
    assert result.exit_code == (2 if any(r["status"] != "ok" for r in rows) else 0), result.output
    return [r for r in rows if r["package"] != "tests.core.fake_components"]


@hookimpl
def _registers_mine(register: Any) -> None:
    register(_strategy("mine"))


def test_hooks_when_one_plugin_raises_the_next_plugin_still_registers_through_pluggy() -> None:
    @hookimpl
    def register_strategies(register: Any) -> None:
        raise RuntimeError("boom")

    broken = _plugin("explodes", register_strategies=register_strategies)
    fine = _plugin("fine", register_strategies=_registers_mine)
    registry = isolated_registry(broken, fine)
    assert registry.get(Kind.STRATEGY, "mine").summary == "A test strategy."
    (row,) = [r for r in _rows(registry) if r["status"] == "error"]
    assert (row["name"], row["package"]) == ("explodes", "explodes")
    assert "register_strategies raised: RuntimeError: boom" in row["error"]
    # pluggy calls it: the hook caller knows both implementations
    assert {impl.plugin_name for impl in registry.manager.hook.register_strategies.get_hookimpls()} >= {
        "explodes", "fine"}


def test_hooks_when_function_not_marked_hookimpl_reported_not_silently_ignored() -> None:
    def register_strategies(register: Any) -> None:
        register(_strategy("never"))

    registry = isolated_registry(_plugin("unmarked", register_strategies=register_strategies))
    (row,) = _rows(registry)
    assert row["status"] == "error"
    assert "register_strategies is not marked @hookimpl" in row["error"]
    with pytest.raises(UnknownComponentError):
        registry.get(Kind.STRATEGY, "never")


def test_hooks_when_hookimpl_name_misspelt_reported_with_the_known_hooks() -> None:
    @hookimpl
    def register_strategy(register: Any) -> None:  # singular: no such hook
        register(_strategy("typo"))

    (row,) = _rows(isolated_registry(_plugin("misspelt", register_strategy=register_strategy)))
    assert row["status"] == "error"
    assert "@hookimpl register_strategy matches no mmframe hook" in row["error"]
    assert "register_strategies" in row["error"]


def test_hooks_when_hookimpl_takes_an_argument_no_spec_has_plugin_is_broken() -> None:
    @hookimpl
    def register_strategies(register: Any, extra: Any) -> None:
        register(_strategy("odd"))

    (row,) = _rows(isolated_registry(_plugin("odd_args", register_strategies=register_strategies)))
    assert row["status"] == "error"
    assert "extra" in row["error"]


def test_api_range_when_plugin_needs_next_major_status_api_mismatch_and_component_refused() -> None:
    needs_two = _plugin("needs_two", register_strategies=_registers_mine, MMFRAME_API=">=2.0,<3")
    registry = isolated_registry(needs_two)
    (row,) = _rows(registry)
    assert (row["name"], row["status"]) == ("mine", "api-mismatch")
    assert row["error"] == f"needs mmframe API >=2.0,<3, this mmframe provides {API_VERSION}"
    with pytest.raises(UnknownComponentError, match=r"needs mmframe API >=2\.0,<3"):
        registry.get(Kind.STRATEGY, "mine")
    listing = CliRunner().invoke(create_cli(registry, plugin_commands=False), ["plugins", "list"])
    assert "api-mismatch" in listing.stdout


def test_api_range_when_plugin_range_includes_this_version_it_works() -> None:
    registry = isolated_registry(_plugin("fits", register_strategies=_registers_mine, MMFRAME_API=">=1.0,<2"))
    assert [r["status"] for r in _rows(registry)] == ["ok"]
    assert registry.get(Kind.STRATEGY, "mine").name == "mine"


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        (">=1.0,<2", None),
        ("==1.0", None),
        (">=1", None),
        ("<1.0", "needs mmframe API <1.0, this mmframe provides 1.0"),
        ("!=1.0", "needs mmframe API !=1.0, this mmframe provides 1.0"),
        (">=1.1", "needs mmframe API >=1.1, this mmframe provides 1.0"),
        ("~=1.0", "MMFRAME_API = '~=1.0': cannot read '~=1.0' (expected e.g. '>=1.0,<2')"),
        ("", "MMFRAME_API must be a version range such as '>=1.0,<2', got ''"),
        (1.0, "MMFRAME_API must be a version range such as '>=1.0,<2', got 1.0"),
    ],
)
def test_api_range_problem_when_requirement_given_says_why_it_excludes(requirement: object, problem: str | None) -> None:
    assert api_range_problem(requirement, "1.0") == problem


def test_api_range_when_minor_versions_compare_numerically() -> None:
    assert api_range_problem(">=1.2,<2", "1.10") is None
    assert api_range_problem("<1.10", "1.9") is None
