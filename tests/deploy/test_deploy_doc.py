"""docs/deploy.md walked command by command, in order, in a scratch copy of the repository's
``deploy/`` and ``pipelines/``: what the machine allows runs for real (file set-up, ``mmframe check``,
the simulator's ``mmframe doctor`` and a short ``mmframe run``, hadolint, ``docker compose config``,
promtool, ``systemd-analyze verify``); the rest is skipped with the reason (no Docker daemon, a real
exchange, root on a live system). A command the walker does not know fails the test, so the page and
the walker cannot drift apart."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.deploy.daemon import DEPLOY, REPO
from tests.deploy.doc_commands import DocCommand, doc_commands
from tests.e2e.harness import MMFRAME

DOC = REPO / "docs" / "deploy.md"
COMMANDS = doc_commands(DOC)
SETUP = {"mkdir", "touch", "chmod", "cp", "openssl"}
"""Local file set-up: run as written (inside the scratch copy)."""
NOT_HERE = {
    "pip": "mmframe is already installed in the environment running the tests",
    "export": "placeholders for real Kalshi credentials",
    "sudo": "installs on a live system as root",
    "journalctl": "needs the installed service",
    "apprise": "needs a real alert URL (the alert tests deliver through apprise's json:// target)",
}


def _docker_daemon() -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([str(docker), "info"], capture_output=True, timeout=30).returncode == 0


def _compose() -> list[str] | None:
    """A Compose implementation that can validate a file without a Docker daemon."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch copy of what the page's commands touch; the commands run in it, in order."""
    root = Path(tmp_path_factory.mktemp("walk"))
    shutil.copytree(DEPLOY, root / "deploy", ignore=shutil.ignore_patterns("secrets"))
    (root / "deploy" / "secrets").mkdir()
    shutil.copytree(REPO / "pipelines", root / "pipelines")
    yield root


@functools.cache
def _stand_in_key() -> str:
    """A private key made for the test, standing in for the page's ``export KALSHI_...`` step
    (``mmframe check`` loads a venue's credentials exactly as ``run`` does)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem.decode()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "MMFRAME_"))}
    env["KALSHI_API_KEY"] = "00000000-0000-0000-0000-000000000000"
    env["KALSHI_PRIVATE_KEY"] = _stand_in_key()
    env["MMFRAME_CONTROL_PORT"] = "0"  # the page's examples use 3001; the test machine may not have it free
    return env


def _run(args: list[str], cwd: Path, timeout: float = 120) -> str:
    result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def _is_sim(pipeline: Path) -> bool:
    return "\nvenue: sim\n" in pipeline.read_text(encoding="utf-8")


def _mmframe(command: DocCommand, cwd: Path) -> None:
    words = command.words
    verb, *rest = words[words.index("mmframe") + 1:]
    files = [cwd / word for word in rest if word.endswith(".yaml")]
    if verb == "check":
        assert all(f.exists() for f in files), f"{command}: a file an earlier step should have made is missing"
        _run([*MMFRAME, "check", *map(str, files)], cwd)
    elif verb == "doctor":
        if not _is_sim(files[0]):
            pytest.skip(f"{command}: checks a real exchange (credentials and the network)")
        assert "all checks passed" in _run([*MMFRAME, "doctor", str(files[0])], cwd)
    elif verb == "run":
        if not _is_sim(files[0]):
            pytest.skip(f"{command}: runs on a real exchange (paper: its live data)")
        output = _run([*MMFRAME, "run", str(files[0]), "--duration", "3"], cwd, timeout=60)
        assert "stopped (duration 3s elapsed)" in output, output
    elif verb == "report":
        pytest.skip(f"{command}: reads the journal of a run on a real exchange")
    else:
        pytest.fail(f"{command}: the walker does not know `mmframe {verb}`")


def _docker(command: DocCommand, cwd: Path) -> None:
    words = command.words
    if words[1:3] == ["compose", "config"]:
        compose = _compose()
        if compose is None:
            pytest.skip(f"{command}: neither `docker compose` nor `docker-compose` is installed")
        _run([*compose, "-f", "compose.yaml", "config", "--quiet"], cwd)
    elif words[1] == "build" and _docker_daemon():
        _run([*words[:-1], str(cwd)], cwd, timeout=1200)
    else:
        pytest.skip(f"{command}: no Docker daemon on this machine")


def _systemd_verify(command: DocCommand, cwd: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(f"{command}: systemd-analyze is not installed")
    # The unit as installed, its ExecStart pointed at this environment's mmframe (verify checks that
    # the program exists), verified under the instance name the page uses.
    unit = (cwd / "deploy" / "systemd" / "mmframe@.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/mmframe/venv/bin/mmframe " in unit
    (tmp_path / "mmframe@.service").write_text(unit.replace("/opt/mmframe/venv/bin/mmframe", MMFRAME[0]))
    instance = Path(command.words[-1]).name
    result = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / instance)], capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.block}.{c.line}" for c in COMMANDS])
def test_deploy_doc_when_walked_each_command_runs_or_says_why_not(
    command: DocCommand, workspace: Path, tmp_path: Path
) -> None:
    cwd = workspace / command.cwd
    words = command.words
    program = words[0]
    if "=" in program and "sudo" not in words:  # VAR=value prefixes
        program = next(w for w in words if "=" not in w)
    if program == "cd":
        assert (cwd / words[1]).is_dir(), command
    elif program in SETUP and "|" not in command.text and "sudo" not in words:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", command.text], cwd=cwd, capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    elif program == "mmframe":
        _mmframe(command, cwd)
    elif program == "hadolint":
        _run(words, cwd)
    elif program == "promtool":
        if shutil.which("promtool") is None:
            pytest.skip(f"{command}: promtool is not installed (Debian's prometheus package)")
        _run(words, cwd)
    elif program == "docker":
        _docker(command, cwd)
    elif "systemd-analyze" in words and "verify" in words:
        _systemd_verify(command, cwd, tmp_path)
    elif program in NOT_HERE or words[0] in NOT_HERE or "sudo" in words:
        pytest.skip(f"{command}: {NOT_HERE.get(program) or NOT_HERE.get(words[0]) or NOT_HERE['sudo']}")
    else:
        pytest.fail(f"{command}: the walker does not know this command; teach it or reword the page")


def test_deploy_doc_when_walked_covers_every_check_of_the_kit() -> None:
    programs = {c.words[0] for c in COMMANDS}
    texts = [c.text for c in COMMANDS]
    assert {"mmframe", "hadolint", "promtool", "docker"} <= programs
    for needle in ("mmframe check deploy/pipeline.yaml", "mmframe doctor deploy/pipeline.yaml", "hadolint deploy/Dockerfile",
                   "docker compose config", "systemd-analyze verify", "promtool check config"):
        assert any(needle in text for text in texts), needle
    # mmframe doctor before every step: simulator, paper, demo, production.
    doctors = [t for t in texts if "mmframe doctor" in t]
    assert any("deploy/pipeline.yaml" in t for t in doctors) and any("paper.yaml" in t for t in doctors)
    assert any("demo.yaml" in t for t in doctors) and any("production.yaml" in t for t in doctors)
