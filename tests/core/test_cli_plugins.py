"""``mmframe plugins list/show``, and plugin isolation: broken, disabled, clashing, failing hooks."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mmframe.api import hookimpl
from mmframe.cli import create_cli
from tests.core import broken_commands
from tests.core.distfactory import FIRST_PARTY_PLUGINS, make_dist, run_mmframe
from tests.core.fake_components import isolated_registry

JSON_KEYS = {"name", "kind", "package", "version", "summary", "status"}

GOOD = """\
name: demo
venue: testsim
markets: [KX-A]
strategy: {use: symmetric, with: {spread: 0.04}}
"""


def invoke(*args: str, extra: tuple[object, ...] = ()) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_cli(isolated_registry(*extra)), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_plugins_list_json_when_plugins_ok_has_exact_keys_and_status_ok() -> None:
    code, out, _ = invoke("plugins", "list", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {(r["kind"], r["name"]) for r in rows} == {
        ("venue", "testsim"), ("venue", "testexchange"), ("strategy", "symmetric"),
        ("risk", "max-position"), ("sink", "counter"),
    }
    for row in rows:
        assert set(row) == JSON_KEYS
        assert row["status"] == "ok"
        assert row["package"] == "tests.core.fake_components"
    assert next(r for r in rows if r["name"] == "symmetric")["summary"] == "Quotes a fixed spread around mid."


def test_plugins_list_when_kind_given_filters() -> None:
    code, out, _ = invoke("plugins", "list", "--kind", "venue", "--json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)] == ["testexchange", "testsim"]


def test_plugins_list_table_when_plain_shows_columns() -> None:
    code, out, _ = invoke("plugins", "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["NAME", "KIND", "PACKAGE", "VERSION", "SUMMARY", "STATUS"]
    row = next(line for line in lines if line.startswith("symmetric "))
    assert row.split()[:4] == ["symmetric", "strategy", "tests.core.fake_components", "local"]
    assert row.endswith("ok")


def test_plugins_list_when_unknown_kind_is_usage_error() -> None:
    code, _, err = invoke("plugins", "list", "--kind", "strategies")
    assert code == 2
    assert "strategies" in err


def test_plugins_show_when_known_prints_summary_schema_example_updatable() -> None:
    code, out, _ = invoke("plugins", "show", "strategy", "symmetric")
    assert code == 0
    assert out.startswith("strategy symmetric  (tests.core.fake_components local)\n  Quotes a fixed spread")
    assert "A test strategy with a schema like the real one." in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ") and len(line.split()) > 3}
    assert rows["name"] == ["name", "type", "default", "bounds", "updatable", "description"]
    assert rows["spread"] == ["spread", "number", "required", ">=", "0.01,", "<=", "0.5", "yes"]
    assert rows["size"] == ["size", "integer", "10", ">=", "1", "no"]
    assert rows["side"] == ["side", "one", "of", "both", "both,", "bid,", "ask", "no"]
    assert '"$schema"' not in out  # the raw schema is --json's
    assert "example:\nstrategy:\n  use: symmetric\n  with:\n    spread: \"0.04\"\n    size: 10\n" in out
    assert out.rstrip().endswith("updatable at run time: spread")


def test_plugins_show_when_list_kind_renders_list_item() -> None:
    code, out, _ = invoke("plugins", "show", "risk", "max-position")
    assert code == 0
    assert "example:\nrisk:\n  - use: max-position\n    with:\n      per_market: 100\n" in out
    assert "updatable at run time: none" in out


def test_plugins_show_json_when_known_is_one_object() -> None:
    code, out, _ = invoke("plugins", "show", "strategy", "symmetric", "--json")
    document = json.loads(out)
    assert code == 0
    assert document["config_schema"]["required"] == ["spread"]
    assert document["updatable"] == ["spread"]


def test_plugins_show_when_unknown_suggests_and_exits_1() -> None:
    code, out, err = invoke("plugins", "show", "strategy", "symetric")
    assert (code, out) == (1, "")
    assert err == "mmframe: error: unknown strategy 'symetric' (did you mean 'symmetric'?)\n"


def test_plugins_show_when_unknown_without_match_lists_installed() -> None:
    code, _, err = invoke("plugins", "show", "sink", "zzz")
    assert code == 1
    assert err == "mmframe: error: unknown sink 'zzz'; installed: counter\n"


def test_plugin_commands_when_hook_raises_reported_once_and_cli_works() -> None:
    code, out, err = invoke("plugins", "list", "--json", extra=(broken_commands,))
    assert code == 2  # the clash below is a broken row
    assert err.splitlines()[0] == (
        "mmframe: warning: plugin tests.core.broken_commands (tests.core.broken_commands): "
        "register_commands failed: RuntimeError: command hook exploded"
    )
    rows = json.loads(out)
    clash = [r for r in rows if r["status"] == "error"]
    assert len(clash) == 1
    assert (clash[0]["kind"], clash[0]["name"], clash[0]["package"]) == (
        "strategy", "symmetric", "tests.core.broken_commands")
    assert "duplicate strategy name 'symmetric'" in clash[0]["error"]


def test_plugin_commands_when_hook_adds_command_it_runs() -> None:
    import types

    module = types.ModuleType("adds_hello")

    @hookimpl
    def register_commands(cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            click.echo("hello from a plugin")

    module.register_commands = register_commands  # type: ignore[attr-defined]
    code, out, _ = invoke("hello", extra=(module,))
    assert (code, out) == (0, "hello from a plugin\n")


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """A site dir with the test components and a plugin that raises on import."""
    root = tmp_path / "site"
    make_dist(root, "mmframe-fakes", "fakes", "tests.core.fake_components")
    make_dist(root, "mmframe-exploding", "exploding", "mmframe_exploding",
              "raise ImportError('this plugin is broken on purpose')\n")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    return root


def test_broken_plugin_when_import_fails_listed_as_error_and_check_still_passes(site: Path) -> None:
    env = {"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS}
    listing = run_mmframe("plugins", "list", "--json", pythonpath=[site], env=env)
    check = run_mmframe("check", str(site.parent / "good.yaml"), pythonpath=[site], env=env)

    assert listing.returncode == 2, listing.stderr
    rows = json.loads(listing.stdout)
    broken = [r for r in rows if r["name"] == "exploding"]
    assert len(broken) == 1
    assert broken[0]["status"] == "error"
    assert broken[0]["package"] == "mmframe-exploding"
    assert "ImportError: this plugin is broken on purpose" in broken[0]["error"]
    assert set(broken[0]) == JSON_KEYS | {"error"}
    assert {r["status"] for r in rows if r["name"] != "exploding"} == {"ok"}
    assert (check.returncode, check.stdout) == (0, f"{site.parent / 'good.yaml'}: ok\n")
    assert "Traceback" not in listing.stderr + check.stderr


def test_broken_plugin_when_disabled_by_env_is_hidden(site: Path) -> None:
    env = {"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS + ",exploding"}
    listing = run_mmframe("plugins", "list", "--json", pythonpath=[site], env=env)
    assert listing.returncode == 0, listing.stderr
    assert "exploding" not in {r["name"] for r in json.loads(listing.stdout)}


def test_broken_plugin_when_pipeline_uses_it_check_names_it(site: Path) -> None:
    env = {"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS}
    path = site.parent / "uses-fakes-off.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = run_mmframe("check", str(path), pythonpath=[site], env={**env, "MMFRAME_DISABLE_PLUGINS":
                                                                     FIRST_PARTY_PLUGINS + ",fakes"})
    # No venue is installed, but the plugin that failed to import might have been the one: named, exit 2.
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == (
        f"{path}:2: venue: unknown venue 'testsim': 1 plugin(s) that may provide it are broken: 'exploding' "
        f"(mmframe-exploding 1.0): import failed: ImportError: this plugin is broken on purpose "
        f"({site / 'mmframe_exploding.py'}:1) (see mmframe plugins list)")


def test_plugins_list_when_registration_hook_raises_shows_error_row_and_others_ok() -> None:
    import types

    module = types.ModuleType("raises_in_hook")

    @hookimpl
    def register_sinks(register: object) -> None:
        raise ValueError("sink hook failed")

    module.register_sinks = register_sinks  # type: ignore[attr-defined]
    code, out, _ = invoke("plugins", "list", "--json", extra=(module,))
    rows = json.loads(out)
    broken = [r for r in rows if r["status"] == "error"]
    assert code == 2
    assert [(r["kind"], r["name"], r["package"]) for r in broken] == [("sink", "raises_in_hook", "raises_in_hook")]
    assert "register_sinks raised: ValueError: sink hook failed" in broken[0]["error"]
    assert len([r for r in rows if r["status"] == "ok"]) == 5
