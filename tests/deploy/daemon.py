"""The deployment kit's pipeline (deploy/pipeline.yaml) run as ``mmframe run`` in a real process on
the built-in simulator, its control plane on a free loopback port, for the deploy tests."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import MMFRAME

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PIPELINE = DEPLOY / "pipeline.yaml"
_LISTENING = re.compile(r"control plane on (http://\S+)")


@dataclass
class RunningDaemon:
    """A running ``mmframe run``: its control plane's URL, token, process and log file."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=60, headers={"Authorization": f"Bearer {self.token}"})

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def deployed_daemon(workdir: Path, pipeline: Path = PIPELINE) -> Iterator[RunningDaemon]:
    """Run ``pipeline`` in ``workdir`` (its journal lands there) until the block ends, then stop it with
    SIGTERM as Docker and systemd do, and check it stopped cleanly (exit 0)."""
    token = secrets.token_hex(16)
    log = workdir / "mmframe.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "MMFRAME_"))}
    env.update(MMFRAME_CONTROL_PORT="0", MMFRAME_CONTROL_TOKEN=token, STATE_DIRECTORY=str(workdir))
    with log.open("wb") as out:
        process = subprocess.Popen([*MMFRAME, "run", str(pipeline)], cwd=workdir, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        def listening() -> str | None:
            found = _LISTENING.search(log.read_text(errors="replace"))
            assert found or process.poll() is None, f"mmframe run exited early:\n{log.read_text()}"
            return found.group(1) if found else None

        url = wait_until(listening, 60, "the control plane")
        daemon = RunningDaemon(url, token, process, log)
        wait_until(lambda: daemon.get("/health").status_code == 200, 60, "the daemon to be ready")
        yield daemon
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, log.read_text()
