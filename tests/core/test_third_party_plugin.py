"""The third-party path end to end: ``plugins new`` -> ``pip install`` -> listed -> ``check`` -> ``run``.

The generated package is pip-installed into the test environment (no build isolation, no
dependencies, so no network) under a unique name and uninstalled afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mmframe.cli import create_cli
from tests.core.distfactory import FIRST_PARTY_PLUGINS, make_dist, run_mmframe
from tests.core.fake_components import isolated_registry

PIPELINE = """\
# yaml-language-server: $schema=../schema.json
name: third-party
venue: memory
markets: [MEM-A, MEM-B]
strategy:
  use: {name}
  with: {{width: 0.06, size: 2}}
control: {{enabled: false}}
"""


def plugins_new(path: Path, kind: str, name: str) -> tuple[int, str]:
    """``mmframe plugins new`` in-process (it needs no plugins); exit code and stderr."""
    result = CliRunner().invoke(create_cli(isolated_registry()), ["plugins", "new", str(path), "--kind", kind,
                                                                  "--name", name])
    return result.exit_code, result.stderr


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture()
def installed_plugin(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(component name, distribution, package dir) of a freshly generated and installed strategy plugin."""
    name = f"e2e-{secrets.token_hex(3)}"
    package = tmp_path / "pkg"
    assert plugins_new(package, "strategy", name) == (0, "")
    dist = f"mmframe-{name}"
    installed = pip("install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(package))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        yield name, dist, package
    finally:
        pip("uninstall", "-y", "-q", dist)


@pytest.mark.timeout(180)
def test_third_party_plugin_when_generated_and_installed_is_listed_checked_and_run(
    installed_plugin: tuple[str, str, Path], tmp_path: Path
) -> None:
    name, dist, package = installed_plugin
    site = tmp_path / "site"
    make_dist(site, "mmframe-memory-venue", "memory", "tests.runtime.memory_plugin")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(name=name), encoding="utf-8")
    env = {"MMFRAME_DISABLE_PLUGINS": FIRST_PARTY_PLUGINS}

    listing = run_mmframe("plugins", "list", "--json", "--kind", "strategy", pythonpath=[site], env=env)
    rows = [r for r in json.loads(listing.stdout) if r["name"] == name]
    assert rows == [{"name": name, "kind": "strategy", "package": dist, "version": "0.1.0",
                     "summary": "Quotes one level each side, a fixed width around the book's mid.", "status": "ok"}]

    check = run_mmframe("check", str(pipeline), pythonpath=[site], env=env)
    assert (check.returncode, check.stdout) == (0, f"{pipeline}: ok\n"), check.stderr

    bad = run_mmframe("check", str(pipeline), "--set", "strategy.with.width=0.055", pythonpath=[site], env=env)
    assert (bad.returncode, bad.stdout) == (1, "--set strategy.with.width: has more than 2 decimal places, got 0.055\n")

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
                           capture_output=True, text=True, timeout=120, check=False, cwd=package)
    assert tests.returncode == 0, tests.stdout + tests.stderr

    run = run_mmframe("run", str(pipeline), "--duration", "0.5", pythonpath=[site], env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr


def test_plugins_new_when_directory_not_empty_refuses(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert plugins_new(tmp_path, "sink", "x") == (
        1, f"mmframe: error: {tmp_path} already exists and is not an empty directory\n")


def test_plugins_new_when_name_invalid_refuses(tmp_path: Path) -> None:
    code, err = plugins_new(tmp_path / "p", "sink", "Bad Name")
    assert code == 1
    assert err.startswith("mmframe: error: invalid name 'Bad Name'")
    assert not (tmp_path / "p").exists()


KINDS = ("strategy", "risk", "sink", "feed", "executor")


def test_plugins_new_when_each_kind_given_writes_packages_whose_tests_pass(tmp_path: Path) -> None:
    packages = []
    for kind in KINDS:
        package = tmp_path / kind
        assert plugins_new(package, kind, f"my-{kind}") == (0, "")
        module = f"mmframe_my_{kind}"
        assert sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()) == [
            "README.md", f"{module}/__init__.py", "pyproject.toml", f"tests/test_{module}.py"]
        pyproject = (package / "pyproject.toml").read_text(encoding="utf-8")
        assert f'[project.entry-points.mmframe]\nmy-{kind} = "{module}"' in pyproject
        assert f'name = "mmframe-my-{kind}"' in pyproject
        packages.append(package)

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(p / "tests") for p in packages)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in packages)},
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "16 passed" in tests.stdout


def test_plugins_new_when_written_readme_links_nothing_missing_and_example_values_are_typed(tmp_path: Path) -> None:
    for kind in KINDS:
        package = tmp_path / kind
        assert plugins_new(package, kind, f"my-{kind}") == (0, "")
        readme = (package / "README.md").read_text(encoding="utf-8")
        assert re.findall(r"\]\((https?://[^)]*)\)", readme) == []  # no page that may not exist
        for target in re.findall(r"\]\(([^)]+)\)", readme):
            assert (package / target).exists(), target
        snippet = yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0])
        component = snippet[next(iter(snippet))]
        config = (component[0] if isinstance(component, list) else component).get("with", {})
        for key, value in config.items():
            assert not isinstance(value, str), f"{kind}: {key} is quoted as a string: {value!r}"


def test_plugins_new_when_kind_is_risk_the_rule_blocks(tmp_path: Path) -> None:
    package = tmp_path / "risk"
    assert plugins_new(package, "risk", "thin-book") == (0, "")
    source = (package / "mmframe_thin_book" / "__init__.py").read_text(encoding="utf-8")
    assert "Verdict.block(" in source and "Verdict.adjust(" not in source
    assert "Blocks quoting" in (package / "README.md").read_text(encoding="utf-8")
