"""Typed exceptions for everything that can go wrong talking to Kalshi.

Every venue error carries Kalshi's own ``code``, ``message`` and ``details`` plus the HTTP status,
so callers branch on types and operators read the venue's words. `error_from_response` reads all
four body shapes seen on the wire (API.md §3, samples/rest/error_*.json)::

    {"error": {"code": ..., "message": ..., "details": ..., "service": ...}}   nested (most 4xx)
    {"code": ..., "message": ..., "details": ...}                                flat (spec shape)
    {"msg": "..."}                                                               parameter validation
    {"error": "too many requests"}                                               429
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


class KalshiError(Exception):
    """Base of every error raised by the Kalshi plugin."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        details: str = "",
        status: int | None = None,
        service: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.details = details
        self.status = status
        self.service = service
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = ": ".join([*parts, self.message]) if parts else self.message
        return f"{text} ({self.details})" if self.details else text


class CredentialsError(KalshiError):
    """Kalshi credentials are missing or unusable (bad PEM, wrong key type, no key id)."""


class MalformedMessageError(KalshiError):
    """A venue message (REST body or WS frame) did not have the expected shape."""


class TransportError(KalshiError):
    """The network failed: connection refused/reset, timeout, protocol error.

    ``sent`` says whether the request may have reached the venue (False only when the connection
    was never established, so re-sending is safe for any request).
    """

    def __init__(self, message: str, *, sent: bool, **kwargs: Any) -> None:
        self.sent = sent
        super().__init__(message, **kwargs)


class UnreadableResponseError(TransportError):
    """The venue answered a write with success but a body we could not read: the write reached the
    venue and took effect, its details are unknown. Reconcile by reading, like a dropped connection
    after sending (``sent`` is always True), never by re-sending blindly or reporting a reject."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "unreadable_response")
        super().__init__(message, sent=True, **kwargs)


class VenueUnreachableError(TransportError):
    """The venue did not let us connect at startup (the message says what the last attempt met)."""

    advice = "check rest_url and ws_url (scheme, host, port), the network, and that the venue is up"

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False)


class WriteRefused(KalshiError):
    """The caller's guard refused a write right before it would have been sent (for the executor:
    the runtime's gate was closed, or the action was too old). Nothing was written and the tokens
    it had taken were given back; the request never reached the venue."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "refused")
        super().__init__(message, **kwargs)


class OutcomeUnknownError(KalshiError):
    """A create may or may not have been placed and reading orders could not settle it.

    The order must be treated as possibly live (``client_order_id``) until a later reconciliation.
    """

    def __init__(self, message: str, *, client_order_id: str, ticker: str, **kwargs: Any) -> None:
        self.client_order_id = client_order_id
        self.ticker = ticker
        super().__init__(message, **kwargs)


class VenueError(KalshiError):
    """The venue answered with an error status."""


class BadRequestError(VenueError):
    """HTTP 400: the request was malformed or invalid."""


class InvalidOrder(BadRequestError):
    """An order was refused: bad price, post-only cross, market closed..."""


class InsufficientBalance(InvalidOrder):
    """Not enough balance for the order."""


class AuthenticationError(VenueError):
    """HTTP 401: the key id, signature or timestamp was not accepted."""


class PermissionDeniedError(AuthenticationError):
    """HTTP 403: the key lacks a scope for this call."""


class NotFoundError(VenueError):
    """HTTP 404: no such market, order or group."""


class ConflictError(VenueError):
    """HTTP 409."""


class OrderAlreadyExists(ConflictError):
    """HTTP 409 ``order_already_exists``: the ``client_order_id`` was already used (the order exists)."""


class RateLimitedError(VenueError):
    """HTTP 429: the account's token bucket is empty. The request was not processed."""


class ServerError(VenueError):
    """HTTP 5xx. For a create, the order may or may not have been placed."""


_INVALID_ORDER_CODES = frozenset(
    {
        "invalid_order",
        "invalid_price",
        "invalid_parameters",
        "market_closed",
        "market_not_open",
        "trading_is_paused",
        "exchange_closed",
        "post_only_cross",
        "order_group_triggered",
        "reduce_only",
    }
)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[str, str, str, str]:
    """Read ``(code, message, details, service)`` from any of the four error body shapes.

    Never raises: an unreadable body yields its text (truncated) as the message.
    """
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return "", text.strip()[:200], "", ""
    if not isinstance(data, Mapping):
        return "", "" if data is None else str(data)[:200], "", ""
    inner = data.get("error")
    if isinstance(inner, Mapping):
        data = inner
    elif isinstance(inner, str):
        return "", inner, "", ""
    if "code" in data or "message" in data:
        return (
            _text(data.get("code")),
            _text(data.get("message")),
            _text(data.get("details")),
            _text(data.get("service")),
        )
    if "msg" in data:
        return "", _text(data.get("msg")), "", ""
    return "", str(dict(data))[:200], "", ""


def error_from_response(status: int | None, body: bytes | str | Mapping[str, Any] | None) -> VenueError:
    """Map an HTTP status and error body to the most specific `VenueError`.

    ``status`` None is used for per-item errors inside a batch response (the item has no status of
    its own); the type then follows the code alone.
    """
    code, message, details, service = parse_error_body(body)
    message = message or code or (f"HTTP {status}" if status else "venue error")
    kwargs: dict[str, Any] = {"code": code, "details": details, "status": status, "service": service}
    cls: type[VenueError]
    if code == "order_already_exists":
        cls = OrderAlreadyExists
    elif code == "insufficient_balance":
        cls = InsufficientBalance
    elif status == 429 or code == "too_many_requests":
        cls = RateLimitedError
        # Kalshi's 429 body carries no code; name it, so a reject it causes reads as a rate limit
        # (the runtime's reject guard and the 429 metric go by the code).
        kwargs["code"] = code or "too_many_requests"
    elif status == 401 or (status is None and code in {"authentication_error", "unauthorized"}):
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404 or (status is None and code.endswith("not_found")):
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status is not None and status >= 500:
        cls = ServerError
    elif code in _INVALID_ORDER_CODES:
        cls = InvalidOrder
    elif status == 400:
        cls = BadRequestError
    else:
        cls = VenueError
    return cls(message, **kwargs)
