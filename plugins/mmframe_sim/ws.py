"""Kalshi's WebSocket at /trade-api/ws/v2 (API.md §6): commands, channels, sequencing and fan-out.

The engine's events arrive synchronously (`WsHub.on_events`); each message body is serialised once
with orjson and wrapped per subscription (``sid``/``seq`` differ) as a text frame. Every connection
has a bounded queue drained by its own sender task, so a slow client never stalls the others; a client
whose queue overflows gets error 25 (buffer overflow) and is disconnected.

`KalshiWsProtocol` (a small extension of uvicorn's sans-I/O WebSocket protocol) pings every 10 s with
payload ``heartbeat`` like Kalshi and accepts a batch of frames in one ASGI message so a burst goes out
in one socket write.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import orjson
from starlette.types import Receive, Scope, Send

from mmframe_sim import wire
from mmframe_sim.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, AuthError
from mmframe_sim.engine import (
    BookLevelChanged,
    EventFeeChanged,
    ExchangeError,
    FillExecuted,
    MarketLifecycleChanged,
    OrderGroupUpdated,
    OrderUpdated,
    PositionUpdated,
    SimEvent,
    TickerChanged,
    TradeExecuted,
)
from mmframe_sim.faults import FaultState
from mmframe_sim.host import SimHost

_log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
SEND_BATCH = "mmframe.ws.send_batch"
"""ASGI extension: ``{"type": SEND_BATCH, "texts": [...]}`` writes several text frames at once."""
ABORT = "mmframe.ws.abort"
"""ASGI extension: ``{"type": ABORT}`` drops the TCP connection without a close frame (fault injection)."""

DEFAULT_QUEUE_LIMIT = 50_000
DEFAULT_SEND_BUFFER = 256 * 1024
CLOSE_GRACE_SECONDS = 5.0
_MAX_BATCH = 1024

CHANNELS = (
    "orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders",
    "order_group_updates", "market_lifecycle_v2",
)
SEQUENCED = frozenset({"orderbook_delta", "trade", "market_lifecycle_v2", "order_group_updates"})
PRIVATE = frozenset({"fill", "market_positions", "user_orders", "order_group_updates"})
# Channels whose market filter is ignored (they cover everything).
UNFILTERED = frozenset({"market_lifecycle_v2", "order_group_updates"})

ERRORS = {
    1: "Unable to process message", 2: "Params required", 3: "Channels required",
    4: "Subscription IDs required", 5: "Unknown command", 6: "Already subscribed",
    7: "Unknown subscription ID", 8: "Unknown channel name", 9: "Authentication required",
    10: "Channel error", 11: "Invalid parameter", 12: "Exactly one subscription ID is required",
    13: "Unsupported action", 14: "Market Ticker required", 15: "Action required", 16: "Market not found",
    17: "Internal error", 18: "Command timeout", 25: "Buffer overflow", 27: "Too many requests",
}


class CommandError(Exception):
    """A command failed with one of Kalshi's WebSocket error codes."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        super().__init__(detail or ERRORS[code])
        self.code = code
        self.detail = detail


