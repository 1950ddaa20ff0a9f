"""`KalshiWebSocket`: one authenticated WebSocket v2 connection that stays up and stays correct.

* Signed handshake: the three auth headers, signed over ``timestamp + "GET" + "/trade-api/ws/v2"``.
* Subscriptions are declared (channel -> markets) and (re)sent on every connection; markets added
  later go through ``update_subscription`` ``add_markets``. The order book subscription always says
  ``use_yes_price`` explicitly (`use_yes_price`, default True: NO levels in YES-leg prices, the
  convention Kalshi says becomes the default), so a change of Kalshi's default cannot mirror the
  NO ladder; `parsing` converts by the same flag.
* Sequencing: every frame of a sequenced channel carries ``seq``, +1 per message within its
  ``sid``. A frame whose ``seq`` is at or below the last one applied for its ``sid`` is dropped and
  counted (``stats.duplicates``): it is a duplicate of one already applied, or a straggler that
  arrived after a newer one (reordered). It is never a gap: applying it again would count a book
  change twice, and a straggler is stale, since the newer frame that overtook it already showed the
  skip as a gap. Only a real gap (``seq`` beyond last + 1) reports the subscription's markets
  invalid (``on_gap``) and, for the order book, requests a ``get_snapshot`` (a resubscribe if the
  server refuses), so the book is rebuilt before it is used again.
* Heartbeat watchdog: any frame — data, the server's 10 s ``heartbeat`` ping, or the pong to our
  own ping — is activity; with none for ``heartbeat_s`` the connection is dropped and rebuilt.
* Bursts: frames already buffered are read one after another without suspending (for up to
  `READ_SLICE_NS`); when the last of them is applied (none is buffered) ``on_burst_end`` is called,
  in the reader's task: the runtime requotes what the burst changed there (`BurstContext`).
* Reconnect with exponential backoff and jitter, resubscribe, invalidate every book, then
  ``on_reconnect`` so the executor can reconcile orders, fills and positions over REST.

Transport timers (ping, watchdog, backoff) run on the event loop's real time: they guard a real
socket. Message timestamps come from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import Opcode

from mmframe.api import Clock, RateLimitedLog, pacing_ns
from mmframe_kalshi.auth import RequestSigner
from mmframe_kalshi.errors import MalformedMessageError, error_from_response
from mmframe_kalshi.keywatch import KeyWatch
from mmframe_kalshi.parsing import Frame, parse_frame

logger = logging.getLogger(__name__)

ORDERBOOK = "orderbook_delta"
MARKET_FILTERED = frozenset({"orderbook_delta", "ticker", "trade", "fill", "user_orders", "market_positions"})
"""Channels that take a ``market_tickers`` filter (lifecycle and order groups ignore it)."""
READ_SLICE_NS = 300_000
"""Longest stretch of frame handling before the reader yields to other tasks (monotonic ns)."""
_TERMINAL_ERROR_CODES = frozenset({10, 25})  # channel error, buffer overflow: resubscribe

FrameHandler = Callable[[Frame, int], None]
GapHandler = Callable[[str, tuple[str, ...], str], None]
StatusHandler = Callable[[str, str], None]
BurstHandler = Callable[[], None]
ReconnectHandler = Callable[[], Awaitable[None]]


@dataclass
class _Subscription:
    channel: str
    markets: set[str] | None  # None: not market-filtered
    sid: int | None = None
    last_seq: int | None = None
    pending_id: int | None = None
    sent_markets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: min(max_s, base_s * 2**n), jittered to [delay/2, delay]."""

    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.base_s * (2**attempt))
        return float(ceiling / 2 + rng.random() * ceiling / 2)


_DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY)


class _WatchedConnection(ClientConnection):
    """A client connection that records when any frame (data, ping, pong) last arrived."""

    last_frame_at: float = 0.0

    data_frames: int = 0
    """Data frames received so far (a reader that has handled as many has nothing buffered)."""

    def process_event(self, event: Any) -> None:
        self.last_frame_at = pacing_ns() / 1e9
        if getattr(event, "opcode", None) in _DATA_OPCODES:
            self.data_frames += 1
        super().process_event(event)


