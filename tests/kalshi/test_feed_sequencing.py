"""Sequencing of the order book channel through the real WebSocket reader and feed: duplicates and
stragglers (a seq at or below the last applied) are dropped and counted, only a real gap invalidates.

Frames are fed to the session's reader directly (no socket: the order of arrival is the subject).
The property: whatever mix of duplicates, late replays, swaps and skips arrives, the book built from
what the feed publishes equals the book built from the unique in-order stream (up to the newest seq
that arrived), and books are invalidated if and only if a real gap occurred — a frame arrived while
one before it had never arrived. After a gap, the snapshot the client asks for rebuilds the book.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.ws import KalshiWebSocket

from mmframe.api import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    Event,
    OrderBook,
    TestClock,
)

pytestmark = pytest.mark.anyio

MARKETS = ("A", "B")
SID = 1


@dataclass
class Ctx:
    markets: tuple[str, ...] = MARKETS
    clock: TestClock = field(default_factory=TestClock)
    events: list[Event] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Fed:
    """A fresh WebSocket reader and feed, wired as `KalshiSession` and `KalshiFeed.run` wire them
    (without the REST reads), subscribed to the order book of `MARKETS`."""

    ws: KalshiWebSocket
    feed: KalshiFeed
    ctx: Ctx

    def push(self, frame: dict[str, Any]) -> None:
        self.ws._handle(orjson.dumps(frame))

    def book(self, ticker: str = "A") -> OrderBook:
        """The book a runtime builds from what the feed published."""
        book = OrderBook(ticker)
        for event in self.ctx.events:
            if isinstance(event, BookSnapshotReceived | BookDeltaReceived) and event.ticker == ticker:
                book.apply(event)
            elif isinstance(event, BookInvalidated) and event.ticker == ticker:
                book.invalidate()
        return book

    def invalidations(self, ticker: str = "A") -> int:
        return sum(1 for e in self.ctx.events if isinstance(e, BookInvalidated) and e.ticker == ticker)


def _session(key: rsa.RSAPrivateKey) -> KalshiSession:
    return KalshiSession(
        "http://127.0.0.1:9/trade-api/v2", "ws://127.0.0.1:9/trade-api/ws/v2", KalshiCredentials("k", key), TestClock()
    )


async def _subscribed(session: KalshiSession, *, shared: bool = False) -> Fed:
    """A feed on ``session``, reading ``session``'s own WebSocket when ``shared`` (through the
    session's fan-out), else a new reader of its own: a session's HTTP client is slow to build, so
    hypothesis examples share one session and each gets its own reader, sequence state and feed."""
    ctx = Ctx()
    feed = KalshiFeed(session)
    feed._ctx, feed._markets, feed.invalid = ctx, frozenset(MARKETS), set(MARKETS)
    if shared:
        ws = session.ws
        session.on_frames(("orderbook_snapshot", "orderbook_delta"), feed._on_frame)
        session.on_gap(feed._on_gap)
    else:
        ws = KalshiWebSocket(
            session.ws.ws_url, session.signer, ctx.clock, on_frame=feed._on_frame, on_gap=feed._on_gap
        )
    fed = Fed(ws, feed, ctx)
    await ws.subscribe("orderbook_delta", MARKETS)
    fed.push({"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": SID}})
    return fed


def _snapshot(seq: int, yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "orderbook_snapshot",
        "sid": SID,
        "seq": seq,
        "msg": {"market_ticker": "A", "yes_dollars_fp": [list(y) for y in yes], "no_dollars_fp": [list(n) for n in no]},
    }


def _delta(seq: int, side: str, price: str, delta: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": SID,
        "seq": seq,
        "msg": {"market_ticker": "A", "price_dollars": price, "delta_fp": delta, "side": side},
    }


FIRST = _snapshot(1, [("0.4000", "5.00"), ("0.3900", "2.00")], [("0.5500", "4.00")])
RECOVERY = [("0.3500", "7.00")], [("0.6000", "1.00")]

_deltas = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no"]),
        st.sampled_from(["0.3800", "0.3900", "0.4000", "0.4100", "0.4200"]),
        st.sampled_from(["-3.00", "-1.00", "1.00", "2.50", "5.00"]),
    ),
    min_size=1,
    max_size=30,
)
# How each frame after the first snapshot is delivered: half the examples without swaps or skips
# (never a gap, however many duplicates), half with them.
_HARMLESS = ["send", "send", "send", "duplicate", "late"]
_ops = st.one_of(
    st.lists(st.sampled_from(_HARMLESS), min_size=30, max_size=30),
    st.lists(st.sampled_from([*_HARMLESS, "swap", "skip"]), min_size=30, max_size=30),
)


def _delivery(n: int, ops: list[str], late: list[int]) -> list[int]:
    """The seqs in order of arrival: seq 1 (the snapshot), then 2..n as ``ops`` say. ``late`` picks,
    for each ``late`` op, which earlier seq arrives again."""
    out, picks, seq = [1], iter(late), 2
    while seq <= n:
        op = ops[seq - 2]
        if op == "duplicate":
            out += [seq, seq]
        elif op == "late":
            out += [seq, 1 + next(picks, 0) % seq]
        elif op == "swap" and seq < n:
            out += [seq + 1, seq]
            seq += 1
        elif op != "skip":
            out.append(seq)
        seq += 1
    return out


def _expected(arrivals: list[int]) -> tuple[int, int]:
    """(real gaps, stale frames): a frame is a gap when it is beyond the newest seq seen + 1, stale
    when at or below it."""
    gaps = stale = 0
    newest = 0
    for seq in arrivals:
        if seq <= newest:
            stale += 1
        else:
            gaps += seq > newest + 1
            newest = seq
    return gaps, stale


def test_feed_when_frames_duplicated_reordered_or_skipped_book_matches_unique_stream_and_gaps_alone_invalidate(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    loop = asyncio.new_event_loop()
    session = _session(rsa_key)
    try:

        @settings(max_examples=200, deadline=None)
        @given(deltas=_deltas, ops=_ops, late=st.lists(st.integers(0, 1000), max_size=30))
        def any_delivery(deltas: list[tuple[str, str, str]], ops: list[str], late: list[int]) -> None:
            loop.run_until_complete(_check_delivery(session, deltas, ops, late))

        any_delivery()
    finally:
        loop.run_until_complete(session.rest.aclose())
        loop.close()


async def _check_delivery(
    session: KalshiSession, deltas: list[tuple[str, str, str]], ops: list[str], late: list[int]
) -> None:
    stream = [FIRST] + [_delta(seq, *d) for seq, d in enumerate(deltas, start=2)]
    arrivals = _delivery(len(stream), ops, late)
    gaps, stale = _expected(arrivals)
    newest = max(arrivals)

    reference, fed = await _subscribed(session), await _subscribed(session)
    for frame in stream[:newest]:  # the unique in-order stream, as far as it arrived
        reference.push(frame)
    for seq in arrivals:
        fed.push(stream[seq - 1])
    ws = fed.ws
    assert (ws.stats.gaps, ws.stats.duplicates) == (gaps, stale)
    assert reference.ws.stats.gaps == reference.invalidations() == 0
    if not gaps:
        assert fed.invalidations() == 0
        book, want = fed.book(), reference.book()
        assert book.valid and (book.bids(), book.asks()) == (want.bids(), want.asks())
        assert "A" not in fed.feed.invalid
        return
    assert fed.invalidations() == gaps
    first_gap = next(i for i, e in enumerate(fed.ctx.events) if isinstance(e, BookInvalidated))
    # Nothing is applied to a book known to be broken...
    assert not any(isinstance(e, BookDeltaReceived) for e in fed.ctx.events[first_gap:])
    assert not fed.book().valid and "A" in fed.feed.invalid
    # ...until the snapshot asked for arrives (its seq follows the newest; stale copies of it too).
    recovery = _snapshot(newest + 1, *RECOVERY)
    fed.push(recovery)
    fed.push(recovery)
    rebuilt = await _subscribed(session)
    rebuilt.push({**recovery, "seq": 1})
    book, want = fed.book(), rebuilt.book()
    assert book.valid and (book.bids(), book.asks()) == (want.bids(), want.asks())
    assert ws.stats.duplicates == stale + 1


@pytest.fixture
async def session(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[KalshiSession]:
    session = _session(rsa_key)
    yield session
    await session.rest.aclose()


async def test_ws_when_subscribed_reply_arrives_twice_keeps_the_sids_sequence(session: KalshiSession) -> None:
    fed = await _subscribed(session)
    fed.push(FIRST)
    fed.push({"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": SID}})
    fed.push(FIRST)  # still a duplicate: the repeated reply did not restart the sequence
    fed.push(_delta(2, "yes", "0.4000", "1.00"))
    assert fed.ws.stats.duplicates == 1 and fed.invalidations() == 0
    assert [type(e) for e in fed.ctx.events] == [BookSnapshotReceived, BookDeltaReceived]


async def test_ws_when_thousand_duplicates_logs_one_line_and_counts_them_all_in_state(
    session: KalshiSession, caplog: pytest.LogCaptureFixture
) -> None:
    fed = await _subscribed(session, shared=True)
    fed.push(FIRST)
    with caplog.at_level(logging.INFO, logger="mmframe_kalshi.ws"):
        for _ in range(1000):
            fed.push(FIRST)
    assert session.describe()["ws"]["duplicates"] == 1000  # what /state shows under venue.session
    assert session.describe()["ws"]["gaps"] == 0 and fed.invalidations() == 0
    lines = [r.getMessage() for r in caplog.records if "already applied" in r.getMessage()]
    assert lines == ["Kalshi WS orderbook_delta sid 1: seq 1 already applied (last 1); dropped"]


async def test_ws_when_gaps_repeat_logs_them_at_most_once_per_interval_with_a_count(
    session: KalshiSession, caplog: pytest.LogCaptureFixture
) -> None:
    fed = await _subscribed(session)
    with caplog.at_level(logging.WARNING, logger="mmframe_kalshi.ws"):
        for seq in range(1, 40, 2):  # every frame skips one: 19 gaps after the first
            fed.push(_snapshot(seq, [("0.4000", "1.00")], []))
        fed.ctx.clock.advance(10)
        fed.push(_snapshot(43, [("0.4000", "1.00")], []))
    lines = [r.getMessage() for r in caplog.records if "seq gap" in r.getMessage()]
    assert fed.ws.stats.gaps == 20
    assert lines == [
        "Kalshi WS seq gap on orderbook_delta sid 1: expected 2, got 3",
        "Kalshi WS seq gap on orderbook_delta sid 1: expected 40, got 43 (18 more since the last such line)",
    ]
