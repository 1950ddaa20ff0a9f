"""The venue stops accepting our key: the daemon stops quoting and exits non-zero saying so, instead
of reconnecting forever. Judged against a real simulator over loopback: one restarted on the same port
with other keys (what a key rotation or revocation looks like from the client), and one that never
knew the key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from tests.e2e.conftest import start_simulator
from tests.e2e.harness import SYMMETRIC, Admin, new_account, until, until_async, venue_overrides

pytestmark = pytest.mark.anyio

QUICK_STOP = ["runtime.shutdown_timeout_seconds=3"]
"""A stop whose cancels all answer 401 gives up at the deadline: keep it short."""


async def test_daemon_when_the_simulator_restarts_with_other_keys_stops_non_zero_saying_the_venue_rejects_our_key(
    tmp_path: Path,
) -> None:
    registry = load_registry()
    async with start_simulator(seed=11) as sim:
        port = sim.port
        account = new_account(sim, tmp_path)
        pipeline = load_pipeline(SYMMETRIC, registry, [*venue_overrides(sim, account), *QUICK_STOP])
        engine = build_engine(pipeline, registry)
        task = asyncio.create_task(engine.run(None))
        await until(lambda: engine.ready or task.done(), what="the engine to start")
        assert not task.done(), engine.error
        admin = Admin(sim)
        await until_async(lambda: admin.quoting_everywhere(account.user_id), what="quotes in every market")
    # The same address, a fresh exchange whose key registry has never heard of our key.
    async with start_simulator(seed=12, port=port) as restarted:
        assert restarted.server.keys.get(account.key_id) is None
        code = await asyncio.wait_for(task, 90)
        assert await Admin(restarted).resting(account.user_id) == []

    assert code != 0
    assert engine.error is not None and "the venue rejects our key" in engine.error, engine.error
    assert "mmframe doctor" in engine.error  # the advice says what to check
    assert not engine.core.gate.is_open  # quoting stopped


async def test_daemon_when_the_venue_never_knew_our_key_refuses_to_start_saying_it_rejects_our_key(
    tmp_path: Path,
) -> None:
    registry = load_registry()
    async with start_simulator(seed=11) as sim:
        account = new_account(sim, tmp_path)
        overrides = [o for o in venue_overrides(sim, account) if not o.startswith("venue.kalshi.key_id=")]
        overrides.append("venue.kalshi.key_id=00000000-0000-0000-0000-000000000000")
        pipeline = load_pipeline(SYMMETRIC, registry, [*overrides, *QUICK_STOP])
        engine = build_engine(pipeline, registry)
        code = await asyncio.wait_for(engine.run(None), 60)
    assert code == 2
    assert engine.error is not None and "the venue rejects our key 00000000…" in engine.error, engine.error
    assert "Traceback" not in engine.error