@dataclass
class WsStats:
    connects: int = 0
    gaps: int = 0
    duplicates: int = 0
    """Sequenced frames dropped because their seq was at or below the last applied for their sid
    (duplicates, and stragglers overtaken by a newer frame)."""
    malformed: int = 0
    frames: int = 0
    watchdog_drops: int = 0
    snapshot_requests: int = 0
    errors: list[str] = field(default_factory=list)


class KalshiWebSocket:
    """One WebSocket connection with subscriptions, sequencing, heartbeat and reconnects."""

    def __init__(
        self,
        ws_url: str,
        signer: RequestSigner,
        clock: Clock,
        *,
        on_frame: FrameHandler,
        on_gap: GapHandler | None = None,
        on_status: StatusHandler | None = None,
        on_reconnect: ReconnectHandler | None = None,
        on_burst_end: BurstHandler | None = None,
        heartbeat_s: float = 30.0,
        ping_interval_s: float = 10.0,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        rng: random.Random | None = None,
        use_yes_price: bool = True,
        unix_socket: str | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.unix_socket = unix_socket
        """Connect through this Unix socket instead of the URL's host (the simulator under simulated time)."""
        self.use_yes_price = use_yes_price
        """Sent with every ``orderbook_delta`` subscribe; readers of its book frames convert by it."""
        self._path = urlsplit(ws_url).path or "/"
        self._signer = signer
        self._clock = clock
        self._on_frame = on_frame
        self._on_gap = on_gap or (lambda channel, markets, reason: None)
        self._on_status = on_status or (lambda status, detail: None)
        self._on_reconnect = on_reconnect
        self._on_burst_end = on_burst_end or (lambda: None)
        self.heartbeat_s = heartbeat_s
        self.ping_interval_s = ping_interval_s
        self.backoff = backoff or Backoff()
        self.open_timeout_s = open_timeout_s
        self._rng = rng or random.Random()
        self._subs: dict[str, _Subscription] = {}
        self._by_sid: dict[int, _Subscription] = {}
        self._pending: dict[int, tuple[str, _Subscription]] = {}
        self._ids = itertools.count(1)
        self._ws: _WatchedConnection | None = None
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._yield_requested = False
        self.stats = WsStats()
        self.key_watch: KeyWatch | None = None
        """Told of handshakes refused with 401 and of every connect (`KalshiSession` sets it)."""
        self.last_error = ""
        """Why the last connection attempt failed (for a startup that never connects)."""
        # Gaps, duplicates and malformed frames come in storms under a faulty venue: one line per
        # condition every 10 s, with the count of those not logged.
        self._repeats = RateLimitedLog(logger, clock.monotonic_ns)

    # --- public -----------------------------------------------------------------------------

    def yield_after_frame(self) -> None:
        """Have the reader suspend once the frame it is handling is done, before the next buffered
        one: a request was just started (its task runs on the next turn of the event loop) and
        should reach the network before the rest of a burst of frames is read."""
        self._yield_requested = True

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def subscriptions(self) -> dict[str, tuple[int | None, tuple[str, ...] | None]]:
        """Channel -> (sid, markets) for status displays."""
        return {
            c: (s.sid, None if s.markets is None else tuple(sorted(s.markets))) for c, s in self._subs.items()
        }

    async def subscribe(self, channel: str, markets: Iterable[str] | None = None) -> None:
        """Make sure ``channel`` is subscribed for ``markets`` (kept across reconnects)."""
        wanted = set(markets) if markets is not None and channel in MARKET_FILTERED else None
        sub = self._subs.get(channel)
        if sub is None:
            sub = self._subs[channel] = _Subscription(channel, wanted)
            if self.connected:
                await self._send_subscribe(sub)
            return
        if wanted is None or sub.markets is None:
            return
        added = wanted - sub.markets
        if not added:
            return
        sub.markets |= added
        if self.connected and sub.sid is not None:
            sub.sent_markets = frozenset(sub.markets)
            await self._command(
                "update_subscription",
                {"sid": sub.sid, "market_tickers": sorted(added), "action": "add_markets"},
                sub,
            )

    async def request_snapshot(self, channel: str, markets: Iterable[str]) -> None:
        """Ask for fresh ``orderbook_snapshot`` frames for ``markets`` (no change to the subscription)."""
        sub = self._subs.get(channel)
        if sub is None or sub.sid is None or not self.connected:
            return
        self.stats.snapshot_requests += 1
        await self._command(
            "update_subscription",
            {"sid": sub.sid, "market_tickers": sorted(markets), "action": "get_snapshot"},
            sub,
        )

    async def run(self) -> None:
        """Connect, and reconnect whenever the connection drops, until cancelled."""
        attempt = 0
        while True:
            try:
                headers = self._signer.headers("GET", self._path)
                # Under simulated time the simulator listens on a Unix socket in this process.
                socket: dict[str, Any] = {"unix": True, "path": self.unix_socket} if self.unix_socket else {}
                async with connect(
                    self.ws_url,
                    additional_headers=headers,
                    open_timeout=self.open_timeout_s,
                    ping_interval=None,
                    close_timeout=2,
                    max_size=None,
                    compression=None,
                    create_connection=_WatchedConnection,
                    **socket,
                ) as ws:
                    assert isinstance(ws, _WatchedConnection)
                    attempt = 0
                    if self.key_watch is not None:
                        self.key_watch.accepted()
                    await self._serve(ws)
                # A clean close by the server is still a disconnect for us.
                logger.warning("Kalshi WS %s closed by the server", self.ws_url)
                self._on_status("reconnecting", "closed by the server")
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, InvalidURI) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._key_refused(exc):
                    self._on_status("rejected", "the venue rejects our key")
                    return  # reconnecting cannot help: the feed reports it and the run stops
                logger.warning("Kalshi WS %s: %s: %s", self.ws_url, type(exc).__name__, exc)
                self._on_status("reconnecting", f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                # A bug in frame handling must not end the connection loop for good.
                logger.exception("Kalshi WS %s: unexpected error; reconnecting", self.ws_url)
                self._on_status("reconnecting", f"{type(exc).__name__}: {exc}")
            finally:
                self._drop_connection()
            delay = self.backoff.delay(attempt, self._rng)
            attempt += 1
            await asyncio.sleep(delay)

    def _key_refused(self, exc: Exception) -> bool:
        """Tell `key_watch` of a handshake answered 401; whether the key now counts as rejected."""
        response = getattr(exc, "response", None)
        if self.key_watch is None or not isinstance(exc, InvalidStatus) or response is None:
            return False
        if response.status_code != 401:
            return False
        error = error_from_response(401, bytes(response.body or b""))
        if error.code == "header_timestamp_expired":
            return False
        self.key_watch.refused("WebSocket handshake", error.details or error.message)
        return self.key_watch.rejected is not None

    def drop(self) -> None:
        """Abort the current connection (tests and operators); `run` reconnects."""
        if self._ws is not None and self._ws.transport is not None:
            self._ws.transport.abort()

    # --- connection -------------------------------------------------------------------------

    async def _serve(self, ws: _WatchedConnection) -> None:
        self._ws = ws
        ws.last_frame_at = pacing_ns() / 1e9
        self.stats.connects += 1
        first = self.stats.connects == 1
        # Subscriptions declared while these go out are sent too before we count as connected.
        sent: set[str] = set()
        while todo := [sub for channel, sub in self._subs.items() if channel not in sent]:
            for sub in todo:
                sent.add(sub.channel)
                await self._send_subscribe(sub)
        self._connected.set()
        self._on_status("connected", self.ws_url)
        if not first and self._on_reconnect is not None:
            self._spawn(self._on_reconnect())
        watchdog = asyncio.create_task(self._watchdog(ws))
        try:
            slice_end = pacing_ns() + READ_SLICE_NS
            # Messages read so far: none before this loop, though some may have arrived already
            # (with the handshake's answer, or while the subscriptions went out). Counting those as
            # read would make every later burst look finished early.
            handled = 0
            idle = True
            async for raw in ws:
                if idle:
                    # The first frame of a burst (nothing was buffered when the reader waited):
                    # its slice starts now, and a yield asked for between bursts (a request the
                    # quoting task started) is moot. Otherwise a burst would be cut after its
                    # first frame, and a market quoted on a book half-way through one update.
                    slice_end = pacing_ns() + READ_SLICE_NS
                    self._yield_requested = False
                handled += 1
                self._handle(raw)
                idle = handled >= ws.data_frames
                if idle:
                    # Every frame received is applied (nothing is buffered): the end of a burst.
                    # The runtime requotes what it changed right here (`on_burst_end`), and the
                    # next read waits for the network anyway, so no yield is needed.
                    self._on_burst_end()
                elif self._yield_requested or pacing_ns() >= slice_end:
                    # A burst of buffered frames is read without suspending: let the requests a
                    # frame started, and the quoting task, go before the rest of the burst.
                    self._yield_requested = False
                    await asyncio.sleep(0)
                    slice_end = pacing_ns() + READ_SLICE_NS
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    def _drop_connection(self) -> None:
        was_connected = self._ws is not None
        self._ws = None
        self._connected.clear()
        self._pending.clear()
        self._by_sid.clear()
        for sub in self._subs.values():
            sub.sid = None
            sub.last_seq = None
            sub.pending_id = None
        if was_connected:
            book = self._subs.get(ORDERBOOK)
            if book is not None and book.markets:
                self._on_gap(ORDERBOOK, tuple(sorted(book.markets)), "disconnected")

    async def _watchdog(self, ws: _WatchedConnection) -> None:
        while True:
            await asyncio.sleep(min(self.ping_interval_s, self.heartbeat_s / 2))
            silent = pacing_ns() / 1e9 - ws.last_frame_at
            if silent > self.heartbeat_s:
                self.stats.watchdog_drops += 1
                logger.warning("Kalshi WS silent for %.1fs; reconnecting", silent)
                self._on_status("reconnecting", f"no frame for {silent:.1f}s")
                if ws.transport is not None:
                    ws.transport.abort()
                return
            with contextlib.suppress(ConnectionClosed, RuntimeError):
                await ws.ping()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Kalshi WS callback failed: %r", task.exception())

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._ws is not None:
            await self._ws.close()

    # --- commands ---------------------------------------------------------------------------

    async def _command(self, cmd: str, params: dict[str, Any] | None, sub: _Subscription | None) -> int:
        ws = self._ws
        if ws is None:
            return 0
        cmd_id = next(self._ids)
        body: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        if sub is not None:
            self._pending[cmd_id] = (
                cmd if cmd != "update_subscription" else str(params and params["action"]),
                sub,
            )
        with contextlib.suppress(ConnectionClosed):
            await ws.send(orjson.dumps(body).decode())
        return cmd_id

    async def _send_subscribe(self, sub: _Subscription) -> None:
        params: dict[str, Any] = {"channels": [sub.channel]}
        if sub.channel == ORDERBOOK:
            params["use_yes_price"] = self.use_yes_price
        if sub.markets is not None:
            if not sub.markets:
                return
            sub.sent_markets = frozenset(sub.markets)
            params["market_tickers"] = sorted(sub.sent_markets)
        sub.pending_id = await self._command("subscribe", params, sub)

    async def _resubscribe(self, sub: _Subscription) -> None:
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)
            await self._command("unsubscribe", {"sids": [sub.sid]}, None)
        sub.sid = None
        sub.last_seq = None
        await self._send_subscribe(sub)

    # --- frames -----------------------------------------------------------------------------

    def _handle(self, raw: str | bytes) -> None:
        now = self._clock.now_ns()
        self.stats.frames += 1
        try:
            frame = parse_frame(raw)
        except MalformedMessageError as exc:
            self.stats.malformed += 1
            self._repeats.log("malformed", "malformed Kalshi WS frame dropped: %s", exc)
            return
        kind = frame.type
        if kind == "subscribed":
            self._on_subscribed(frame)
        elif kind in ("ok", "unsubscribed"):
            self._pending.pop(frame.id or 0, None)
            if kind == "ok" and frame.sid is not None and frame.seq is not None:
                self._sequence_of_reply(frame)
        elif kind == "error":
            self._on_error(frame)
        else:
            if frame.sid is not None and frame.seq is not None and not self._sequence_ok(frame):
                return
            self._on_frame(frame, now)

    def _on_subscribed(self, frame: Frame) -> None:
        msg = frame.msg if isinstance(frame.msg, dict) else {}
        channel, sid = msg.get("channel"), msg.get("sid")
        pending = self._pending.get(frame.id or 0)
        sub = pending[1] if pending is not None else self._subs.get(str(channel))
        if sub is None or not isinstance(sid, int):
            logger.warning("unexpected subscribed frame %r", frame)
            return
        if pending is None and sub.sid == sid:
            return  # the reply already handled, sent again: it must not restart the sid's sequence
        self._pending.pop(frame.id or 0, None)
        sub.sid = sid
        sub.last_seq = None
        sub.pending_id = None
        self._by_sid[sid] = sub
        late = (sub.markets or set()) - sub.sent_markets
        if late:  # markets added while the subscribe was in flight
            sub.sent_markets = frozenset(sub.markets or ())
            params = {"sid": sid, "market_tickers": sorted(late), "action": "add_markets"}
            self._spawn(self._command("update_subscription", params, sub))

    def _on_error(self, frame: Frame) -> None:
        msg = frame.msg if isinstance(frame.msg, dict) else {}
        code, text = msg.get("code"), msg.get("msg", "")
        pending = self._pending.pop(frame.id or 0, None)
        self.stats.errors.append(f"{code}: {text}")
        logger.warning("Kalshi WS error %s: %s (command %s)", code, text, pending[0] if pending else frame.id)
        sub = pending[1] if pending is not None else self._by_sid.get(frame.sid or -1)
        if sub is None:
            return
        if (pending is not None and pending[0] == "get_snapshot") or code in _TERMINAL_ERROR_CODES:
            self._spawn(self._resubscribe(sub))

    def _sequence_of_reply(self, frame: Frame) -> None:
        """An ``update_subscription`` reply's ``seq``: either the sid's current seq (informational) or
        the next one (it consumed a number). Accept both; only a jump beyond them is a gap."""
        assert frame.sid is not None and frame.seq is not None
        sub = self._by_sid.get(frame.sid)
        if sub is None or sub.last_seq is None or frame.seq <= sub.last_seq:
            return
        if frame.seq == sub.last_seq + 1:
            sub.last_seq = frame.seq
            return
        self._sequence_ok(frame)

    def _sequence_ok(self, frame: Frame) -> bool:
        """Whether to apply a sequenced frame: yes when it is the next of its sid (or the first);
        no when its seq was already passed (a duplicate or a straggler: dropped and counted); on a
        gap, the subscription's data is reported invalid and an order book frame other than a
        snapshot is dropped (the snapshot requested replaces it)."""
        assert frame.sid is not None and frame.seq is not None
        sub = self._by_sid.get(frame.sid)
        if sub is None:
            return True  # an old sid's straggler or a channel we did not track: pass through
        last = sub.last_seq
        if last is not None and frame.seq <= last:
            self.stats.duplicates += 1
            self._repeats.log(
                ("duplicate", frame.sid),
                "Kalshi WS %s sid %s: seq %d already applied (last %d); dropped",
                sub.channel, frame.sid, frame.seq, last, level=logging.INFO,
            )
            return False
        sub.last_seq = frame.seq
        if last is None or frame.seq == last + 1:
            return True
        self.stats.gaps += 1
        markets = tuple(sorted(sub.markets or ()))
        reason = f"seq gap on {sub.channel} sid {frame.sid}: expected {last + 1}, got {frame.seq}"
        self._repeats.log(("gap", sub.channel), "Kalshi WS %s", reason)
        self._on_gap(sub.channel, markets, reason)
        if sub.channel == ORDERBOOK and markets:
            self._spawn(self.request_snapshot(ORDERBOOK, markets))
            return frame.type == "orderbook_snapshot"
        return True
