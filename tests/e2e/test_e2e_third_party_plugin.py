"""A third-party plugin as its author lives it: ``mmframe plugins new`` in a temporary directory,
``pip install`` (offline, into a throwaway ``--target`` directory on PYTHONPATH), listed, enabled by
a pipeline edit and run on the simulator (``venue: sim``); then the same plugin broken on import and
raising at run time. Every claim about orders is judged by the simulator's ``/_sim/truth``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mmframe.cli import create_cli
from tests.core.distfactory import REPO
from tests.core.fake_components import isolated_registry

MARKETS = ("SIM-RAIN-NYC", "SIM-FED-DEC", "SIM-BTC-100K", "SIM-ELECT-A")
FAULTY = "SIM-FED-DEC"
PIPELINE = """\
name: thirdparty
venue: sim
markets: [{markets}]
strategy:
  use: {name}
  with: {{width: 0.04, size: 1}}
control: {{enabled: false}}
"""


@dataclass
class Plugin:
    """A scaffolded strategy plugin installed into ``site`` (a --target directory)."""

    name: str
    site: Path
    source: Path
    pipeline: Path

    @property
    def dist(self) -> str:
        return f"mmframe-{self.name}"


def mmframe(*args: str, site: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess that sees the plugin installed in ``site``."""
    return subprocess.run([*_console(), *args], capture_output=True, text=True, env=_env(site), cwd=REPO,
                          timeout=timeout, check=False)


def _console() -> list[str]:
    return [sys.executable, "-c", "import sys; from mmframe.cli import main; sys.exit(main())"]


def _env(site: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MMFRAME_DISABLE_PLUGINS", None)
    return env


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Plugin:
    root = tmp_path_factory.mktemp("third-party")
    name = f"tp-{secrets.token_hex(3)}"
    package = root / "pkg"
    result = CliRunner().invoke(create_cli(isolated_registry()),
                                ["plugins", "new", str(package), "--kind", "strategy", "--name", name])
    assert result.exit_code == 0, result.output
    site = root / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    module = f"mmframe_{name.replace('-', '_')}"
    pipeline = root / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(markets=", ".join(MARKETS), name=name), encoding="utf-8")
    return Plugin(name, site, site / module / "__init__.py", pipeline)


@dataclass
class Daemon:
    """``mmframe run`` in a subprocess; its log lines collected as they come."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def admin_url(self) -> str | None:
        for line in self.lines:
            found = re.search(r"admin API (http://\S+)", line)
            if found:
                return found.group(1)
        return None

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def running(plugin: Plugin, duration: float) -> Iterator[Daemon]:
    process = subprocess.Popen(
        [*_console(), "run", str(plugin.pipeline), "--duration", str(duration), "--no-status"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(plugin.site), cwd=REPO,
    )
    daemon = Daemon(process)
    reader = threading.Thread(target=lambda: daemon.lines.extend(line.rstrip("\n") for line in process.stdout or ()),
                              daemon=True)
    reader.start()
    try:
        yield daemon
    finally:
        if process.poll() is None:
            try:
                process.wait(timeout=duration + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def our_resting(admin_url: str) -> dict[str, int]:
    """Per market, how many orders of the daemon's account rest on the simulator (its ground truth)."""
    truth = httpx.get(f"{admin_url}/truth", timeout=5).json()
    ours = set(truth["accounts"])
    counts: dict[str, int] = {}
    for order in truth["resting_orders"]:
        if order["user_id"] in ours:
            counts[order["ticker"]] = counts.get(order["ticker"], 0) + 1
    return counts


def _edit(plugin: Plugin, text: str) -> None:
    plugin.source.write_text(text, encoding="utf-8")


@pytest.fixture()
def original(plugin: Plugin) -> Iterator[str]:
    """The plugin's source, restored after a test breaks it."""
    text = plugin.source.read_text(encoding="utf-8")
    yield text
    _edit(plugin, text)


