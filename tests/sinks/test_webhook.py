"""Webhook alerts over real HTTP to a loopback receiver: content, retries, rate cap, never the URL in logs."""

from __future__ import annotations

import logging

import pytest
from mmframe_sinks.webhook import WebhookSink

from mmframe.api import (
    OrderGroupTriggered,
    OrderRejected,
    PortfolioMarked,
    TradingHalted,
    VenueStatusChanged,
)
from tests.sinks.receiver import receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sink(url: str, clock: FakeTime | None = None, **config: object) -> WebhookSink:
    return WebhookSink({"url": url, "backoff_seconds": 0.01, **config}, "demo", clock or FakeTime())


def _pnl(ts: int, net: int) -> PortfolioMarked:
    return PortfolioMarked(ts_ns=ts, realised_pnl=net, unrealised_pnl=0, fees=0)


async def test_webhook_when_halted_posts_a_critical_json_alert() -> None:
    async with receiver() as hook:
        sink = _sink(hook.url)
        await sink.start()
        await sink.write([TradingHalted(ts_ns=7, reason="daily-loss: breached")])
        await sink.close()
    assert hook.received == [{
        "alert": "halt", "severity": "critical", "pipeline": "demo", "message": "trading halted: daily-loss: breached",
        "ts_ns": 7, "details": {"reason": "daily-loss: breached"},
    }]


async def test_webhook_when_each_alert_kind_happens_posts_one_each_and_rejects_are_summarised() -> None:
    async with receiver() as hook:
        sink = _sink(hook.url, loss_thresholds=[1, 5])
        await sink.start()
        await sink.write([
            OrderGroupTriggered(ts_ns=1, order_group_id="g1", detail="contracts limit"),
            VenueStatusChanged(ts_ns=2, status="disconnected", detail="socket closed"),
            VenueStatusChanged(ts_ns=3, status="connected"),
            OrderRejected(ts_ns=4, client_order_id="a", ticker="M", code="429", message="slow"),
            OrderRejected(ts_ns=5, client_order_id="b", ticker="M", code="429", message="slow"),
            _pnl(6, -15_000),  # -1.50: crosses -1 only
            _pnl(7, -20_000),
            _pnl(8, -60_000),  # crosses -5
            _pnl(9, -70_000),
        ])
        await sink.close()
    kinds = [body["alert"] for body in hook.received]
    assert kinds == ["order_group", "disconnect", "loss", "loss", "reject"]
    assert hook.received[2]["details"] == {"net_pnl": "-1.5000", "threshold": "1.0000"}
    assert hook.received[4]["details"] == {"by_code": {"429": 2}}


async def test_webhook_when_receiver_fails_twice_retries_and_delivers() -> None:
    async with receiver() as hook:
        hook.fail_with = [503, 429]
        sink = _sink(hook.url, retries=3)
        await sink.start()
        await sink.write([TradingHalted(ts_ns=1, reason="x")])
        await sink.close()
    assert hook.attempts == 3 and len(hook.received) == 1 and sink.sent == 1 and sink.failed == 0


async def test_webhook_when_refused_with_4xx_gives_up_without_logging_the_url(caplog: pytest.LogCaptureFixture) -> None:
    async with receiver() as hook:
        hook.fail_with = [400, 400]
        sink = _sink(hook.url, retries=3)
        await sink.start()
        with caplog.at_level(logging.DEBUG):
            await sink.write([TradingHalted(ts_ns=1, reason="x")])
        await sink.close()
    assert hook.attempts == 1 and sink.failed == 1
    assert "HTTP 400" in caplog.text and "secret-path-token" not in caplog.text


async def test_webhook_when_over_the_rate_cap_holds_back_and_reports_the_count() -> None:
    clock = FakeTime()
    async with receiver() as hook:
        sink = _sink(hook.url, clock, max_per_minute=2)
        await sink.start()
        await sink.write([TradingHalted(ts_ns=i, reason=f"r{i}") for i in range(5)])
        assert len(hook.received) == 2 and sink.suppressed == 3
        clock.now += 60
        await sink.write([TradingHalted(ts_ns=9, reason="later")])
        await sink.close()
    assert len(hook.received) == 3
    assert hook.received[2]["suppressed_since_last"] == 3 and hook.received[2]["message"] == "trading halted: later"


async def test_webhook_when_alert_kind_disabled_sends_nothing() -> None:
    async with receiver() as hook:
        sink = _sink(hook.url, alerts=["halt"])
        await sink.start()
        await sink.write([VenueStatusChanged(ts_ns=1, status="disconnected")])
        await sink.close()
    assert hook.attempts == 0
