"""``mmframe sim serve`` as a real subprocess: it prints its line, and a signed request gets the balance."""

from __future__ import annotations

import pathlib
import re
import selectors
import signal
import stat
import subprocess
import sys

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.sim.kalshi_test_client import Signer, assert_shape

LINE = re.compile(r"^key_id=(?P<key_id>\S+) rest=(?P<rest>http://127\.0\.0\.1:\d+/trade-api/v2) "
                  r"ws=(?P<ws>ws://127\.0\.0\.1:\d+/trade-api/ws/v2)$")


def _command() -> list[str]:
    script = pathlib.Path(sys.executable).with_name("mmframe")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mmframe.cli import main; sys.exit(main())"]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*_command(), "sim", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            raise AssertionError(f"no line within {timeout}s; stderr: {process.communicate()[1]}")
    return process.stdout.readline().rstrip("\n")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()


def test_sim_serve_when_started_prints_line_and_serves_signed_balance(tmp_path: pathlib.Path) -> None:
    key_out = tmp_path / "keys" / "sim.pem"
    process = _start("--key-out", str(key_out), "--seed", "3")
    try:
        line = _first_line(process)
        match = LINE.match(line)
        assert match, line
        assert stat.S_IMODE(key_out.stat().st_mode) == 0o600
        signer = Signer(match["key_id"], key_out.read_bytes())
        url = match["rest"] + "/portfolio/balance"
        response = httpx.get(url, headers=signer.headers("GET", "/trade-api/v2/portfolio/balance"))
        assert response.status_code == 200, response.text
        assert_shape("get_balance.json", response.json())
        assert response.json()["balance"] == 10_000_000  # the standard scenario's $100,000.00
        unsigned = httpx.get(url)
        assert unsigned.status_code == 401
        markets = httpx.get(match["rest"] + "/markets", headers=signer.headers("GET", "/trade-api/v2/markets"))
        assert len(markets.json()["markets"]) >= 1
    finally:
        code = _stop(process)
    assert code == 0, process.stderr.read() if process.stderr else ""


def test_sim_serve_when_public_key_given_registers_it(tmp_path: pathlib.Path) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public_path = tmp_path / "pub.pem"
    public_path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    process = _start("--public-key", str(public_path), "--key-out", str(tmp_path / "unused.pem"),
                     "--balance", "12.34")
    try:
        match = LINE.match(_first_line(process))
        assert match
        assert not (tmp_path / "unused.pem").exists()
        signer = Signer(match["key_id"], private_pem)
        response = httpx.get(match["rest"] + "/portfolio/balance",
                             headers=signer.headers("GET", "/trade-api/v2/portfolio/balance"))
        assert response.json()["balance"] == 1234
    finally:
        _stop(process)


def test_sim_serve_when_scenario_missing_exits_with_clear_error(tmp_path: pathlib.Path) -> None:
    result = subprocess.run([*_command(), "sim", "serve", "--port", "0", "--scenario", str(tmp_path / "nope.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "nope.yaml" in result.stderr
