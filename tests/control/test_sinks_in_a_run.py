"""The first-party sinks wired into a running engine: start, halt and stop (with its summary) reach the
alert receiver through apprise, the older ``webhook`` form still alerts, the jsonl log has the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mmframe_sinks.webhook import apprise_json_url

from tests.control.harness import build, make_pipeline, running, wait_for
from tests.control.memory_exchange import Exchange
from tests.sinks.receiver import receiver

pytestmark = pytest.mark.anyio


async def test_sinks_when_engine_halts_alert_start_halt_and_stop_and_log_every_event(
    exchange: Exchange, registry: Any, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    async with receiver() as hook, receiver() as legacy:
        sinks = (("jsonl", {"path": str(log)}),
                 ("alerts", {"urls": [apprise_json_url(hook.url)], "backoff_seconds": 0.01}),
                 ("webhook", {"url": legacy.url, "backoff_seconds": 0.01}))
        engine = build(make_pipeline(sinks=sinks), registry)
        async with running(engine):
            engine.halt("operator test halt")
            await wait_for(lambda: len(hook.received) >= 2 and len(legacy.received) >= 1)
        # The stop alert went out before the run ended, not after.
        titles = [m["title"] for m in hook.received]
    assert titles == ["mmframe control-test: start", "mmframe control-test: halt", "mmframe control-test: stop"]
    assert hook.received[1]["message"] == "trading halted: operator test halt"
    assert hook.received[2]["message"].startswith("stopped (test done): net $")
    assert "positions: flat" in hook.received[2]["message"]
    assert [m["title"] for m in legacy.received] == ["mmframe control-test: halt"]
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunStopped"
    assert {"BookSnapshotReceived", "QuoteComputed", "OrderActionsSubmitted", "OrderAccepted", "TradingHalted",
            "PortfolioMarked"} <= set(kinds)
