"""KalshiFeed's frame handling through a real session's WebSocket reader (frames fed in directly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.session import KalshiSession

from mmframe.api import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    Event,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    TestClock,
    TickGrid,
    TradeReported,
)

pytestmark = pytest.mark.anyio


@dataclass
class Ctx:
    markets: tuple[str, ...] = ("A", "B")
    clock: TestClock = field(default_factory=TestClock)
    events: list[Event] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
async def fed(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[tuple[KalshiSession, KalshiFeed, Ctx]]:
    ctx = Ctx()
    session = KalshiSession(
        "http://127.0.0.1:9/trade-api/v2",
        "ws://127.0.0.1:9/trade-api/ws/v2",
        KalshiCredentials("k", rsa_key),
        ctx.clock,
    )
    feed = KalshiFeed(session)
    # What run() does before it subscribes, without its REST reads:
    feed._ctx, feed._markets, feed.invalid = ctx, frozenset(ctx.markets), set(ctx.markets)
    session.on_frames(
        ("orderbook_snapshot", "orderbook_delta", "ticker", "trade", "market_lifecycle_v2"), feed._on_frame
    )
    session.on_gap(feed._on_gap)
    await session.ws.subscribe("orderbook_delta", ctx.markets)
    push(session, {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}})
    yield session, feed, ctx
    await session.rest.aclose()


def push(session: KalshiSession, frame: dict[str, Any]) -> None:
    session.ws._handle(orjson.dumps(frame))


def snap(seq: int, ticker: str) -> dict[str, Any]:
    return {
        "type": "orderbook_snapshot",
        "sid": 1,
        "seq": seq,
        "msg": {
            "market_ticker": ticker,
            "yes_dollars_fp": [["0.4000", "2.00"]],
            "no_dollars_fp": [["0.5500", "1.00"]],
        },
    }


def delta(seq: int, ticker: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": seq,
        "msg": {"market_ticker": ticker, "price_dollars": "0.4100", "delta_fp": "3.00", "side": "yes"},
    }


async def test_feed_when_delta_before_snapshot_drops_it(fed: Any) -> None:
    session, feed, ctx = fed
    push(session, delta(1, "A"))
    push(session, snap(2, "A"))
    push(session, delta(3, "A"))
    kinds = [type(e) for e in ctx.events]
    assert kinds == [BookSnapshotReceived, BookDeltaReceived]
    assert feed.invalid == {"B"}


async def test_feed_when_seq_gap_invalidates_all_subscription_markets_until_snapshots(fed: Any) -> None:
    session, feed, ctx = fed
    push(session, snap(1, "A"))
    push(session, snap(2, "B"))
    push(session, delta(4, "A"))  # gap: 3 missing
    invalidated = [e for e in ctx.events if isinstance(e, BookInvalidated)]
    assert {e.ticker for e in invalidated} == {"A", "B"}
    push(session, delta(5, "A"))  # still invalid: dropped
    push(session, snap(6, "A"))
    push(session, delta(7, "A"))
    tail = [type(e) for e in ctx.events[len(ctx.events) - 2 :]]
    assert tail == [BookSnapshotReceived, BookDeltaReceived]
    assert feed.invalid == {"B"}


async def test_feed_when_malformed_frame_counts_and_keeps_going(fed: Any) -> None:
    session, feed, ctx = fed
    push(session, snap(1, "A"))
    bad = delta(2, "A")
    bad["msg"]["price_dollars"] = "0.41234"
    push(session, bad)
    push(session, delta(3, "A"))
    assert feed.malformed == 1
    assert [type(e) for e in ctx.events] == [BookSnapshotReceived, BookDeltaReceived]


async def test_feed_when_other_market_or_trade_filters_and_publishes(fed: Any) -> None:
    session, _, ctx = fed
    trade = {
        "trade_id": "t",
        "market_ticker": "A",
        "yes_price_dollars": "0.4200",
        "count_fp": "1.00",
        "taker_book_side": "bid",
    }
    push(session, {"type": "trade", "sid": 9, "seq": 1, "msg": trade})
    push(session, {"type": "trade", "sid": 9, "seq": 2, "msg": {**trade, "market_ticker": "Z"}})
    assert next(e for e in ctx.events if isinstance(e, TradeReported)).price == 4200
    assert len(ctx.events) == 1


async def test_feed_when_lifecycle_changes_grid_updates_info(fed: Any) -> None:
    session, feed, ctx = fed
    feed.info["A"] = MarketInfo(ticker="A", grid=TickGrid.linear_cent())
    msg = {"event_type": "deactivated", "market_ticker": "A"}
    push(session, {"type": "market_lifecycle_v2", "sid": 8, "seq": 1, "msg": msg})
    assert isinstance(ctx.events[0], MarketStatusChanged) and ctx.events[0].status == "inactive"
    assert isinstance(ctx.events[1], MarketInfoReceived) and feed.info["A"].status == "inactive"