@pytest.mark.timeout(240)
def test_third_party_plugin_when_installed_is_listed_enabled_and_quotes_on_the_simulator(
    plugin: Plugin, original: str
) -> None:
    listing = mmframe("plugins", "list", "--kind", "strategy", "--json", site=plugin.site)
    assert listing.returncode == 0, listing.stderr
    rows = [r for r in json.loads(listing.stdout) if r["name"] == plugin.name]
    assert [(r["kind"], r["package"], r["status"]) for r in rows] == [("strategy", plugin.dist, "ok")]

    with running(plugin, duration=8) as daemon:
        admin = wait_for(daemon.admin_url, "the simulator's admin URL")
        wait_for(lambda: set(our_resting(admin)) == set(MARKETS), "orders resting in every market")
    assert daemon.process.returncode == 0, daemon.log
    assert "Traceback" not in daemon.log


@pytest.mark.timeout(240)
def test_third_party_plugin_when_it_raises_at_run_time_only_its_market_is_pulled_and_alerted(
    plugin: Plugin, original: str, tmp_path: Path
) -> None:
    flag = tmp_path / "raise-now"
    marker = "        book = market.book\n"
    assert marker in original
    bug = (f"        if market.ticker == {FAULTY!r} and __import__('os').path.exists({str(flag)!r}):\n"
           "            raise RuntimeError('strategy bug on purpose')\n")
    _edit(plugin, original.replace(marker, bug + marker, 1))
    line = original[: original.index(marker)].count("\n") + 2  # the raise

    with running(plugin, duration=14) as daemon:
        admin = wait_for(daemon.admin_url, "the simulator's admin URL")
        wait_for(lambda: set(our_resting(admin)) == set(MARKETS), "orders resting in every market")
        flag.write_text("now", encoding="utf-8")
        after = wait_for(lambda: (r := our_resting(admin)) and FAULTY not in r and r, f"{FAULTY} pulled")
        assert set(after) == set(MARKETS) - {FAULTY}  # the others keep quoting
        time.sleep(2.0)
        later = our_resting(admin)
        assert FAULTY not in later and set(later) == set(MARKETS) - {FAULTY}
    assert daemon.process.returncode == 0, daemon.log
    where = f"{plugin.source}:{line}"
    expected = (f"plugin error ({FAULTY}): strategy '{plugin.name}' raised in quote(): "
                f"RuntimeError: strategy bug on purpose at {where}")
    assert expected in daemon.log, daemon.log
    assert f"QUARANTINE {FAULTY}: plugin error: strategy '{plugin.name}'" in daemon.log
    assert "Traceback" not in daemon.log


@pytest.mark.timeout(240)
@pytest.mark.parametrize("breakage", ["syntax", "import"])
def test_third_party_plugin_when_broken_on_import_check_run_and_list_name_it_with_file_and_line(
    plugin: Plugin, original: str, breakage: str
) -> None:
    line = original.count("\n") + 2
    bad = "def broken(:\n" if breakage == "syntax" else "import mmframe_no_such_module_at_all\n"
    _edit(plugin, original + "\n" + bad)
    where = f"({plugin.source}:{line})"
    error = ("SyntaxError: invalid syntax" if breakage == "syntax"
             else "ModuleNotFoundError: No module named 'mmframe_no_such_module_at_all'")

    listing = mmframe("plugins", "list", "--kind", "strategy", site=plugin.site)
    assert listing.returncode == 2
    row = next(r for r in listing.stdout.splitlines() if r.startswith(plugin.name + " "))
    assert row.split()[1:3] == ["plugin", plugin.dist] and row.endswith("error")
    assert f"error: plugin {plugin.name} ({plugin.dist}): import failed: {error} {where}" in listing.stderr

    check = mmframe("check", str(plugin.pipeline), site=plugin.site)
    assert check.returncode == 2, check.stdout + check.stderr
    assert check.stdout == (
        f"{plugin.pipeline}:5: strategy.use: unknown strategy '{plugin.name}': plugin '{plugin.name}' "
        f"({plugin.dist} 0.1.0) is broken: import failed: {error} {where} (see mmframe plugins list)\n")

    run = mmframe("run", str(plugin.pipeline), "--duration", "1", "--no-status", site=plugin.site)
    assert run.returncode == 2
    assert f"is broken: import failed: {error} {where}" in run.stderr
    assert "Traceback" not in run.stderr + check.stderr + listing.stderr
