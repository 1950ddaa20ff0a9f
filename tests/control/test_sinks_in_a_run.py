"""The first-party sinks wired into a running engine: a halt reaches the webhook, the jsonl log has the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.control.harness import build, make_pipeline, running, wait_for
from tests.control.memory_exchange import Exchange
from tests.sinks.receiver import receiver

pytestmark = pytest.mark.anyio


async def test_sinks_when_engine_halts_alert_the_webhook_and_log_every_event(
    exchange: Exchange, registry: Any, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    async with receiver() as hook:
        sinks = (("jsonl", {"path": str(log)}), ("webhook", {"url": hook.url, "backoff_seconds": 0.01}))
        engine = build(make_pipeline(sinks=sinks), registry)
        async with running(engine):
            engine.halt("operator test halt")
            await wait_for(lambda: len(hook.received) >= 1)
    assert hook.received[0]["alert"] == "halt" and hook.received[0]["pipeline"] == "control-test"
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunStopped"
    assert {"BookSnapshotReceived", "QuoteComputed", "OrderActionsSubmitted", "OrderAccepted", "TradingHalted",
            "PortfolioMarked"} <= set(kinds)
