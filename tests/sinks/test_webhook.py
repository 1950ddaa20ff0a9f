"""``webhook``, kept for old pipelines: its one ``url`` goes through apprise's JSON target with the
rules, folding and per-kind caps of ``alerts`` (the migration is documented in docs/alerts.md)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mmframe.api import ComponentContext, OrderRejected, TestClock, TradingHalted, VenueStatusChanged
from mmframe.plugins import load_registry
from tests.sinks.receiver import receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _build(config: dict[str, Any]) -> Any:
    spec = load_registry().get("sink", "webhook")
    ctx = ComponentContext(pipeline="demo", markets=(), clock=TestClock(), logger=logging.getLogger("t"))
    return spec.factory(config, ctx)


async def test_webhook_when_old_config_given_still_alerts_through_apprise_json(caplog: pytest.LogCaptureFixture) -> None:
    async with receiver() as hook:
        with caplog.at_level(logging.WARNING):
            sink = _build({"url": hook.url, "max_per_minute": 10, "retries": 1, "backoff_seconds": 0.01,
                           "timeout_seconds": 5, "alerts": ["halt", "reject"]})
        await sink.start()
        await sink.write([TradingHalted(ts_ns=1, reason="daily-loss: breached"),
                          VenueStatusChanged(ts_ns=2, status="disconnected")])
        await sink.close()
    assert hook.received == [{"version": "1.0", "title": "mmframe demo: halt",
                              "message": "trading halted: daily-loss: breached", "attachments": [], "type": "failure"}]
    assert "use `alerts` with `urls: [jsons://...]`" in caplog.text and "secret-path-token" not in caplog.text


async def test_webhook_when_rejects_storm_max_per_minute_caps_the_kind_not_every_alert() -> None:
    async with receiver() as hook:
        sink = _build({"url": hook.url, "max_per_minute": 1, "backoff_seconds": 0.01})
        await sink.start()
        await sink.write([OrderRejected(ts_ns=i, client_order_id="c", ticker=f"M-{i % 3}", code="429", message="")
                          for i in range(30)])
        await sink.write([TradingHalted(ts_ns=99, reason="loss")])
        await sink.close()
    titles = [m["title"] for m in hook.received]
    assert titles == ["mmframe demo: reject", "mmframe demo: halt", "mmframe demo: summary"]
    assert hook.received[2]["message"] == ("17 alert(s) held back (repeats and per-kind caps): reject M-0 ×5, reject M-1 ×6, reject M-2 ×6")
