"""The ``alerts`` sink delivering through apprise's own JSON target (``json://``) to a real HTTP
receiver on loopback: wording, per-kind caps, folded repeats, the held-back summary at stop, retries,
and never a URL in the logs. Time is a `TestClock`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from mmframe_sinks.alerting.delivery import DeliveryConfigError
from mmframe_sinks.alerts import AlertSink
from mmframe_sinks.webhook import apprise_json_url

from mmframe.api import (
    BookSide,
    MarketEvent,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    PortfolioMarked,
    PositionMark,
    RunStarted,
    RunStopped,
    TestClock,
    TradingHalted,
    TradingPaused,
    TradingResumed,
    VenueStatusChanged,
)
from tests.sinks.receiver import Receiver, receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(slots=True, kw_only=True)
class MarketQuarantined(MarketEvent):
    """Stands in for the event another part publishes: the sink knows it by kind name only."""

    reason: str = ""


def _sink(hook: Receiver | None, clock: TestClock, **config: Any) -> AlertSink:
    urls = [apprise_json_url(hook.url)] if hook is not None else [""]
    return AlertSink({"urls": urls, "backoff_seconds": 0.01, **config}, "demo",
                     now_ns=clock.now_ns, monotonic_ns=clock.monotonic_ns)


def _reject(clock: TestClock, ticker: str, code: str = "insufficient_balance") -> OrderRejected:
    return OrderRejected(ts_ns=clock.now_ns(), client_order_id="c", ticker=ticker, code=code, message="no money")


def _mark(clock: TestClock, net: int, positions: tuple[PositionMark, ...] = ()) -> PortfolioMarked:
    return PortfolioMarked(ts_ns=clock.now_ns(), realised_pnl=net, unrealised_pnl=0, fees=0, positions=positions)


async def test_alerts_when_halted_delivers_through_apprise_json_target_to_the_receiver() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock)
        await sink.start()
        await sink.write([TradingHalted(ts_ns=clock.now_ns(), reason="daily-loss: breached")])
        await sink.close()
    assert hook.received == [{
        "version": "1.0", "title": "mmframe demo: halt", "message": "trading halted: daily-loss: breached",
        "attachments": [], "type": "failure",
    }]
    assert sink.delivery.sent == 1 and sink.delivery.failed == 0


async def test_alerts_when_reject_storm_floods_keeps_the_halt_and_stop_and_flushes_the_count_at_stop() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock)
        await sink.start()
        await sink.write([RunStarted(ts_ns=clock.now_ns(), pipeline="demo", markets=("M-A", "M-B"))])
        storm = []
        for i in range(200):  # 200 rejects within one second, over two markets
            clock.advance(0.004)
            storm.append(_reject(clock, "M-A" if i % 2 else "M-B", "429" if i % 10 == 0 else "insufficient_balance"))
        await sink.write(storm)
        await sink.write([TradingHalted(ts_ns=clock.now_ns(), reason="order group triggered")])
        await sink.write([_mark(clock, -12_345), RunStopped(ts_ns=clock.now_ns(), reason="SIGTERM")])
        await sink.close()
    titles = [m["title"] for m in hook.received]
    assert titles == ["mmframe demo: start", "mmframe demo: reject", "mmframe demo: reject", "mmframe demo: halt",
                      "mmframe demo: stop"]
    assert hook.received[1]["message"].startswith("reject storm on M-B: 5 rejected in 10 s (")
    stop = hook.received[-1]["message"]
    # Each market's storm is one message; the 95 further storm alerts of each are counted, and that
    # count goes out with the stop, not after it.
    assert stop.startswith("stopped (SIGTERM): net $-1.2345")
    assert "rejects 200 (insufficient_balance ×180, 429 ×20)" in stop
    assert stop.endswith("held back: reject M-A ×95, reject M-B ×95")
    assert sink.throttle.held == {}


async def test_alerts_when_one_kind_exceeds_its_cap_others_still_go_and_the_rest_is_summarised() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock, max_per_minute=2, summary_seconds=60)
        await sink.start()
        await sink.write([MarketQuarantined(ts_ns=clock.now_ns(), ticker=f"M-{i}", reason="bad book") for i in range(5)])
        await sink.write([OrderGroupTriggered(ts_ns=clock.now_ns(), order_group_id="g1", detail="15 s limit")])
        assert [m["message"] for m in hook.received] == [
            "market M-0 quarantined: bad book", "market M-1 quarantined: bad book",
            "order group g1 triggered 15 s limit",
        ]
        clock.advance(59)
        await sink.write([])
        assert len(hook.received) == 3
        clock.advance(1)
        await sink.write([])  # the oldest held-back alert has waited summary_seconds
        await sink.close()
    assert hook.received[3]["title"] == "mmframe demo: summary"
    assert hook.received[3]["message"] == ("3 alert(s) held back (repeats and per-kind caps): quarantine M-2 ×1, "
                                           "quarantine M-3 ×1, quarantine M-4 ×1")
    assert len(hook.received) == 4


async def test_alerts_when_the_same_kind_and_market_repeats_folds_them_into_the_next_with_a_count() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock, dedup_seconds=300)
        await sink.start()
        for _ in range(4):
            await sink.write([TradingHalted(ts_ns=clock.now_ns(), reason="loss")])
            clock.advance(10)
        clock.advance(300)
        await sink.write([TradingHalted(ts_ns=clock.now_ns(), reason="loss again")])
        await sink.close()
    assert [m["message"] for m in hook.received] == [
        "trading halted: loss", "trading halted: loss again (+3 more like this held back before it)",
    ]


async def test_alerts_when_venue_down_longer_than_n_seconds_alerts_once_and_again_when_back() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock, disconnect_seconds=30)
        await sink.start()
        # A blip shorter than N s is never a message.
        await sink.write([VenueStatusChanged(ts_ns=clock.now_ns(), status="reconnecting", detail="socket closed")])
        clock.advance(5)
        await sink.write([VenueStatusChanged(ts_ns=clock.now_ns(), status="connected")])
        clock.advance(5)
        await sink.write([VenueStatusChanged(ts_ns=clock.now_ns(), status="disconnected", detail="ws 1006")])
        clock.advance(29)
        await sink.write([_mark(clock, 0)])
        assert hook.received == []
        clock.advance(2)
        await sink.write([_mark(clock, 0)])
        clock.advance(9)
        await sink.write([_mark(clock, 0)])
        await sink.write([VenueStatusChanged(ts_ns=clock.now_ns(), status="connected")])
        await sink.close()
    assert [(m["message"], m["type"]) for m in hook.received] == [
        ("venue not connected for 31 s: ws 1006", "warning"), ("venue connected again after 40 s", "success"),
    ]


async def test_alerts_when_losses_cross_thresholds_alerts_once_each() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock, loss_thresholds=[1, 5])
        await sink.start()
        await sink.write([_mark(clock, net) for net in (-5_000, -15_000, -20_000, -60_000, -70_000, 0, -80_000)])
        await sink.close()
    assert [m["message"] for m in hook.received] == [
        "today's net PnL $-1.5000 crossed -$1.0000", "today's net PnL $-6.0000 crossed -$5.0000",
    ]


async def test_alerts_when_paused_resumed_and_stopping_says_pause_and_resume_but_not_the_stop_pause() -> None:
    clock = TestClock()
    async with receiver() as hook:
        sink = _sink(hook, clock, dedup_seconds=0)
        await sink.start()
        await sink.write([TradingPaused(ts_ns=1, reason="dashboard"), TradingResumed(ts_ns=2, reason="dashboard"),
                          TradingPaused(ts_ns=3, reason="stopping")])
        await sink.close()
    assert [(m["message"], m["type"]) for m in hook.received] == [
        ("trading paused: dashboard", "warning"), ("trading resumed: dashboard", "info"),
    ]


async def test_alerts_when_fills_and_daily_enabled_sends_fills_and_one_summary_per_utc_day() -> None:
    clock = TestClock(start_ns=1_764_547_200 * 10**9 + 22 * 3600 * 10**9)  # 2025-12-01 22:00 UTC
    position = PositionMark(ticker="M-A", position=300, avg_price=4_500, realised_pnl=0, fees=20, mark=4_600)
    async with receiver() as hook:
        sink = _sink(hook, clock, alerts=["fill", "daily"], daily_summary_hour=0)
        await sink.start()
        await sink.write([_mark(clock, 0)])
        await sink.write([OrderFilled(ts_ns=clock.now_ns(), client_order_id="c", ticker="M-A", order_id="o",
                                      trade_id="t", side=BookSide.BID, price=4_500, count=300, fee=20, is_taker=False)])
        clock.advance(3 * 3600)  # past midnight UTC
        await sink.write([_mark(clock, 2_980, (position,))])
        clock.advance(3600)
        await sink.write([_mark(clock, 2_980, (position,))])
        await sink.close()
    assert [m["message"] for m in hook.received] == [
        "fill M-A bid 3.00 @ 0.4500 (fee 0.0020)",
        "daily summary until 2025-12-02 00:00 UTC: net $0.2980 (realised $0.2980, unrealised $0.0000, fees $0.0000);"
        " fills 1 (3.00 contracts); rejects 0; positions: M-A 3.00",
    ]


async def test_alerts_when_target_fails_twice_retries_and_delivers_once() -> None:
    clock = TestClock()
    async with receiver() as hook:
        hook.fail_with = [503, 500]
        sink = _sink(hook, clock, retries=3)
        await sink.start()
        await sink.write([TradingHalted(ts_ns=1, reason="x")])
        await sink.close()
    assert hook.attempts == 3 and len(hook.received) == 1
    assert (sink.delivery.sent, sink.delivery.failed) == (1, 0)


async def test_alerts_when_target_refuses_logs_the_failure_but_never_the_url(caplog: pytest.LogCaptureFixture) -> None:
    clock = TestClock()
    async with receiver() as hook:
        hook.fail_with = [400, 400]
        sink = _sink(hook, clock, retries=1)
        with caplog.at_level(logging.DEBUG):
            await sink.start()
            await sink.write([TradingHalted(ts_ns=1, reason="x")])
            await sink.close()
    assert hook.attempts == 2 and sink.delivery.failed == 1
    assert "not delivered to #1 json after 2 attempt(s)" in caplog.text
    assert "secret-path-token" not in caplog.text


async def test_alerts_when_no_url_set_only_logs_the_alerts(caplog: pytest.LogCaptureFixture) -> None:
    sink = _sink(None, TestClock())
    with caplog.at_level(logging.INFO, logger="mmframe.alerts"):
        await sink.start()
        await sink.write([TradingHalted(ts_ns=1, reason="x")])
        await sink.close()
    assert "alerts: no URL configured; alerts are only logged" in caplog.text
    assert "alert halt: trading halted: x" in caplog.text
    assert sink.delivery.sent == 0


def test_alerts_when_url_scheme_unknown_refuses_naming_position_and_scheme_not_the_url() -> None:
    with pytest.raises(DeliveryConfigError) as error:
        AlertSink({"urls": ["json://127.0.0.1/x", "nosuchservice://user:hunter2@example"]}, "demo",
                  now_ns=TestClock().now_ns, monotonic_ns=TestClock().monotonic_ns)
    assert "#2 nosuchservice" in str(error.value) and "hunter2" not in str(error.value)


def test_apprise_json_url_when_webhook_url_given_maps_scheme_path_query_and_timeouts() -> None:
    assert apprise_json_url("https://hooks.example.com/a/b?x=1", 5) == "jsons://hooks.example.com/a/b?x=1&cto=5&rto=5"
    assert apprise_json_url("http://127.0.0.1:8080") == "json://127.0.0.1:8080/"
