"""`KalshiSession`: what a pipeline's Kalshi feed and executor share — one account, one connection.

It owns the credentials' signer (and pre-signer), the rate limiter, the REST client and one
WebSocket connection, and fans incoming frames out by message type to whoever registered for
them (the feed takes book/trade/ticker/lifecycle frames, the executor fill/order/position/group
frames). The WebSocket reader task and the pre-signing thread live from `open` to `close`.

Subaccounts (API.md §3): a session trades one ``subaccount`` (0 = the primary account). Kalshi's
account channels carry every subaccount's fills, orders and positions with a ``subaccount`` field;
frames of other subaccounts are dropped here (``foreign_subaccount_frames``), before any listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from mmframe.api import Clock
from mmframe_kalshi.auth import (
    DEFAULT_MAX_AGE_MS,
    DEFAULT_MAX_ORDER_PATHS,
    DEFAULT_ORDER_MAX_AGE_MS,
    PreSigner,
    RequestSigner,
)
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import AuthenticationError, KalshiError, VenueUnreachableError
from mmframe_kalshi.keywatch import KeyRejectedError, KeyWatch
from mmframe_kalshi.limiter import RateLimiter
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.rest import ORDERS_V2_BATCH, KalshiRestClient, RetryPolicy
from mmframe_kalshi.ws import Backoff, KalshiWebSocket

logger = logging.getLogger(__name__)

FrameListener = Callable[[Frame, int], None]
GapListener = Callable[[str, tuple[str, ...], str], None]
StatusListener = Callable[[str, str], None]
ReconnectListener = Callable[[], Awaitable[None]]
BurstListener = Callable[[], None]

_ACCOUNT_CHANNELS = frozenset({"fill", "user_orders", "market_positions"})
_SUBACCOUNT_FRAMES = frozenset({"fill", "user_order", "market_position"})


class KalshiSession:
    """One Kalshi account and connection, shared by a pipeline's feed and executor."""

    def __init__(
        self,
        rest_url: str,
        ws_url: str,
        credentials: KalshiCredentials,
        clock: Clock,
        *,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        heartbeat_s: float = 30.0,
        ping_interval_s: float = 10.0,
        reconnect_backoff: Backoff | None = None,
        presign: bool = True,
        presign_max_age_ms: int = DEFAULT_MAX_AGE_MS,
        presign_order_max_age_ms: int = DEFAULT_ORDER_MAX_AGE_MS,
        presign_order_paths: int = DEFAULT_MAX_ORDER_PATHS,
        fast_order_path: bool = True,
        load_limits: bool = True,
        rng: random.Random | None = None,
        subaccount: int = 0,
        use_yes_price: bool = True,
        unix_socket: str | None = None,
        read_only: bool = False,
    ) -> None:
        """``read_only``: the session can never write to the venue (paper trading): its REST client's
        only transport refuses every method but GET (`readonly`), nothing is pre-signed and there is
        no fast order path."""
        if read_only:
            presign = fast_order_path = False
        self.clock = clock
        self.credentials = credentials
        self.signer = RequestSigner(credentials, clock)
        self.presigner = (
            PreSigner(
                self.signer,
                clock,
                max_age_ms=presign_max_age_ms,
                order_max_age_ms=presign_order_max_age_ms,
                max_order_paths=presign_order_paths,
            )
            if presign
            else None
        )
        self.rest = KalshiRestClient(
            rest_url,
            self.signer,
            clock,
            limiter=limiter,
            presigner=self.presigner,
            retry=retry,
            timeout=timeout,
            rng=rng,
            fast_order_path=fast_order_path,
            subaccount=subaccount,
            unix_socket=unix_socket,
            read_only=read_only,
        )
        self.subaccount = subaccount
        self.ws = KalshiWebSocket(
            ws_url,
            self.signer,
            clock,
            on_frame=self._dispatch,
            on_gap=self._gap,
            on_status=self._status,
            on_reconnect=self._reconnected,
            on_burst_end=self._burst_end,
            heartbeat_s=heartbeat_s,
            ping_interval_s=ping_interval_s,
            backoff=reconnect_backoff,
            rng=rng,
            use_yes_price=use_yes_price,
            unix_socket=unix_socket,
        )
        self.key_watch = KeyWatch(credentials.key_id[:8] + ("…" if len(credentials.key_id) > 8 else ""))
        """Consecutive refusals of our key by REST and WebSocket (`keywatch`)."""
        self.rest.key_watch = self.key_watch
        self.ws.key_watch = self.key_watch
        self._load_limits = load_limits
        self._listeners: dict[str, list[FrameListener]] = {}
        self._gap_listeners: list[GapListener] = []
        self._status_listeners: list[StatusListener] = []
        self._reconnect_listeners: list[ReconnectListener] = []
        self._burst_listeners: list[BurstListener] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._opened = False
        self.status = "closed"
        self.listener_errors = 0
        self.foreign_subaccount_frames = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        """Read the account's rate limits, start the pre-signing thread and connect the WebSocket."""
        if self._opened:
            return
        self._opened = True
        if self._load_limits:
            await self.rest.load_rate_limits()
        if self.presigner is not None:
            for method in ("POST", "DELETE"):
                self.presigner.register(method, self.rest.full_path(ORDERS_V2_BATCH))
            self.presigner.start()
        if self.rest.fast is not None:
            self.rest.fast.start()  # warm order connections, opened in the background
        self.status = "connecting"
        self._tasks.append(asyncio.create_task(self.ws.run(), name="kalshi-ws"))

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until the WebSocket is up: `KeyRejectedError` as soon as the venue rejects our key,
        `VenueUnreachableError` (saying why the last attempt failed) after ``timeout`` seconds."""
        connected = asyncio.ensure_future(self.ws.wait_connected(None))
        rejected = asyncio.ensure_future(self.key_watch.wait())
        try:
            done, _ = await asyncio.wait({connected, rejected}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (connected, rejected):
                task.cancel()
        if rejected in done:
            raise rejected.result()
        if connected not in done:
            raise VenueUnreachableError(
                f"no WebSocket connection to {self.ws.ws_url} within {timeout:g} s"
                + (f" (last attempt: {self.ws.last_error})" if self.ws.last_error else "")
            )

    async def wait_key_rejected(self) -> KeyRejectedError:
        """Return once the venue rejects our key (`KeyWatch`); never, while it accepts it."""
        return await self.key_watch.wait()

    async def close(self) -> None:
        if self.presigner is not None:
            self.presigner.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.ws.aclose()
        await self.rest.aclose()
        self._opened = False
        self.status = "closed"

    async def __aenter__(self) -> KalshiSession:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- fan-out ----------------------------------------------------------------------------

    def on_frames(self, types: Iterable[str], listener: FrameListener) -> Callable[[], None]:
        """Call ``listener(frame, received_ns)`` for frames of ``types``; returns an unregister."""
        kinds = tuple(types)
        for kind in kinds:
            self._listeners.setdefault(kind, []).append(listener)

        def remove() -> None:
            for kind in kinds:
                with contextlib.suppress(ValueError):
                    self._listeners.get(kind, []).remove(listener)

        return remove

    def on_gap(self, listener: GapListener) -> None:
        """``listener(channel, markets, reason)`` when a channel's data had a gap or a disconnect."""
        self._gap_listeners.append(listener)

    def on_status(self, listener: StatusListener) -> None:
        """``listener(status, detail)`` when the connection changes (connected/reconnecting)."""
        self._status_listeners.append(listener)

    def on_reconnect(self, listener: ReconnectListener) -> None:
        """``await listener()`` after every reconnect (not the first connect)."""
        self._reconnect_listeners.append(listener)

    def on_burst_end(self, listener: BurstListener) -> Callable[[], None]:
        """``listener()`` when the WebSocket reader has applied every frame it received (the end of
        a burst of frames that arrived together), in the reader's task; returns an unregister."""
        self._burst_listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._burst_listeners.remove(listener)

        return remove

    async def subscribe(self, channels: Iterable[str], markets: Iterable[str] | None) -> None:
        """Subscribe ``channels`` for ``markets`` (None: unfiltered). Markets subscribed on an account
        channel are this account's own markets (`KalshiRestClient.own_markets`)."""
        tickers = None if markets is None else tuple(markets)
        channels = tuple(channels)
        if tickers is not None and not _ACCOUNT_CHANNELS.isdisjoint(channels):
            self.rest.own_markets = (self.rest.own_markets or frozenset()) | frozenset(tickers)
        for channel in channels:
            await self.ws.subscribe(channel, tickers)

    def describe(self) -> Mapping[str, Any]:
        """Connection status for ``/state`` (never secrets)."""
        stats = self.ws.stats
        return {
            "status": self.status,
            "rest_url": self.rest.rest_url,
            "ws_url": self.ws.ws_url,
            "key": repr(self.credentials),
            "ws": {
                "connects": stats.connects,
                "frames": stats.frames,
                "gaps": stats.gaps,
                "duplicates": stats.duplicates,
                "malformed": stats.malformed,
                "watchdog_drops": stats.watchdog_drops,
                "subscriptions": {c: sid for c, (sid, _) in self.ws.subscriptions().items()},
            },
            "rest": {
                "requests": self.rest.requests_sent,
                "rate_limited": self.rest.rate_limited,
                "malformed_items": self.rest.malformed_items,
            },
            "subaccount": self.subaccount,
            "foreign_subaccount_frames": self.foreign_subaccount_frames,
            "presign": None if self.presigner is None else self.presigner.describe(),
            "fast_path": None if self.rest.fast is None else self.rest.fast.describe(),
        }

    def _dispatch(self, frame: Frame, received_ns: int) -> None:
        if frame.type in _SUBACCOUNT_FRAMES and self._foreign(frame.msg):
            self.foreign_subaccount_frames += 1
            return
        for listener in self._listeners.get(frame.type, ()):
            try:
                listener(frame, received_ns)
            except Exception:
                # A listener bug must not kill the shared reader.
                self.listener_errors += 1
                logger.exception("Kalshi %s listener failed", frame.type)

    def _foreign(self, msg: Any) -> bool:
        """Whether an account frame names another subaccount (one that names none is kept: it cannot
        be told apart, and a frame of ours must never be lost)."""
        if not isinstance(msg, dict):
            return False
        number = msg.get("subaccount", msg.get("subaccount_number"))
        return type(number) is int and number != self.subaccount

    def _burst_end(self) -> None:
        for listener in self._burst_listeners:
            try:
                listener()
            except Exception:
                self.listener_errors += 1
                logger.exception("Kalshi burst listener failed")

    def _gap(self, channel: str, markets: tuple[str, ...], reason: str) -> None:
        for listener in self._gap_listeners:
            try:
                listener(channel, markets, reason)
            except Exception:
                self.listener_errors += 1
                logger.exception("Kalshi gap listener failed")

    def _status(self, status: str, detail: str) -> None:
        self.status = status
        for listener in self._status_listeners:
            try:
                listener(status, detail)
            except Exception:
                self.listener_errors += 1
                logger.exception("Kalshi status listener failed")

    async def _reconnected(self) -> None:
        for listener in self._reconnect_listeners:
            try:
                await listener()
            except AuthenticationError:
                raise
            except KalshiError as exc:
                logger.error("reconciliation after reconnect failed: %s", exc)
