"""The ``fair-value`` feed: a JSON file, an HTTP poll (a real loopback server) and another market's
mid on the simulator, each published as `FairValueUpdated` only when it changes; bad input is
refused per market and logged, never published."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mmframe_feeds.fair_value import SPEC, FairValueError, FairValueFeed, parse_fair_value
from mmframe_kalshi.venue import KalshiVenue

from mmframe.api import (
    ComponentContext,
    ConfigError,
    Event,
    FairValueUpdated,
    LiveClock,
    TestClock,
)

pytestmark = pytest.mark.anyio


@dataclass
class Ctx:
    """The part of FeedContext the feed uses, collecting what it publishes."""

    markets: tuple[str, ...] = ("A", "B")
    clock: Any = field(default_factory=TestClock)
    events: list[Event] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        self.events.append(event)


def build(config: dict[str, Any], tmp_path: Path, markets: tuple[str, ...] = ("A", "B")) -> FairValueFeed:
    ctx = ComponentContext(pipeline="p", markets=markets, clock=TestClock(), logger=logging.getLogger("t"),
                           base_dir=str(tmp_path))
    feed = SPEC.factory(config, ctx)
    assert isinstance(feed, FairValueFeed)
    return feed


def prices(events: list[Event]) -> list[tuple[str, int]]:
    return [(e.ticker, e.price) for e in events if isinstance(e, FairValueUpdated)]


@pytest.mark.parametrize(
    ("value", "price"), [("0.5300", 5300), (0.53, 5300), ("0.0001", 1), (0.9999, 9999), ("0.125", 1250)]
)
def test_parse_fair_value_when_valid_gives_exact_price_units(value: Any, price: int) -> None:
    assert parse_fair_value(value) == price


@pytest.mark.parametrize("value", ["0", "1", 1, 0, "1.5", "-0.2", "abc", "0.123456", None, True, [0.5], {"p": 1}])
def test_parse_fair_value_when_not_a_price_inside_zero_one_refuses(value: Any) -> None:
    with pytest.raises(FairValueError):
        parse_fair_value(value)


async def test_fair_value_file_publishes_each_change_once_and_keeps_the_last_good_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fv.json"
    path.write_text(json.dumps({"A": "0.4200", "B": 0.61, "C": "0.1000"}))
    feed = build({"source": "file", "path": "fv.json"}, tmp_path)  # relative to the pipeline file
    ctx = Ctx()
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert prices(ctx.events) == [("A", 4200), ("B", 6100)]  # C is not one of our markets
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert len(ctx.events) == 2  # nothing changed: nothing published
    path.write_text(json.dumps({"A": "0.4300", "B": "1.20"}))
    with caplog.at_level(logging.WARNING, "mmframe.feeds.fair_value"):
        await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert prices(ctx.events)[2:] == [("A", 4300)]  # B's bad value is refused; its 0.61 stands
    assert "B" in caplog.text and "not strictly inside" in caplog.text
    path.write_text("{not json")
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert len(ctx.events) == 3
    path.unlink()
    await feed.poll_once(ctx)  # type: ignore[arg-type]  # a missing file is a failed read, not a crash
    assert len(ctx.events) == 3


async def test_fair_value_map_points_our_market_at_another_key(tmp_path: Path) -> None:
    (tmp_path / "fv.json").write_text(json.dumps({"model-a": "0.3000"}))
    feed = build({"source": "file", "path": str(tmp_path / "fv.json"), "map": {"A": "model-a"}}, tmp_path)
    ctx = Ctx()
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert prices(ctx.events) == [("A", 3000)]
    event = ctx.events[0]
    assert isinstance(event, FairValueUpdated) and event.source == "fair-value:file"


async def test_fair_value_run_polls_on_the_pipeline_clock(tmp_path: Path) -> None:
    path = tmp_path / "fv.json"
    path.write_text(json.dumps({"A": "0.4000"}))
    feed = build({"source": "file", "path": str(path), "poll_seconds": 5}, tmp_path, ("A",))
    ctx = Ctx(markets=("A",))
    async with anyio.create_task_group() as tg:
        tg.start_soon(feed.run, ctx)
        await anyio.wait_all_tasks_blocked()
        assert prices(ctx.events) == [("A", 4000)]
        path.write_text(json.dumps({"A": "0.4100"}))
        ctx.clock.advance(4.999)
        await anyio.wait_all_tasks_blocked()
        assert len(ctx.events) == 1  # not yet: the next poll is at 5 s
        ctx.clock.advance(0.001)
        await anyio.wait_all_tasks_blocked()
        assert prices(ctx.events) == [("A", 4000), ("A", 4100)]
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("config", "field_name"),
    [({"source": "file"}, "path"), ({"source": "http"}, "url"), ({"source": "market"}, "map")],
)
def test_fair_value_when_the_source_lacks_its_setting_refuses_naming_it(
    config: dict[str, Any], field_name: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=field_name):
        build(config, tmp_path)


@pytest.fixture
def http_prices() -> Iterator[tuple[str, dict[str, Any]]]:
    """A real HTTP server on loopback answering GET with the JSON of a mutable dict."""
    body: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if body.get("_status"):
                self.send_response(int(body["_status"]))
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fv", body
    finally:
        server.shutdown()
        server.server_close()


async def test_fair_value_http_polls_the_url_and_survives_errors(
    http_prices: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, body = http_prices
    feed = build({"source": "http", "url": url}, tmp_path)
    ctx = Ctx()
    body.update({"A": "0.2500", "B": "0.7500"})
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert prices(ctx.events) == [("A", 2500), ("B", 7500)]
    body["_status"] = 503
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    del body["_status"]
    body["A"] = "0.2600"
    await feed.poll_once(ctx)  # type: ignore[arg-type]
    assert prices(ctx.events)[2:] == [("A", 2600)]


async def test_fair_value_market_source_reads_the_other_markets_mid_on_the_simulator() -> None:
    ctx_build = ComponentContext(pipeline="p", markets=("SIM-RAIN-NYC",), clock=LiveClock(),
                                 logger=logging.getLogger("t"))
    venue = KalshiVenue("sim", {"seed": 7, "tier": "basic"}, ctx_build)
    ctx_build.venue = venue
    feed = SPEC.factory({"source": "market", "map": {"SIM-RAIN-NYC": "SIM-FED-DEC"}}, ctx_build)
    await venue.open()
    try:
        book = await venue.get_orderbook("SIM-FED-DEC")
        mid = (book.yes_bids[-1][0] + 10_000 - book.no_bids[-1][0]) // 2
        ctx = Ctx(markets=("SIM-RAIN-NYC",), clock=LiveClock())
        await feed.poll_once(ctx)  # type: ignore[arg-type]
    finally:
        await venue.close()
    assert prices(ctx.events) == [("SIM-RAIN-NYC", mid)]
