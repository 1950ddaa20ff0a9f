"""A read-only HTTP transport: the one a paper-trading session talks to the venue through.

Paper trading fills our orders locally; the venue must never see a write from it. Rather than
trusting every caller, the session's only HTTP transport refuses any method but ``GET``/``HEAD``
before a byte leaves the process (and the session has no pre-signer and no fast order path, the
other ways a write could be made). A refused request raises `ReadOnlyViolation` — a bug, not a
venue error — and is counted.
"""

from __future__ import annotations

import httpx

from mmframe_kalshi.errors import KalshiError

READ_METHODS = frozenset({"GET", "HEAD"})


class ReadOnlyViolation(KalshiError):
    """A write was attempted through a read-only session; nothing was sent."""


class ReadOnlyTransport(httpx.AsyncBaseTransport):
    """Passes ``GET``/``HEAD`` to ``inner``; refuses every other method without sending it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.refused = 0
        """Write requests refused (each one a bug: nothing in a paper run should try)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method.upper() not in READ_METHODS:
            self.refused += 1
            raise ReadOnlyViolation(f"{request.method} {request.url.path}: refused, this session is read-only "
                                    "(paper trading never writes to the venue); nothing was sent")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