def market_id(ticker: str) -> str:
    """A stable UUID for a market (Kalshi sends ``market_id`` beside ``market_ticker``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mmframe-sim:" + ticker))


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class Subscription:
    """One channel subscription of one connection: ``sid``, its market filter and its ``seq``."""

    __slots__ = ("channel", "seq", "session", "sid", "tickers", "use_yes_price")

    def __init__(self, session: WsSession, sid: int, channel: str, tickers: set[str] | None, use_yes_price: bool) -> None:
        self.session = session
        self.sid = sid
        self.channel = channel
        self.tickers = tickers
        self.seq = 0
        self.use_yes_price = use_yes_price

    def frame(self, msg_type: str, body: str, faults: FaultState) -> None:
        """Queue ``{"type","sid","seq"?,"msg"}`` around a pre-serialised body (applying injected faults)."""
        session = self.session
        if session.closing is not None:
            return
        if self.channel in SEQUENCED:
            self.seq += 1
            if faults.skip_seq_remaining > 0:
                faults.skip_seq_remaining -= 1
                self.seq += 1
            text = f'{{"type":"{msg_type}","sid":{self.sid},"seq":{self.seq},"msg":{body}}}'
        else:
            text = f'{{"type":"{msg_type}","sid":{self.sid},"msg":{body}}}'
        queue = session.queue
        if faults.ws_faults_active or len(queue) >= session.queue_limit or session._held is not None:
            session.push(text, faults)
            return
        queue.append(text)  # the fast path of `push`
        if len(queue) == 1:
            session._wake.set()


class WsSession:
    """One authenticated connection: its subscriptions and its bounded outgoing queue."""

    def __init__(self, hub: WsHub, user_id: str, queue_limit: int) -> None:
        self.hub = hub
        self.user_id = user_id
        self.queue: deque[str] = deque()
        self.queue_limit = queue_limit
        self.subs: dict[int, Subscription] = {}
        self.next_sid = 1
        self.closing: int | None = None  # close code once the session must end
        self.abort = False
        self._wake = anyio.Event()
        self._held: str | None = None
        self._send_scope: anyio.CancelScope | None = None

    def push(self, text: str, faults: FaultState | None = None) -> None:
        if self.closing is not None:
            return
        if len(self.queue) >= self.queue_limit:
            self.queue.clear()
            self.queue.append(_dumps({"type": "error", "msg": {"code": 25, "msg": ERRORS[25]}}))
            self.close(1008)
            return
        if faults is not None:
            if self._held is not None:
                self.queue.append(text)
                text, self._held = self._held, None
            elif faults.reorder_remaining > 0:
                faults.reorder_remaining -= 1
                self._held = text
                return
            if faults.duplicate_remaining > 0:
                faults.duplicate_remaining -= 1
                self.queue.append(text)
        self.queue.append(text)
        self._wake.set()

    def reply(self, obj: dict[str, Any]) -> None:
        self.push(_dumps(obj))

    def error(self, cmd_id: int | None, code: int, detail: str | None = None) -> None:
        msg: dict[str, Any] = {"code": code, "msg": detail or ERRORS.get(code, "error")}
        body: dict[str, Any] = {"type": "error", "msg": msg}
        if cmd_id:
            body = {"id": cmd_id, **body}
        self.reply(body)

    def close(self, code: int, *, abort: bool = False) -> None:
        """End the session: stop fan-out now, send what is queued (at most `CLOSE_GRACE_SECONDS` more
        of waiting on a stalled socket), then close; ``abort`` drops the socket without a close frame."""
        if self.closing is not None:
            return
        self.closing = code
        self.abort = abort
        self.hub.forget(self)
        if self._send_scope is not None:
            self._send_scope.deadline = anyio.current_time() + (0 if abort else CLOSE_GRACE_SECONDS)
        self._wake.set()

    async def sender(self, send: Send, batch: bool) -> None:
        """Drain the queue to the socket until the session closes (or the peer goes away)."""
        with contextlib.suppress(OSError):  # uvicorn's ClientDisconnected: the peer is gone
            if await self._drain(send, batch) or not batch:
                await send({"type": "websocket.close", "code": self.closing or 1000})
            else:
                await send({"type": ABORT})

    async def _drain(self, send: Send, batch: bool) -> bool:
        """Send until closed; False when the socket must be dropped (abort, or stalled past the grace)."""
        while True:
            if self.abort:
                return False
            if not self.queue:
                if self.closing is not None:
                    return True
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            if batch:
                if len(self.queue) <= _MAX_BATCH:
                    message: dict[str, Any] = {"type": SEND_BATCH, "texts": list(self.queue)}
                    self.queue.clear()
                else:
                    message = {"type": SEND_BATCH, "texts": [self.queue.popleft() for _ in range(_MAX_BATCH)]}
            else:
                message = {"type": "websocket.send", "text": self.queue.popleft()}
            with anyio.CancelScope() as scope:
                if self.closing is not None:
                    scope.deadline = anyio.current_time() + CLOSE_GRACE_SECONDS
                self._send_scope = scope
                await send(message)
            self._send_scope = None
            if scope.cancelled_caught:
                return False


class WsHub:
    """All connections and the subscription indexes; turns engine events into channel messages."""

    def __init__(self, sim: SimHost, queue_limit: int = DEFAULT_QUEUE_LIMIT) -> None:
        self.sim = sim
        self.queue_limit = queue_limit
        self.sessions: set[WsSession] = set()
        # channel -> ticker -> subscriptions; channel -> subscriptions to every market
        self._by_ticker: dict[str, dict[str, set[Subscription]]] = {c: {} for c in CHANNELS}
        self._all: dict[str, set[Subscription]] = {c: set() for c in CHANNELS}
        # user_id -> private channel -> subscriptions
        self._by_user: dict[str, dict[str, set[Subscription]]] = {}
        self._market_ids: dict[str, str] = {}

    # --- connections -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI WebSocket endpoint."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            key = self.sim.verifier.verify(
                headers.get(KEY_HEADER), headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), "GET", WS_PATH
            )
        except AuthError as exc:
            await _deny(scope, send, 401, orjson.dumps(exc.body))
            return
        await send({"type": "websocket.accept"})
        batch = SEND_BATCH in scope.get("extensions", {})
        session = WsSession(self, key.account_id, self.queue_limit)
        self.sessions.add(session)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._reader, session, receive, tg.cancel_scope)
                await session.sender(send, batch)
                tg.cancel_scope.cancel()
        finally:
            self._drop(session)

    async def _reader(self, session: WsSession, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                session.closing = 1000
                session.queue.clear()
                scope.cancel()
                return
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            if text is not None:
                self.handle_command(session, text)

    def forget(self, session: WsSession) -> None:
        """A session is closing: no longer count it (its subscriptions ignore messages from now on and
        leave the indexes when its connection ends; unindexing here could run inside a fan-out loop)."""
        self.sessions.discard(session)

    def _drop(self, session: WsSession) -> None:
        self.sessions.discard(session)
        for sub in list(session.subs.values()):
            self._unindex(sub)
        session.subs.clear()

    def drop_all(self, *, user_id: str | None = None, code: int = 1011, abort: bool = True) -> int:
        """Fault injection: end every connection (of one user); returns how many."""
        dropped = 0
        for session in list(self.sessions):
            if user_id is None or session.user_id == user_id:
                if abort:
                    session.queue.clear()
                session.close(code, abort=abort)
                dropped += 1
        return dropped

    # --- commands ----------------------------------------------------------------------------

    def handle_command(self, session: WsSession, text: str) -> None:
        try:
            command = orjson.loads(text)
        except orjson.JSONDecodeError:
            session.error(None, 1)
            return
        if not isinstance(command, dict):
            session.error(None, 1)
            return
        cmd_id = command.get("id") if isinstance(command.get("id"), int) else None
        try:
            cmd = command.get("cmd")
            params = command.get("params")
            if cmd == "subscribe":
                self._subscribe(session, cmd_id, params)
            elif cmd == "unsubscribe":
                self._unsubscribe(session, cmd_id, params)
            elif cmd == "update_subscription":
                self._update(session, cmd_id, params)
            elif cmd == "list_subscriptions":
                session.reply({
                    "id": cmd_id or 0, "type": "ok",
                    "msg": [{"channel": s.channel, "sid": s.sid} for s in session.subs.values()],
                })
            else:
                raise CommandError(5)
        except CommandError as exc:
            session.error(cmd_id, exc.code, exc.detail)
        except Exception:  # a bug must not kill the connection silently: answer like Kalshi, log it
            _log.exception("WebSocket command failed: %.200s", text)
            session.error(cmd_id, 17)

    def _tickers_param(self, params: dict[str, Any]) -> list[str] | None:
        tickers: list[str] = []
        for name in ("market_ticker", "market_tickers"):
            value = params.get(name)
            if value is None:
                continue
            if isinstance(value, str):
                tickers.append(value)
            elif isinstance(value, list) and all(isinstance(t, str) for t in value):
                tickers.extend(value)
            else:
                raise CommandError(11, f"{name} must be a string or a list of strings")
        return tickers or None

    def _check_markets(self, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            try:
                self.sim.exchange.market(ticker)
            except ExchangeError:
                raise CommandError(16, f"Market not found: {ticker}") from None

    def _subscribe(self, session: WsSession, cmd_id: int | None, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        channels = params.get("channels")
        if not channels or not isinstance(channels, list):
            raise CommandError(3)
        for channel in channels:
            if channel not in CHANNELS:
                raise CommandError(8, f"Unknown channel name: {channel}")
        tickers = self._tickers_param(params)
        if "orderbook_delta" in channels and not tickers:
            raise CommandError(14)
        if tickers:
            self._check_markets(tickers)
        use_yes_price = params.get("use_yes_price", False)
        if not isinstance(use_yes_price, bool):
            raise CommandError(11, "use_yes_price must be a boolean")
        for channel in channels:
            for existing in session.subs.values():
                overlap = (existing.tickers is None or tickers is None or channel in UNFILTERED
                           or not existing.tickers.isdisjoint(tickers))
                if existing.channel == channel and overlap:
                    raise CommandError(6, f"Already subscribed to {channel} (sid {existing.sid})")
        for channel in channels:
            sub = Subscription(
                session, session.next_sid, channel,
                None if (tickers is None or channel in UNFILTERED) else set(tickers), use_yes_price,
            )
            session.next_sid += 1
            session.subs[sub.sid] = sub
            self._index(sub)
            session.reply({"id": cmd_id or 0, "type": "subscribed", "msg": {"channel": channel, "sid": sub.sid}})
            if channel == "orderbook_delta" and sub.tickers:
                for ticker in tickers or ():
                    self._send_snapshot(sub, ticker)
            elif channel == "ticker" and params.get("send_initial_snapshot"):
                for ticker in tickers or [m.ticker for m in self.sim.exchange.markets()]:
                    self._send_ticker_now(sub, ticker)

    def _unsubscribe(self, session: WsSession, cmd_id: int | None, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        sids = params.get("sids")
        if not sids or not isinstance(sids, list):
            raise CommandError(4)
        for sid in sids:
            sub = session.subs.get(sid) if isinstance(sid, int) else None
            if sub is None:
                raise CommandError(7)
        for sid in sids:
            sub = session.subs.pop(sid)
            self._unindex(sub)
            session.reply({"id": cmd_id or 0, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})

    def _update(self, session: WsSession, cmd_id: int | None, params: Any) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        sid = params.get("sid")
        sids = params.get("sids")
        if sid is None and isinstance(sids, list):
            if len(sids) != 1:
                raise CommandError(12)
            sid = sids[0]
        if not isinstance(sid, int):
            raise CommandError(12)
        action = params.get("action")
        if not action:
            raise CommandError(15)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13)
        sub = session.subs.get(sid)
        if sub is None:
            raise CommandError(7)
        tickers = self._tickers_param(params)
        if not tickers:
            raise CommandError(14)
        self._check_markets(tickers)
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise CommandError(13, "get_snapshot is only supported on orderbook_delta")
            for ticker in tickers:
                self._send_snapshot(sub, ticker)
            session.reply({
                "id": cmd_id or 0, "sid": sid, "seq": sub.seq, "type": "ok",
                "msg": {"market_tickers": sorted(sub.tickers or ())},
            })
            return
        if sub.channel in UNFILTERED:
            raise CommandError(13, f"{sub.channel} has no market filter")
        self._unindex(sub)
        current = set(sub.tickers or ())
        if action == "add_markets":
            added = [t for t in tickers if t not in current]
            sub.tickers = current | set(tickers)
        else:
            added = []
            sub.tickers = current - set(tickers)
        self._index(sub)
        session.reply({
            "id": cmd_id or 0, "sid": sid, "seq": sub.seq, "type": "ok",
            "msg": {"market_tickers": sorted(sub.tickers)},
        })
        if sub.channel == "orderbook_delta":
            for ticker in added:
                self._send_snapshot(sub, ticker)

    # --- indexes -------------------------------------------------------------------------------

    def _index(self, sub: Subscription) -> None:
        if sub.channel in PRIVATE:  # private channels are looked up by owner, then filtered by market
            by_channel = self._by_user.setdefault(sub.session.user_id, {})
            by_channel.setdefault(sub.channel, set()).add(sub)
        elif sub.tickers is None:
            self._all[sub.channel].add(sub)
        else:
            by_ticker = self._by_ticker[sub.channel]
            for ticker in sub.tickers:
                by_ticker.setdefault(ticker, set()).add(sub)

    def _unindex(self, sub: Subscription) -> None:
        if sub.channel in PRIVATE:
            by_channel = self._by_user.get(sub.session.user_id, {})
            subs = by_channel.get(sub.channel)
            if subs is not None:
                subs.discard(sub)
            return
        self._all[sub.channel].discard(sub)
        by_ticker = self._by_ticker[sub.channel]
        for ticker in sub.tickers or ():
            subs = by_ticker.get(ticker)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del by_ticker[ticker]

    def _targets(self, channel: str, ticker: str | None) -> Iterable[Subscription]:
        everyone = self._all[channel]
        by_ticker = self._by_ticker[channel].get(ticker) if ticker is not None else None
        if not by_ticker:
            return everyone
        if not everyone:
            return by_ticker
        return [*everyone, *by_ticker]

    def _market_id(self, ticker: str) -> str:
        found = self._market_ids.get(ticker)
        if found is None:
            found = self._market_ids[ticker] = market_id(ticker)
        return found

    # --- snapshots -----------------------------------------------------------------------------

    def _send_snapshot(self, sub: Subscription, ticker: str) -> None:
        book = self.sim.exchange.orderbook(ticker)
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": self._market_id(ticker)}
        if book.yes:
            msg["yes_dollars_fp"] = [[wire.dollars4(p), wire.count_str(c)] for p, c in book.yes]
        if book.no:
            no = book.no
            if sub.use_yes_price:
                no = tuple(reversed([(10_000 - p, c) for p, c in no]))
            msg["no_dollars_fp"] = [[wire.dollars4(p), wire.count_str(c)] for p, c in no]
        sub.frame("orderbook_snapshot", _dumps(msg), self.sim.faults)

    def _send_ticker_now(self, sub: Subscription, ticker: str) -> None:
        m = self.sim.exchange.market(ticker)
        event = TickerChanged(
            ts_ns=self.sim.exchange.now_ns(), ticker=ticker, last_price=m.last_price, yes_bid=m.yes_bid,
            yes_ask=m.yes_ask, yes_bid_size=m.yes_bid_size, yes_ask_size=m.yes_ask_size,
            last_trade_size=m.last_trade_size, volume=m.volume, open_interest=m.open_interest,
            dollar_volume=m.dollar_volume, dollar_open_interest=0,
        )
        sub.frame("ticker", self._ticker_body(event), self.sim.faults)

    # --- engine events -> messages ---------------------------------------------------------------

    def on_events(self, events: Sequence[SimEvent]) -> None:
        """The engine's event callback: fan every event out to the subscriptions that want it.

        Never raises into the engine (its operation has already happened); a failure is logged.
        """
        if not self.sessions:
            return
        try:
            self._fan_out(events)
        except Exception:
            _log.exception("WebSocket fan-out failed")

    def _fan_out(self, events: Sequence[SimEvent]) -> None:
        faults = self.sim.faults
        for event in events:
            if isinstance(event, BookLevelChanged):
                self._on_book(event, faults)
            elif isinstance(event, TickerChanged):
                subs = self._targets("ticker", event.ticker)
                if subs:
                    body = self._ticker_body(event)
                    for sub in subs:
                        sub.frame("ticker", body, faults)
            elif isinstance(event, TradeExecuted):
                subs = self._targets("trade", event.trade.ticker)
                if subs:
                    body = _dumps(self._trade_body(event))
                    for sub in subs:
                        sub.frame("trade", body, faults)
            elif isinstance(event, FillExecuted):
                self._private("fill", event.fill.user_id, event.fill.ticker, "fill",
                              lambda e=event: wire.ws_fill_json(e.fill), faults)
            elif isinstance(event, PositionUpdated):
                self._private("market_positions", event.position.user_id, event.position.ticker, "market_position",
                              lambda e=event: wire.ws_position_json(e.position), faults)
            elif isinstance(event, OrderUpdated):
                self._private("user_orders", event.order.user_id, event.order.ticker, "user_order",
                              lambda e=event: wire.user_order_json(e.order), faults)
            elif isinstance(event, OrderGroupUpdated):
                self._private("order_group_updates", event.user_id, None, "order_group_updates",
                              lambda e=event: self._group_body(e), faults)
            elif isinstance(event, MarketLifecycleChanged):
                subs = self._targets("market_lifecycle_v2", None)
                if subs:
                    body = _dumps({"event_type": event.event_type, "market_ticker": event.ticker, **event.fields})
                    for sub in subs:
                        sub.frame("market_lifecycle_v2", body, faults)
            elif isinstance(event, EventFeeChanged):
                # A second message type on the lifecycle channel (asyncapi eventFeeUpdate).
                subs = self._targets("market_lifecycle_v2", None)
                if subs:
                    body = _dumps(wire.event_fee_update_json(
                        event.event_ticker, event.fee_type_override, event.fee_multiplier_override_bps
                    ))
                    for sub in subs:
                        sub.frame("event_fee_update", body, faults)

    def _on_book(self, event: BookLevelChanged, faults: FaultState) -> None:
        if event.delta == 0:  # nothing changed on the wire
            return
        subs = self._targets("orderbook_delta", event.ticker)
        if not subs:
            return
        msg: dict[str, Any] = {
            "market_ticker": event.ticker,
            "market_id": self._market_id(event.ticker),
            "price_dollars": wire.dollars4(event.price),
            "delta_fp": wire.count_str(event.delta),
            "side": event.leg,
            "ts_ms": event.ts_ns // 1_000_000,
        }
        public = _dumps(msg)
        own: str | None = None
        flipped: dict[bool, str] = {}
        for sub in subs:
            mine = event.user_id is not None and sub.session.user_id == event.user_id
            if sub.use_yes_price and event.leg == "no":
                body = flipped.get(mine)
                if body is None:
                    variant = dict(msg, price_dollars=wire.dollars4(10_000 - event.price))
                    if mine and event.client_order_id:
                        variant.update(client_order_id=event.client_order_id, subaccount=event.subaccount)
                    body = flipped[mine] = _dumps(variant)
            elif mine and event.client_order_id:
                if own is None:
                    own = _dumps(dict(msg, client_order_id=event.client_order_id, subaccount=event.subaccount))
                body = own
            else:
                body = public
            sub.frame("orderbook_delta", body, faults)

    def _private(self, channel: str, user_id: str, ticker: str | None, msg_type: str, build: Any,
                 faults: FaultState) -> None:
        subs = self._by_user.get(user_id, {}).get(channel)
        if not subs:
            return
        body: str | None = None
        for sub in subs:
            if ticker is not None and sub.tickers is not None and ticker not in sub.tickers:
                continue
            if body is None:
                body = _dumps(build())
            sub.frame(msg_type, body, faults)

    def _ticker_body(self, e: TickerChanged) -> str:
        return _dumps({
            "market_ticker": e.ticker,
            "market_id": self._market_id(e.ticker),
            "price_dollars": wire.dollars4(e.last_price),
            "yes_bid_dollars": wire.dollars4(e.yes_bid),
            "yes_ask_dollars": wire.dollars4(e.yes_ask),
            "yes_bid_size_fp": wire.count_str(e.yes_bid_size),
            "yes_ask_size_fp": wire.count_str(e.yes_ask_size),
            "last_trade_size_fp": wire.count_str(e.last_trade_size),
            "volume_fp": wire.count_str(e.volume),
            "open_interest_fp": wire.count_str(e.open_interest),
            "dollar_volume": e.dollar_volume // 10_000,
            "dollar_open_interest": e.dollar_open_interest // 10_000,
            "ts": e.ts_ns // 1_000_000_000,
            "ts_ms": e.ts_ns // 1_000_000,
            "time": wire.rfc3339(e.ts_ns),
        })

    @staticmethod
    def _trade_body(e: TradeExecuted) -> dict[str, Any]:
        t = e.trade
        return {
            "trade_id": t.trade_id,
            "market_ticker": t.ticker,
            "yes_price_dollars": wire.dollars4(t.price),
            "no_price_dollars": wire.dollars4(t.no_price),
            "count_fp": wire.count_str(t.count),
            "taker_outcome_side": t.taker_outcome_side,
            "taker_book_side": str(t.taker_side),
            "taker_side": t.taker_outcome_side,
            "is_block_trade": False,
            "ts": t.ts_ns // 1_000_000_000,
            "ts_ms": t.ts_ns // 1_000_000,
        }

    @staticmethod
    def _group_body(e: OrderGroupUpdated) -> dict[str, Any]:
        body: dict[str, Any] = {"event_type": e.event_type, "order_group_id": e.order_group_id}
        if e.contracts_limit is not None:
            body["contracts_limit_fp"] = wire.count_str(e.contracts_limit)
        body["ts_ms"] = e.ts_ns // 1_000_000
        return body


async def _deny(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """Refuse the upgrade with an HTTP response (or a bare close where the server can't send one)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({
            "type": "websocket.http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


# --- the uvicorn protocol extension --------------------------------------------------------------

_SHORT = [bytes([0x81, n]) for n in range(126)]


def _text_frame(payload: bytes) -> bytes:
    """One final text frame from a server (no mask, no compression)."""
    n = len(payload)
    if n < 126:
        return _SHORT[n] + payload
    if n < 65_536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def kalshi_ws_protocol(send_buffer_bytes: int = DEFAULT_SEND_BUFFER) -> type | None:
    """uvicorn's sans-I/O WebSocket protocol with Kalshi's ``heartbeat`` ping, batched sends and a
    bounded socket send buffer (``send_buffer_bytes``; 0 keeps the kernel's autotuning).

    None when this uvicorn has no sans-I/O implementation (then uvicorn's default is used, with its
    own ping payload and one write per frame).
    """
    try:
        from uvicorn.protocols.utils import ClientDisconnected
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - older uvicorn
        return None

    class KalshiWsProtocol(WebSocketsSansIOProtocol):
        def handle_connect(self, event: Any) -> None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None and send_buffer_bytes:
                # A bounded kernel buffer: a stalled reader shows up in our queue (and is dropped)
                # instead of silently parking megabytes in the kernel.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
            super().handle_connect(event)
            scope = getattr(self, "scope", None)
            if scope is not None:
                scope["extensions"][SEND_BATCH] = {}
                scope["extensions"][ABORT] = {}

        def send_keepalive_ping(self) -> None:
            self.ping_timer = None
            if self.close_sent or self.transport.is_closing():
                return
            self.pending_ping_payload = b"heartbeat"
            self.ping_sent_at = self.loop.time()
            self.conn.send_ping(b"heartbeat")
            self.transport.write(b"".join(self.conn.data_to_send()))
            if self.ping_timeout is not None:
                self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
            else:
                self.schedule_ping()

        async def send(self, message: Any) -> None:
            kind = message["type"]
            if kind == SEND_BATCH:
                await self.writable.wait()
                if self.disconnected or self.close_sent:
                    raise ClientDisconnected()
                # Unmasked, unfragmented, uncompressed text frames (RFC 6455 §5.2), built directly:
                # websockets' general-purpose frame writer costs several times more per message.
                self.transport.write(b"".join([_text_frame(text.encode()) for text in message["texts"]]))
                return
            if kind == ABORT:
                self.disconnected = True
                self.transport.abort()
                return
            await super().send(message)
            if kind == "websocket.http.response.body" and not message.get("more_body", False):
                # uvicorn leaves this unset after a denial response and then logs a bogus error
                self.handshake_complete = True

    return KalshiWsProtocol
