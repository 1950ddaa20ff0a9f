"""`KalshiFeed`: market data for a pipeline's markets, as mmframe market events.

On start it reads each market (and its series' fee type, and its event's fee override) over REST
and publishes `MarketInfoReceived` and `MarketStatusChanged`; then it subscribes the shared
WebSocket to ``orderbook_delta`` (with ``use_yes_price`` as the connection declares it, see
`parsing`), ``ticker``, ``trade`` and ``market_lifecycle_v2`` and publishes book snapshots and
deltas, trades and lifecycle changes. An ``event_fee_update`` (on the lifecycle channel) publishes
a `MarketInfoReceived` with the new fee terms for each of the event's markets, so the runtime's fee
model follows a fee change while it runs. A sequence gap or a disconnect publishes
`BookInvalidated` for the affected markets, and their deltas are dropped until a fresh snapshot
arrives. Malformed frames are logged and counted, never fatal. When the WebSocket reader has
applied every frame it received, the feed tells the runtime (`BurstContext.burst_done`), which
requotes the markets the burst changed right then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mmframe.api import (
    BookInvalidated,
    BurstContext,
    FeedContext,
    MarketInfo,
    MarketInfoReceived,
    MarketStatusChanged,
    RateLimitedLog,
    VenueStatusChanged,
)
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import KalshiError, MalformedMessageError
from mmframe_kalshi.fee_terms import FeeTerms
from mmframe_kalshi.models import Event, EventFees, Market, Series
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.ws import ORDERBOOK

logger = logging.getLogger(__name__)

MARKET_CHANNELS = (ORDERBOOK, "ticker", "trade", "market_lifecycle_v2")
_MARKET_FRAMES = (
    "orderbook_snapshot",
    "orderbook_delta",
    "ticker",
    "trade",
    "market_lifecycle_v2",
    "event_fee_update",
)
_TICKERS_PER_REQUEST = 100


class KalshiFeed:
    """Implements `mmframe.api.Feed` over a `KalshiSession`."""

    def __init__(self, session: KalshiSession, *, load_market_info: bool = True) -> None:
        self.session = session
        self.load_market_info = load_market_info
        self.info: dict[str, MarketInfo] = {}
        self.tickers: dict[str, parsing.Ticker] = {}
        self.invalid: set[str] = set()
        self.fees = FeeTerms()
        self.malformed = 0
        self._repeats = RateLimitedLog(logger, session.clock.monotonic_ns)
        # The convention this connection subscribes the order book with (fixed for its lifetime).
        self._yes_prices = session.ws.use_yes_price
        self._ctx: FeedContext | None = None
        self._markets: frozenset[str] = frozenset()

    async def run(self, ctx: FeedContext) -> None:
        """Publish events for ``ctx.markets`` until cancelled."""
        self._ctx = ctx
        self._markets = frozenset(ctx.markets)
        # Books are unusable until their first snapshot.
        self.invalid = set(self._markets)
        remove = self.session.on_frames(_MARKET_FRAMES, self._on_frame)
        # The reader says when a burst of frames is applied: the runtime requotes then, in the
        # reader's task. One call covers the whole connection's frames, the executor's account
        # frames too (they are published into the same runtime).
        remove_burst = self.session.on_burst_end(ctx.burst_done) if isinstance(ctx, BurstContext) else None
        self.session.on_gap(self._on_gap)
        self.session.on_status(self._on_status)
        try:
            if self.load_market_info:
                await self._load_markets(ctx.markets)
            await self.session.subscribe(MARKET_CHANNELS, ctx.markets)
            # Runs until cancelled, or until the venue rejects our key: then the run must stop.
            raise await self.session.wait_key_rejected()
        finally:
            remove()
            if remove_burst is not None:
                remove_burst()

    async def add_markets(self, tickers: Sequence[str]) -> None:
        """Publish events for ``tickers`` too: their metadata, then their books (invalid until the
        snapshot the new subscription sends)."""
        added = frozenset(tickers) - self._markets
        if not added:
            return
        self._markets = self._markets | added
        self.invalid |= added
        if self.load_market_info:
            await self._load_markets([t for t in tickers if t in added])
        await self.session.subscribe(MARKET_CHANNELS, self._markets)

    def remove_markets(self, tickers: Sequence[str]) -> None:
        """Publish nothing more for ``tickers`` (their frames are dropped from now on)."""
        gone = frozenset(tickers)
        self._markets = self._markets - gone
        self.invalid -= gone

    # --- REST metadata ----------------------------------------------------------------------

    async def _load_markets(self, tickers: Sequence[str]) -> None:
        ctx = self._require_ctx()
        markets: list[Market] = []
        for start in range(0, len(tickers), _TICKERS_PER_REQUEST):
            chunk = tickers[start : start + _TICKERS_PER_REQUEST]
            markets.extend(await self.session.rest.list_markets(tickers=chunk, limit=len(chunk)))
        found = {m.ticker for m in markets}
        for missing in sorted(set(tickers) - found):
            logger.error("market %s is not known to the venue", missing)
        series_of_event: dict[str, str] = {}
        series: dict[str, Series | None] = {}
        for market in markets:
            event_ticker = market.event_ticker
            if event_ticker and event_ticker not in series_of_event:
                event = await self._event(market)
                series_of_event[event_ticker] = event.series_ticker if event else market.series_guess
                if event is not None:
                    self.fees.set_override(event.fees)
            key = series_of_event.get(event_ticker, "")
            if key and key not in series:
                series[key] = await self._series(key)
        now = ctx.clock.now_ns()
        for market in markets:
            fees = series.get(series_of_event.get(market.event_ticker, ""))
            if fees is not None and market.event_ticker:
                self.fees.set_series(market.event_ticker, fees.fee_type, fees.fee_multiplier_bps)
            listed = parsing.market_info(market, fees, now)
            listed.info = self.fees.apply(listed.info)
            self.info[market.ticker] = listed.info
            ctx.publish(listed)
            ctx.publish(
                MarketStatusChanged(
                    ts_ns=now, ticker=market.ticker, status=market.status, close_ts_ns=market.close_ts_ns
                )
            )

    async def _event(self, market: Market) -> Event | None:
        try:
            return await self.session.rest.get_event(market.event_ticker)
        except KalshiError as exc:
            logger.warning(
                "event %s unreadable (%s); guessing its series, no fee override known", market.event_ticker, exc
            )
            return None

    async def _series(self, series_ticker: str) -> Series | None:
        try:
            return await self.session.rest.get_series(series_ticker)
        except KalshiError as exc:
            logger.warning("series %s unreadable (%s); assuming fee type quadratic", series_ticker, exc)
            return None

    # --- frames -----------------------------------------------------------------------------

    def _on_frame(self, frame: Frame, received_ns: int) -> None:
        try:
            self._handle(frame, received_ns)
        except MalformedMessageError as exc:
            self.malformed += 1
            self._repeats.log(("malformed", frame.type), "malformed Kalshi %s frame dropped: %s", frame.type, exc)

    def _handle(self, frame: Frame, now: int) -> None:
        ctx = self._require_ctx()
        kind = frame.type
        if kind == "orderbook_delta":
            delta = parsing.book_delta(frame.msg, now, yes_prices=self._yes_prices)
            if delta.ticker in self._markets and delta.ticker not in self.invalid:
                ctx.publish(delta)
        elif kind == "orderbook_snapshot":
            snapshot = parsing.book_snapshot(frame.msg, now, yes_prices=self._yes_prices)
            if snapshot.ticker in self._markets:
                self.invalid.discard(snapshot.ticker)
                ctx.publish(snapshot)
        elif kind == "trade":
            trade = parsing.trade(frame.msg, now)
            if trade.ticker in self._markets:
                ctx.publish(trade)
        elif kind == "ticker":
            tick = parsing.ticker(frame.msg, now)
            if tick.ticker in self._markets:
                self.tickers[tick.ticker] = tick
        elif kind == "market_lifecycle_v2":
            ticker = frame.msg.get("market_ticker") if isinstance(frame.msg, dict) else None
            if ticker not in self._markets:
                return
            for event in parsing.lifecycle(frame.msg, now, self.info.get(ticker)):
                if isinstance(event, MarketInfoReceived):
                    self.info[ticker] = event.info
                ctx.publish(event)
        elif kind == "event_fee_update":
            self._fee_update(parsing.event_fee_update(frame.msg), now)

    def _fee_update(self, update: EventFees, now: int) -> None:
        """Apply an event's new fee override to each of its markets we follow."""
        ctx = self._require_ctx()
        self.fees.set_override(update)
        for ticker, info in sorted(self.info.items()):
            if info.event_ticker != update.event_ticker or ticker not in self._markets:
                continue
            new = self.fees.apply(info)
            if new is not info:
                logger.info(
                    "fee terms of %s now %s x%s (event %s override)",
                    ticker,
                    new.fee_type,
                    new.fee_multiplier_bps / 10_000,
                    update.event_ticker,
                )
                self.info[ticker] = new
                ctx.publish(MarketInfoReceived(ts_ns=now, ticker=ticker, info=new))

    def _on_gap(self, channel: str, markets: tuple[str, ...], reason: str) -> None:
        if channel != ORDERBOOK or self._ctx is None:
            return
        now = self._ctx.clock.now_ns()
        for ticker in markets:
            if ticker in self._markets:
                self.invalid.add(ticker)
                self._ctx.publish(BookInvalidated(ts_ns=now, ticker=ticker, reason=reason))

    def _on_status(self, status: str, detail: str) -> None:
        if self._ctx is not None:
            self._ctx.publish(
                VenueStatusChanged(ts_ns=self._ctx.clock.now_ns(), status=status, detail=detail)
            )

    def _require_ctx(self) -> FeedContext:
        if self._ctx is None:
            raise RuntimeError("KalshiFeed.run has not started")
        return self._ctx

    def describe(self) -> dict[str, Any]:
        return {
            "markets": len(self._markets),
            "invalid_books": sorted(self.invalid),
            "malformed": self.malformed,
        }
