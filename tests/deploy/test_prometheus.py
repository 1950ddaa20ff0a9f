"""A real Prometheus (Debian's ``prometheus`` package) scraping a running daemon on the simulator,
configured from the kit's deploy/prometheus/prometheus.yml: the net PnL and position series read back
through Prometheus's HTTP query API match what the daemon holds.

Skipped, saying why, where the package is not installed (``.ci/run`` installs it)."""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.daemon import DEPLOY, RunningDaemon, wait_until

PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="the prometheus server is not installed (apt-get install prometheus; .ci/run does)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def prometheus(daemon: RunningDaemon, tmp_path: Path) -> Iterator[str]:
    """Prometheus scraping ``daemon`` every second, with the kit's scrape config pointed at it."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    job = config["scrape_configs"][0]
    job["static_configs"][0]["targets"] = [daemon.url.removeprefix("http://")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{_free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    assert PROMETHEUS is not None
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address={address}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{address}"
    try:
        wait_until(lambda: _ready(url, process, tmp_path), 60, "prometheus to be ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _ready(url: str, process: subprocess.Popen[bytes], tmp_path: Path) -> bool:
    assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_prometheus_when_scraping_a_running_daemon_reads_back_net_pnl_and_positions(
    daemon: RunningDaemon, prometheus: str
) -> None:
    # Freeze the positions (a pause cancels every order: no more fills), then read them through
    # Prometheus from a scrape made after the daemon's own figures were read — and unchanged since
    # (a fill on its way when the pause answered would otherwise race the comparison).
    assert daemon.post("/pause", {"reason": "prometheus test"}).status_code == 200

    def figures() -> tuple[dict[str, Decimal], Decimal, Decimal]:
        """What a pause freezes: positions, realised PnL, fees (unrealised moves with the mid)."""
        state = daemon.get("/state").json()
        positions = {p["ticker"]: Decimal(p["position"]) for p in state["positions"]}
        return positions, Decimal(state["pnl"]["realised"]), Decimal(state["pnl"]["fees"])

    def scraped_after(moment: float) -> bool:
        # timestamp(): when the sample was scraped (an instant query's own time is the query's).
        stamps = _query(prometheus, 'timestamp(mmframe_pnl_net_dollars{job="mmframe"})')
        return bool(stamps) and float(stamps[0]["value"][1]) > moment

    for _ in range(5):
        before = figures()
        read_at = time.time()
        wait_until(functools.partial(scraped_after, read_at), 30, "a scrape after the daemon's figures were read")
        series = _query(prometheus, 'mmframe_position_contracts{job="mmframe"}')
        [realised] = _query(prometheus, "mmframe_pnl_realised_dollars")
        [fees] = _query(prometheus, "mmframe_fees_dollars")
        if figures() == before:
            break
    positions, realised_pnl, fees_paid = before
    assert {s["metric"]["market"]: Decimal(s["value"][1]) for s in series} == positions
    assert any(positions.values())
    assert {s["metric"]["pipeline"] for s in series} == {"symmetric"}  # the kit's target label
    assert Decimal(realised["value"][1]) == realised_pnl
    assert Decimal(fees["value"][1]) == fees_paid

    [net] = _query(prometheus, "mmframe_pnl_net_dollars")
    assert net["metric"]["job"] == "mmframe"
    # Net is its parts, sample by sample, as Prometheus stored them.
    [gap] = _query(prometheus, "abs(mmframe_pnl_net_dollars - (mmframe_pnl_realised_dollars + "
                               "mmframe_pnl_unrealised_dollars - mmframe_fees_dollars + mmframe_pnl_day_start_dollars))")
    assert float(gap["value"][1]) < 1e-9
    [up] = _query(prometheus, 'up{job="mmframe"}')
    assert up["value"][1] == "1"
