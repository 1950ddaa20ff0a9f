"""``mmframe run`` when the control port is taken (a second bot on the default 3001): found before
anything starts — no simulator, no venue session — exit 2 with the advice to set control.port or 0."""

from __future__ import annotations

import os
import socket
import subprocess

from tests.e2e.harness import MMFRAME, SYMMETRIC


def test_mmframe_run_when_control_port_taken_exits_2_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*MMFRAME, "run", str(SYMMETRIC), "--duration", "5", "--set", f"control.port={port}"],
            capture_output=True, text=True, timeout=60,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "set control.port" in output and "or to 0 to let the OS pick one" in output
    # Nothing was started: the simulator never came up, no pipeline ran, nothing had to be stopped.
    for started in ("simulator", "running pipeline", "stopped (", "quoting"):
        assert started not in output, output


def test_mmframe_run_when_bound_to_all_interfaces_without_token_exits_2_before_anything_starts() -> None:
    result = subprocess.run(
        [*MMFRAME, "run", str(SYMMETRIC), "--duration", "5", "--set", "control.host=0.0.0.0",
         "--set", "control.port=0"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "MMFRAME_CONTROL_TOKEN": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "without a token" in output and "running pipeline" not in output
