"""``mmframe run`` as a real process: the README's command, SIGINT, and a restart after a crash."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from mmframe_kalshi.venue import average_price

from mmframe.domain.money import MICROS_SCALE
from tests.e2e.harness import (
    MMFRAME,
    SYMMETRIC,
    Account,
    Admin,
    daemon,
    new_account,
    until_async,
    venue_overrides,
)

pytestmark = pytest.mark.anyio


async def _spawn(args: list[str], log: Path) -> asyncio.subprocess.Process:
    out = log.open("wb")
    try:
        return await asyncio.create_subprocess_exec(*MMFRAME, *args, stdout=out, stderr=asyncio.subprocess.STDOUT)
    finally:
        out.close()


def _run_args(sim: Any, account: Account) -> list[str]:
    args = ["run", str(SYMMETRIC)]
    for override in venue_overrides(sim, account):
        args += ["--set", override]
    return args


async def test_mmframe_run_when_readme_command_runs_on_fresh_machine_quotes_summarises_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's commands from a checkout's root (here a copy of its pipelines/): `mmframe run
    # pipelines/symmetric.yaml`, then `mmframe report`, which finds the journal in var/.
    (tmp_path / "pipelines").mkdir()
    pipeline = tmp_path / "pipelines" / "symmetric.yaml"
    pipeline.write_text(SYMMETRIC.read_text())
    monkeypatch.delenv("MMFRAME_JOURNAL")
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "run.log"
    # No credentials at all: `venue: sim` starts its own simulator.
    proc = await _spawn(["run", "pipelines/symmetric.yaml", "--duration", "6", "--set", "control.port=0"], log)
    code = await asyncio.wait_for(proc.wait(), 40)
    output = log.read_text()
    assert code == 0, output
    assert "quoting 4/4 markets" in output, output
    assert "stopped (duration 6s elapsed)" in output, output
    report = await asyncio.create_subprocess_exec(*MMFRAME, "report", "--json", stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
    out, err = await report.communicate()
    assert report.returncode == 0, err.decode()
    assert [r["stop_reason"] for r in json.loads(out)["runs"]] == ["duration 6s elapsed"]
    assert (tmp_path / "var" / "mmframe.sqlite").is_file()


async def test_mmframe_run_when_sigint_leaves_no_resting_orders(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    log = tmp_path / "run.log"
    proc = await _spawn(_run_args(sim, account), log)
    try:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), timeout=20,
                          what="the daemon to quote every market")
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = log.read_text()
    assert code == 0, output
    assert await admin.resting(account.user_id) == [], output
    assert "SIGINT received" in output


async def test_daemon_when_restarted_after_crash_recovers_positions_and_orders(
    sim: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    log = tmp_path / "run.log"
    proc = await _spawn(_run_args(sim, account), log)
    try:
        await until_async(lambda: admin.quoting_everywhere(account.user_id), timeout=20, what="quotes")
        await until_async(lambda: admin.positions(account.user_id), timeout=20, what="an open position")
        proc.kill()  # a crash: nothing cancelled, the order group left in place
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    async with httpx.AsyncClient() as client:  # no synthetic traders from here on: positions stay put
        (await client.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
    await asyncio.sleep(0.1)
    left_orders = {o["client_order_id"] for o in await admin.resting(account.user_id)}
    positions = await admin.positions(account.user_id)
    assert left_orders and positions

    with caplog.at_level(logging.INFO, logger="mmframe.engine"):
        async with daemon(sim, account) as d:
            ledger = d.engine.core.ledger.positions
            assert {t: p.position for t, p in ledger.items() if p.position} == positions
            # Seeded at the venue's cost basis, so PnL and loss limits carry on from the right price.
            exposures = {p["ticker"]: p["market_exposure_dollars"] for p in (await admin.truth())["positions"]
                         if p["user_id"] == account.user_id}
            for ticker, position in positions.items():
                exposure = int(Decimal(exposures[ticker]) * MICROS_SCALE)  # exact micros
                assert ledger[ticker].avg_price == average_price(position, exposure), ticker
            adopted = {r.args[0] for r in caplog.records if r.getMessage().startswith("adopted resting order")}
            assert adopted == left_orders
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []


async def test_daemon_when_venue_rejects_startup_reads_refuses_to_start(sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    await admin.fault("burst_429", count=10_000)  # every read refused
    log = tmp_path / "run.log"
    proc = await _spawn(_run_args(sim, account), log)
    code = await asyncio.wait_for(proc.wait(), 30)
    output = log.read_text()
    assert code == 2, output
    assert "stopped with an error" in output and "429" in output, output
    await admin.fault("clear")
    assert await admin.resting(account.user_id) == []


def test_average_price_when_position_long_or_short_reads_cost_basis() -> None:
    assert average_price(1000, 3_300_000) == 3300  # 10 YES that cost $3.30: $0.33 each
    assert average_price(-1000, 6_700_000) == 3300  # 10 NO that cost $6.70: YES sold at $0.33
    assert average_price(300, 1_000_000) == 3333  # rounded to the nearest $0.0001


def test_average_price_when_exposure_has_six_decimals_rounds_once_from_exact_figures() -> None:
    # 3 YES that cost $1.570001 ("1.570001" on the wire): $0.52333367 each -> $0.5233
    assert average_price(300, 1_570_001) == 5233
    # 3 NO that cost $1.430015: YES sold at 1 - 0.47667167 = $0.5233
    assert average_price(-300, 1_430_015) == 5233
