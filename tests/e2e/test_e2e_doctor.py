"""``mmframe doctor`` against the simulator: a ready venue passes, a key that does not sign passes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MMFRAME, SYMMETRIC, Account, new_account, venue_overrides

pytestmark = pytest.mark.anyio


async def _doctor(sim: Any, account: Account, *extra: str) -> tuple[int, str]:
    args = ["doctor", str(SYMMETRIC)]
    for override in [*venue_overrides(sim, account), *extra]:
        args += ["--set", override]
    proc = await asyncio.create_subprocess_exec(*MMFRAME, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_doctor_when_venue_ready_passes_every_check(sim: Any, tmp_path: Path) -> None:
    code, out = await _doctor(sim, new_account(sim, tmp_path))
    assert code == 0, out
    for name in ("signed read", "clock skew", "account limits", "websocket", "market SIM-RAIN-NYC"):
        assert f"ok    {name}" in out, out
    assert "tier prime" in out


async def test_doctor_when_private_key_does_not_match_key_id_fails_with_advice(sim: Any, tmp_path: Path) -> None:
    mine, other = new_account(sim, tmp_path, name="mine"), new_account(sim, tmp_path, name="other")
    wrong = Account(mine.key_id, other.key_path, mine.user_id)
    code, out = await _doctor(sim, wrong)
    assert code == 1, out
    assert "FAIL  signed read" in out
    assert "was not accepted" in out  # the advice
    assert "PRIVATE KEY" not in out  # never the key material


async def test_doctor_when_market_unknown_fails_that_market(sim: Any, tmp_path: Path) -> None:
    code, out = await _doctor(sim, new_account(sim, tmp_path), "markets=[SIM-RAIN-NYC, SIM-NOPE]")
    assert code == 1, out
    assert "ok    market SIM-RAIN-NYC" in out
    assert "FAIL  market SIM-NOPE" in out and "not found" in out
