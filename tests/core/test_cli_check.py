"""``mmframe check``: offline validation, ``FILE: ok`` or ``FILE:LINE: message``, exit 0/1, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmframe.cli import create_cli
from tests.core.distfactory import FIRST_PARTY_PLUGINS, make_dist, run_mmframe
from tests.core.fake_components import isolated_registry

GOOD = """\
name: demo
venue: testsim
markets: [KX-A]
strategy: {use: symmetric, with: {spread: 0.04}}
risk:
  - {use: max-position, with: {per_market: 100}}
"""

BAD_FILES = {
    "unknown-top-key.yaml": (GOOD + "stratgy: {}\n", 7, "unknown key 'stratgy' at the top level (did you mean"),
    "unknown-component.yaml": (GOOD.replace("use: symmetric", "use: symetric"), 4, "(did you mean 'symmetric'?)"),
    "wrong-type.yaml": (GOOD.replace("per_market: 100", "per_market: lots"), 6, "expected an integer, got 'lots'"),
    "missing-key.yaml": (GOOD.replace("name: demo\n", ""), 1, "missing required key 'name'"),
    "syntax.yaml": (GOOD.replace("[KX-A]", "[KX-A"), 4, "YAML syntax error"),
    "duplicate.yaml": (GOOD + "venue: testsim\n", 7, "duplicate key 'venue'"),
    "unset-env.yaml": (GOOD + "control:\n  token: ${MMF_TEST_UNSET_VAR}\n", 8,
                       "environment variable MMF_TEST_UNSET_VAR is not set"),
    "tabs.yaml": (GOOD.replace("  - {use", "\t- {use"), 6, "tab character in indentation"),
    "odd-indent.yaml": ("name: demo\nvenue:\n  testsim:\n     seed: 1\n    x: 2\n", 5, "YAML syntax error"),
    "empty.yaml": ("", 1, "empty pipeline file"),
    "json-array.yaml": ("[1, 2, 3]\n", 1, "not a pipeline file"),
    "prose.yaml": ("This is not a pipeline.\n", 1, "not a pipeline file"),
    "binary.yaml": ("\x7fELF\x02\x01\x01\x00\x00", 1, "not a YAML file: the content is binary"),
    # check builds every component as run does: a factory that raises is refused at its line
    "factory-raises.yaml": (GOOD.replace("venue: testsim", "venue:\n  testsim: {seed: -1}"), 2,
                            "venue.testsim: the venue 'testsim' failed to build: RuntimeError: the test venue"),
}


@pytest.fixture()
def bad_dir(tmp_path: Path) -> Path:
    for name, (text, _, _) in BAD_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_cli(isolated_registry()), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_when_file_valid_prints_ok_and_exits_0(bad_dir: Path) -> None:
    code, out, _ = invoke("check", str(bad_dir / "good.yaml"))
    assert (code, out) == (0, f"{bad_dir / 'good.yaml'}: ok\n")


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_check_when_file_bad_prints_file_line_message_and_exits_1(bad_dir: Path, name: str) -> None:
    _, line, fragment = BAD_FILES[name]
    code, out, _ = invoke("check", str(bad_dir / name))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{bad_dir / name}:{line}: "), out
    assert fragment in first
    assert "Traceback" not in out


def test_check_when_several_files_reports_each_and_exits_1(bad_dir: Path) -> None:
    code, out, _ = invoke("check", str(bad_dir / "good.yaml"), str(bad_dir / "empty.yaml"))
    assert code == 1
    assert out.splitlines() == [
        f"{bad_dir / 'good.yaml'}: ok",
        f"{bad_dir / 'empty.yaml'}:1: empty pipeline file: expected a mapping with keys such as name, venue, "
        "markets, strategy",
    ]


def test_check_when_set_override_invalid_reports_set_and_exits_1(bad_dir: Path) -> None:
    code, out, _ = invoke("check", str(bad_dir / "good.yaml"), "--set", "strategy.with.spread=abc")
    assert (code, out) == (1, "--set strategy.with.spread: expected a number, got 'abc'\n")


def test_check_when_set_override_valid_passes(bad_dir: Path) -> None:
    code, out, _ = invoke("check", str(bad_dir / "good.yaml"), "--set", "risk.0.with.per_market=5")
    assert (code, out) == (0, f"{bad_dir / 'good.yaml'}: ok\n")


def test_check_when_file_missing_says_so_and_exits_1(tmp_path: Path) -> None:
    code, out, _ = invoke("check", str(tmp_path / "missing.yaml"))
    assert (code, out) == (1, f"{tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory\n")


def test_check_when_no_file_given_is_a_usage_error() -> None:
    code, _, err = invoke("check")
    assert code == 2
    assert "Missing argument" in err


def test_check_subprocess_when_files_bad_reports_lines_without_traceback(bad_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_dist(site, "mmframe-fakes", "fakes", "tests.core.fake_components")
    files = [str(bad_dir / name) for name in sorted(BAD_FILES)]
    result = run_mmframe("check", str(bad_dir / "good.yaml"), *files, pythonpath=[site],
                         env={"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS})

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{bad_dir / 'good.yaml'}: ok"
    for line in lines[1:]:
        assert re.match(r"^.+\.yaml:\d+: \S", line), line
    reported = {Path(line.split(":")[0]).name for line in lines[1:]}
    assert reported == set(BAD_FILES)
