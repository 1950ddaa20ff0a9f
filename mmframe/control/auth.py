"""Who may change the daemon: a bearer token, compared in constant time, and the bind-address rule.

Reads are open (they never contain secrets); every mutating endpoint needs ``Authorization: Bearer
<token>``. Without a configured token mutating endpoints are refused outright, and the control
plane refuses to listen on anything but loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

TOKEN_ENV = "MMFRAME_CONTROL_TOKEN"
TOKEN_FILE_ENV = "MMFRAME_CONTROL_TOKEN_FILE"


class ControlConfigError(ValueError):
    """The control plane's configuration is unsafe or unusable; the message says what to change."""


def resolve_token(configured: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The configured token, else ``$MMFRAME_CONTROL_TOKEN``, else the content of the file named by
    ``$MMFRAME_CONTROL_TOKEN_FILE`` (a Docker secret, a systemd credential), else None (blank counts
    as unset). Raises `ControlConfigError` when that file cannot be read."""
    env = os.environ if environ is None else environ
    token = configured if configured else env.get(TOKEN_ENV, "")
    if not token.strip() and env.get(TOKEN_FILE_ENV, "").strip():
        path = env[TOKEN_FILE_ENV].strip()
        try:
            with open(path, encoding="utf-8") as file:
                token = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ControlConfigError(f"cannot read the control token file ${TOKEN_FILE_ENV} ({path}): {reason}") from None
    return token.strip() or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts local connections (127.0.0.0/8, ::1, ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token: anyone on the network could flatten the book."""
    if token is None and not is_loopback(host):
        raise ControlConfigError(
            f"control plane would listen on {host} without a token; set control.token "
            f"(or ${TOKEN_ENV}) or bind 127.0.0.1"
        )


@dataclass(frozen=True)
class Denied:
    """Why a mutating request was refused: HTTP status and a reason safe to show."""

    status: int
    reason: str


class BearerAuth:
    """Checks ``Authorization: Bearer <token>`` headers against the configured token."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    @property
    def enabled(self) -> bool:
        """Whether mutating endpoints can be used at all."""
        return self._token is not None

    def check(self, authorization: str | None) -> Denied | None:
        """None when the header carries the token; otherwise the refusal (never echoes the header)."""
        if self._token is None:
            return Denied(403, f"mutating endpoints are disabled: no control token configured "
                               f"(set control.token or ${TOKEN_ENV})")
        if not authorization:
            return Denied(401, "missing Authorization header: send 'Authorization: Bearer <token>'")
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return Denied(401, "Authorization must be 'Bearer <token>'")
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            return Denied(401, "invalid token")
        return None
