"""`KeyWatch`: notices when the venue stops accepting our API key, and says so.

A key that was revoked or replaced (or a simulator restarted with other keys) makes every signed
request answer HTTP 401, and the WebSocket's reconnect loop would retry forever while ``/health``
says "venue reconnecting". The session counts consecutive refusals of the key — a REST 401 other
than an expired timestamp, a WebSocket handshake answered 401 — and any accepted request or
handshake resets the count. At `DEFAULT_THRESHOLD` in a row the key counts as rejected: the
WebSocket stops reconnecting and the feed ends with `KeyRejectedError`, which stops the run
(quoting halts, the stop cancels what it can, the exit is non-zero) with "the venue rejects our key".
"""

from __future__ import annotations

import asyncio
import logging

from mmframe_kalshi.errors import AuthenticationError

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 3
"""Consecutive refusals that mean the key itself is rejected (one may be a clock or signing hiccup)."""

KEY_ADVICE = (
    "the key was revoked or replaced, or the venue was restarted with other keys: check KALSHI_API_KEY or "
    "the venue's key_id and its private key, then run mmframe doctor FILE"
)


class KeyRejectedError(AuthenticationError):
    """The venue refused our API key on several requests in a row."""

    advice = KEY_ADVICE


class KeyWatch:
    """Counts consecutive refusals of one key; `rejected` once there were ``threshold`` in a row."""

    def __init__(self, key: str, *, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.key = key
        self.threshold = threshold
        self.refusals = 0
        self.rejected: KeyRejectedError | None = None
        self._event: asyncio.Event | None = None

    def accepted(self) -> None:
        """A signed request or handshake went through: the key works."""
        if self.rejected is None:
            self.refusals = 0

    def refused(self, where: str, detail: str) -> None:
        """The venue answered 401 to ``where`` (e.g. ``GET /portfolio/balance``, ``WebSocket``)."""
        self.refusals += 1
        if self.rejected is not None or self.refusals < self.threshold:
            return
        detail = " ".join(detail.split())[:200]
        self.rejected = KeyRejectedError(
            f"the venue rejects our key {self.key}: {self.refusals} requests in a row refused "
            f"(last: {where}: {detail or 'HTTP 401'})"
        )
        logger.error("%s (%s)", self.rejected, KEY_ADVICE)
        if self._event is not None:
            self._event.set()

    async def wait(self) -> KeyRejectedError:
        """Return once the key is rejected (at once if it already is)."""
        if self.rejected is None:
            if self._event is None:
                self._event = asyncio.Event()
            await self._event.wait()
        assert self.rejected is not None
        return self.rejected
