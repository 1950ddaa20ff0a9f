"""Kalshi request signatures (API.md §2): API keys, and verification of the three KALSHI-ACCESS headers.

Pre-sign text = timestamp (Unix ms, decimal) + METHOD + path without query. RSA keys sign with
RSA-PSS / SHA-256 / MGF1(SHA-256) / salt = digest length; Ed25519 keys sign the same text. Every
failure answers 401 with the bodies captured on Kalshi's demo exchange.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mmframe.api import Clock

KEY_HEADER = "kalshi-access-key"
TIMESTAMP_HEADER = "kalshi-access-timestamp"
SIGNATURE_HEADER = "kalshi-access-signature"

DEFAULT_TIMESTAMP_WINDOW_MS = 30_000
"""How far a request's timestamp may be from the server clock (Kalshi's is unpublished; FIX uses 30 s)."""

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_SHA256 = hashes.SHA256()

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class AuthError(Exception):
    """A request failed authentication; ``body`` is the wire's nested error object."""

    def __init__(self, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{code}: {details or message}")
        self.code = code
        self.message = message
        self.details = details

    @property
    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def _missing() -> AuthError:
    return AuthError("signature_is_missing_from_headers", "signature is missing from headers")


def _expired() -> AuthError:
    return AuthError("header_timestamp_expired", "header timestamp expired")


def _not_found() -> AuthError:
    return AuthError("authentication_error", "authentication_error", "NOT_FOUND")


def _bad_signature() -> AuthError:
    return AuthError(
        "authentication_error",
        "authentication_error",
        "rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE",
    )


@dataclass(slots=True)
class ApiKey:
    """A registered API key: its id, loaded public key (parsed once), owning account and rate tier."""

    key_id: str
    public_key: PublicKey
    account_id: str
    tier: str
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"read", "write"}))

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` signs ``message`` under this key."""
        try:
            if isinstance(self.public_key, rsa.RSAPublicKey):
                self.public_key.verify(signature, message, _PSS, _SHA256)
            else:
                self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def load_public_key(pem: bytes | str) -> PublicKey:
    """Load an RSA or Ed25519 public key from PEM (SubjectPublicKeyInfo or PKCS#1 RSA)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported key type {type(key).__name__}: use RSA or Ed25519")
    return key


def generate_rsa_key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 key pair as (private PEM in PKCS#1 like Kalshi's UI keys, public PEM)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


class KeyRegistry:
    """API keys by id. Public keys are parsed at registration so a request only does the math."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    def register(self, public_key_pem: bytes | str, *, account_id: str, tier: str, key_id: str | None = None,
                 scopes: frozenset[str] = frozenset({"read", "write"})) -> ApiKey:
        """Register a public key for ``account_id``; returns the new key (a fresh UUID id unless given).
        ``scopes``: ``{"read"}`` makes a read-only key (writes answered 403)."""
        key = ApiKey(key_id or str(uuid.uuid4()), load_public_key(public_key_pem), account_id, tier, frozenset(scopes))
        self._keys[key.key_id] = key
        return key

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def set_tier(self, key_id: str, tier: str) -> None:
        self._keys[key_id].tier = tier

    def __iter__(self) -> Iterator[ApiKey]:
        return iter(list(self._keys.values()))


class SignatureVerifier:
    """Checks the KALSHI-ACCESS headers of one request against the registry and the clock."""

    def __init__(self, keys: KeyRegistry, clock: Clock, window_ms: int = DEFAULT_TIMESTAMP_WINDOW_MS) -> None:
        self.keys = keys
        self.clock = clock
        self.window_ms = window_ms

    def verify(
        self, key_id: str | None, timestamp: str | None, signature: str | None, method: str, path: str
    ) -> ApiKey:
        """The authenticated key, or raise `AuthError` with the wire's 401 body."""
        if not key_id or not timestamp or not signature:
            raise _missing()
        if not timestamp.isdigit():
            raise _expired()
        now_ms = self.clock.now_ns() // 1_000_000
        if abs(now_ms - int(timestamp)) > self.window_ms:
            raise _expired()
        key = self.keys.get(key_id)
        if key is None:
            raise _not_found()
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise _bad_signature() from None
        if not key.verify(raw, f"{timestamp}{method}{path}".encode()):
            raise _bad_signature()
        return key


def new_account_id() -> str:
    """A user id in Kalshi's UUID form."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
