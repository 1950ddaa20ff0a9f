"""Paper trading, as a user runs it: ``mmframe run pipelines/paper.yaml`` against a ``mmframe sim serve``
standing in for the live exchange, with a READ-ONLY key.

It quotes, fills locally (the simulator's own traders trade through our paper prices), journals, the
control plane and dashboard serve it, ``mmframe report`` reports it — and the simulator's write log
(``/_sim/requests``: every signed write that reached the exchange) shows that not one write request
left the process, while the venue never saw an order of ours.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import httpx

from tests.chaos.harness import SimProcess, sim_process
from tests.e2e.harness import MARKETS, MMFRAME, PIPELINES

PAPER = PIPELINES / "paper.yaml"
_CONTROL = re.compile(r"control plane on (http://\S+)")


def _read_only_account(sim: SimProcess, directory: Path) -> tuple[str, Path, str]:
    """A read-only key on ``sim`` (its writes would be refused 403): ``(key_id, key file, user id)``."""
    response = httpx.post(f"{sim.admin_url}/accounts", json={"read_only": True, "tier": "basic"}, timeout=30)
    response.raise_for_status()
    body = response.json()
    path = directory / "read-only.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(body["private_key_pem"])
    return body["key_id"], path, body["user_id"]


def _paper_overrides(sim: SimProcess, key_id: str, key_path: Path) -> list[str]:
    """``--set`` overrides pointing pipelines/paper.yaml's paper venue at ``sim`` (the mapping form
    of ``venue: {paper: kalshi}``), on the simulator's markets."""
    sets = [
        f"markets=[{','.join(MARKETS)}]",
        f"venue.paper.kalshi.rest_url={sim.rest_url}",
        f"venue.paper.kalshi.ws_url={sim.ws_url}",
        f"venue.paper.kalshi.key_id={key_id}",
        f"venue.paper.kalshi.private_key_path={key_path}",
        "control.port=0",
    ]
    return [arg for item in sets for arg in ("--set", item)]


def _wait_for(predicate, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {what} (exit {proc.poll()}); log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_paper_pipeline_when_run_against_a_simulated_exchange_fills_locally_and_never_writes(tmp_path: Path) -> None:
    with sim_process(tmp_path / "sim", seed=7) as sim:
        key_id, key_path, user_id = _read_only_account(sim, tmp_path)
        journal = tmp_path / "paper.sqlite"
        token = secrets.token_urlsafe(16)
        env = {**os.environ, "MMFRAME_JOURNAL": str(journal), "MMFRAME_CONTROL_TOKEN": token}
        env = {k: v for k, v in env.items() if not k.startswith("KALSHI_")}
        log = tmp_path / "daemon.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*MMFRAME, "run", str(PAPER), "--duration", "25", "--no-status", *_paper_overrides(sim, key_id, key_path)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            )
        try:
            def control_url() -> str | None:
                match = _CONTROL.search(log.read_text())
                return match.group(1) if match else None

            url = _wait_for(control_url, "control plane", proc, log)

            def state() -> dict[str, object]:
                return dict(httpx.get(f"{url}/state", timeout=10).json())

            # quotes: both sides of every market rest on the paper venue
            def quoting() -> bool:
                working = state()["working_orders"]
                assert isinstance(working, list)
                return {(o["ticker"], o["side"]) for o in working} == {(t, s) for t in MARKETS for s in ("bid", "ask")}

            _wait_for(quoting, "two-sided quotes in every market", proc, log)
            # fills locally: the simulator's own traders trade through our paper prices
            _wait_for(lambda: state()["stats"]["fills"], "paper fill", proc, log)  # type: ignore[index]
            now = state()
            assert now["mode"] == "paper"
            venue = now["venue"]
            assert isinstance(venue, dict) and venue["venue"] == "paper" and venue["source"] == "kalshi"
            assert httpx.get(f"{url}/", timeout=10).status_code == 200  # the dashboard serves it unchanged
            assert proc.wait(90) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        output = log.read_text()
        assert "paper trading on kalshi" in output
        assert re.search(r"fill SIM-\S+ (bid|ask)", output), output[-3000:]

        # the venue's ground truth: no write request from the paper run ever reached it
        requests = httpx.get(f"{sim.admin_url}/requests", timeout=10).json()
        assert requests["requests"] == [] and requests["dropped"] == 0
        assert httpx.get(f"{sim.admin_url}/orders", params={"user_id": user_id}, timeout=10).json()["orders"] == []

    # journals like a live run, as a run of mode `paper`; `mmframe report` reports it
    result = subprocess.run([*MMFRAME, "report", "--journal", str(journal), "--json"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "paper"
    assert [run["mode"] for run in report["runs"]] == ["paper"]
    assert report["runs"][0]["stop_reason"].startswith("duration")
    assert report["totals"]["fills"] >= 1
    assert {m["ticker"] for m in report["by_market"]} <= set(MARKETS)
    assert any(m["fills"] for m in report["by_market"])
