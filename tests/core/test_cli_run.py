"""``mmframe run`` and the group: exit codes, one-line failures, log formats, plugin commands, --version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmframe import __version__
from mmframe.cli import create_cli
from tests.core.distfactory import FIRST_PARTY_PLUGINS, make_dist, run_mmframe
from tests.core.fake_components import isolated_registry

MEMORY_PIPELINE = """\
name: wiring
venue: memory
markets: [MEM-A, MEM-B]
strategy: {use: join-best}
control: {enabled: false}
"""

RAISING_COMMAND = """\
from mmframe.api import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    def explode():
        raise ValueError("boom from a plugin command")
"""


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    make_dist(root, "mmframe-memory", "memory", "tests.runtime.memory_plugin")
    make_dist(root, "mmframe-fakes", "fakes", "tests.core.fake_components")
    make_dist(root, "mmframe-explode", "explode", "mmframe_explode_cmd", RAISING_COMMAND)
    return root


ENV = {"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS}


def test_run_when_duration_elapses_exits_0_with_json_logs(site: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(MEMORY_PIPELINE, encoding="utf-8")

    result = run_mmframe("--log-format", "json", "run", str(pipeline), "--duration", "0.3", pythonpath=[site],
                         env=ENV)

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records
    assert {"ts", "level", "message"} <= set(records[0])


def test_run_when_pipeline_invalid_prints_errors_and_exits_1(site: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(MEMORY_PIPELINE.replace("join-best", "join-bets"), encoding="utf-8")

    result = run_mmframe("run", str(pipeline), "--duration", "0.3", pythonpath=[site], env=ENV)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{pipeline}:4: strategy.use: unknown strategy 'join-bets' (did you mean 'join-best'?)\n"


def test_run_when_override_invalid_prints_set_error_and_exits_1(site: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(MEMORY_PIPELINE, encoding="utf-8")
    result = run_mmframe("run", str(pipeline), "--set", "control.port=http", pythonpath=[site], env=ENV)
    assert (result.returncode, result.stderr) == (1, "--set control.port: expected an integer, got 'http'\n")


def test_run_when_component_cannot_be_built_exits_nonzero_without_traceback(site: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"  # the test venue's factory raises for a negative seed
    pipeline.write_text("name: broken\nvenue: {testsim: {seed: -1}}\nmarkets: [KX-A]\nstrategy: {use: symmetric, with: "
                        "{spread: 0.04}}\ncontrol: {enabled: false}\n", encoding="utf-8")

    result = run_mmframe("run", str(pipeline), "--duration", "0.3", pythonpath=[site], env=ENV)

    assert result.returncode not in (0, 1)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_run_when_file_missing_exits_1_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(create_cli(isolated_registry()), ["run", str(tmp_path / "none.yaml")])
    assert (result.exit_code, result.stderr) == (1, f"{tmp_path / 'none.yaml'}: cannot read the file: "
                                                    "No such file or directory\n")


def test_run_when_duration_not_positive_is_usage_error() -> None:
    result = CliRunner().invoke(create_cli(isolated_registry()), ["run", "x.yaml", "--duration", "0"])
    assert result.exit_code == 2
    assert "--duration" in result.stderr


def test_cli_when_plugin_command_raises_prints_one_line_not_traceback(site: Path) -> None:
    result = run_mmframe("explode", pythonpath=[site], env=ENV)
    assert (result.returncode, result.stderr) == (1, "mmframe: error: ValueError: boom from a plugin command\n")


def test_cli_when_version_asked_prints_it() -> None:
    result = CliRunner().invoke(create_cli(isolated_registry()), ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"mmframe, version {__version__}\n")


def test_cli_when_help_asked_lists_core_commands() -> None:
    result = CliRunner().invoke(create_cli(isolated_registry()), ["--help"])
    assert result.exit_code == 0
    for command in ("run", "check", "plugins", "schema"):
        assert f"  {command} " in result.stdout
    assert "--log-format [text|json]" in result.stdout
