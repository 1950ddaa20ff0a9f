"""The shipped pipelines: each validates offline and the simulator ones quote every market."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MARKETS, MMFRAME, PIPELINES, Admin, daemon, new_account, until_async

pytestmark = pytest.mark.anyio

SIM_PIPELINES = ("symmetric.yaml", "avellaneda.yaml")


def test_pipelines_when_checked_offline_without_credentials_are_valid() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    files = [str(PIPELINES / name) for name in (*SIM_PIPELINES, "guarded.yaml", "glft.yaml", "symmetric-demo.yaml", "paper.yaml")]
    result = subprocess.run([*MMFRAME, "check", "--no-credentials", *files], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == len(files)


@pytest.mark.parametrize("name", SIM_PIPELINES)
async def test_pipeline_when_run_against_simulator_quotes_every_market(name: str, sim: Any, tmp_path: Path) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)

    async def quoting_everywhere() -> bool:
        return {o["ticker"] for o in await admin.resting(account.user_id)} == set(MARKETS)

    async with daemon(sim, account, PIPELINES / name) as d:
        await until_async(quoting_everywhere, what=f"{name} to quote every market")
        assert d.engine.error is None
    assert d.task.result() == 0
    assert await admin.resting(account.user_id) == []
