"""Every error names its cause. The venue stops accepting our key: the daemon stops quoting and exits
non-zero saying so, instead of reconnecting forever (judged against a real simulator over loopback:
one restarted on the same port with other keys, what a key rotation or revocation looks like from the
client, and one that never knew the key). A WebSocket that never connects is named with what the last
attempt met, not a bare TimeoutError; a sink that cannot start is named with its root cause, not an
ExceptionGroup."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import mmframe_kalshi.venue
import pytest
from click.testing import CliRunner

from mmframe.cli import create_cli
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


async def test_daemon_when_the_websocket_never_connects_names_the_url_and_what_the_last_attempt_met(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mmframe_kalshi.venue, "_CONNECT_TIMEOUT_S", 2.0)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    registry = load_registry()
    async with start_simulator(seed=11) as sim:
        account = new_account(sim, tmp_path)
        ws_url = f"ws://127.0.0.1:{dead}/trade-api/ws/v2"
        pipeline = load_pipeline(SYMMETRIC, registry, [*venue_overrides(sim, account), f"venue.kalshi.ws_url={ws_url}"])
        engine = build_engine(pipeline, registry)
        code = await asyncio.wait_for(engine.run(None), 30)
    assert code == 2
    assert engine.error is not None
    assert f"no WebSocket connection to {ws_url} within 2 s (last attempt: ConnectionRefusedError" in engine.error
    assert "check rest_url and ws_url" in engine.error
    assert "TimeoutError" not in engine.error


def test_run_when_the_journal_cannot_start_exits_2_naming_the_root_cause_not_a_task_group(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    journal.write_bytes(b"this is not an SQLite database, but a writable file" * 100)
    pipeline = tmp_path / "p.yaml"
    text = SYMMETRIC.read_text(encoding="utf-8").replace("control: {port: 3001}", "control: {port: 0}")
    pipeline.write_text(text, encoding="utf-8")  # its journal: ${MMFRAME_JOURNAL:-...}
    result = CliRunner().invoke(create_cli(load_registry()), ["run", str(pipeline), "--duration", "20", "--no-status"],
                                env={"MMFRAME_JOURNAL": str(journal)})
    assert result.exit_code == 2, result.stderr
    assert "sink journal could not start: DatabaseError: file is not a database" in result.stderr
    assert "ExceptionGroup" not in result.stderr and "Traceback" not in result.stderr
