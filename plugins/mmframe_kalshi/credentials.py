"""Kalshi API credentials: a key id and an RSA or Ed25519 private key.

Sources, first match wins: explicit values (the pipeline's venue config), then the environment:
``KALSHI_API_KEY`` (key id), ``KALSHI_PRIVATE_KEY`` (PEM text) or ``KALSHI_PRIVATE_KEY_PATH``.
Key material never leaves this object: ``repr`` shows only the key type and a shortened key id,
and errors never quote the PEM.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mmframe_kalshi.errors import CredentialsError

logger = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

ENV_KEY_ID = "KALSHI_API_KEY"
ENV_PRIVATE_KEY = "KALSHI_PRIVATE_KEY"
ENV_PRIVATE_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"


@dataclass(frozen=True, repr=False, eq=False)
class KalshiCredentials:
    """A key id and its private key. Build with `load_credentials`, `from_pem` or `from_file`."""

    key_id: str
    private_key: PrivateKey

    def __post_init__(self) -> None:
        if not self.key_id or not self.key_id.strip():
            raise CredentialsError(
                f"missing Kalshi key id: set {ENV_KEY_ID} or the venue's key_id "
                "(the UUID shown next to the key in Kalshi's API keys page)"
            )
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise CredentialsError(
                f"unsupported private key type {type(self.private_key).__name__}: Kalshi accepts RSA or Ed25519"
            )

    @property
    def key_type(self) -> str:
        """``rsa-<bits>`` or ``ed25519``."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return f"rsa-{self.private_key.key_size}"
        return "ed25519"

    @classmethod
    def from_pem(cls, key_id: str, pem: str | bytes, *, source: str = "private key") -> KalshiCredentials:
        """Load a PEM private key (PKCS#1 or PKCS#8, unencrypted). ``source`` names it in errors."""
        return cls(key_id, _load_pem(pem, source))

    @classmethod
    def from_file(cls, key_id: str, path: str | os.PathLike[str]) -> KalshiCredentials:
        """Load a PEM private key file, warning when group or others can read it."""
        file = Path(path).expanduser()
        try:
            mode = file.stat().st_mode
            data = file.read_bytes()
        except OSError as exc:
            raise CredentialsError(f"cannot read Kalshi private key file {file}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning(
                "Kalshi private key file %s is accessible by group/others (mode %s); run: chmod 600 %s",
                file,
                oct(stat.S_IMODE(mode)),
                file,
            )
        return cls(key_id, _load_pem(data, f"private key file {file}"))

    def public_key_pem(self) -> bytes:
        """The public half, PEM (SubjectPublicKeyInfo); safe to show or register with a venue."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"KalshiCredentials(key_id={_short(self.key_id)!r}, key_type={self.key_type!r})"

    __str__ = __repr__


def load_credentials(
    *,
    key_id: str | None = None,
    private_key_pem: str | bytes | None = None,
    private_key_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> KalshiCredentials:
    """Resolve credentials: explicit arguments first, then ``KALSHI_*`` environment variables.

    Raises `CredentialsError` with what to set when the key id or the key is missing or unusable.
    """
    env = os.environ if env is None else env
    key_id = key_id or env.get(ENV_KEY_ID, "")
    if not key_id:
        raise CredentialsError(
            f"missing Kalshi key id: set {ENV_KEY_ID} or the venue's key_id "
            "(the UUID shown next to the key in Kalshi's API keys page)"
        )
    if private_key_pem:
        return KalshiCredentials.from_pem(key_id, private_key_pem, source="private key")
    if private_key_path:
        return KalshiCredentials.from_file(key_id, private_key_path)
    if env.get(ENV_PRIVATE_KEY):
        return KalshiCredentials.from_pem(key_id, env[ENV_PRIVATE_KEY], source=ENV_PRIVATE_KEY)
    if env.get(ENV_PRIVATE_KEY_PATH):
        return KalshiCredentials.from_file(key_id, env[ENV_PRIVATE_KEY_PATH])
    raise CredentialsError(
        f"missing Kalshi private key: set {ENV_PRIVATE_KEY} (PEM text) or {ENV_PRIVATE_KEY_PATH} "
        "(a file), or the venue's private_key_path"
    )


def _load_pem(pem: str | bytes, source: str) -> PrivateKey:
    data = pem.encode() if isinstance(pem, str) else pem
    # Environment variables often carry literal "\n" instead of newlines.
    if b"\\n" in data and b"\n" not in data.strip():
        data = data.replace(b"\\n", b"\n")
    if b"-----BEGIN" not in data:
        raise CredentialsError(f"{source} is not PEM text (expected '-----BEGIN ... PRIVATE KEY-----')")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise CredentialsError(f"{source} is a public key; Kalshi needs the private key that signs requests")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CredentialsError(f"{source} is encrypted; provide an unencrypted PEM private key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        reason = type(exc).__name__
        raise CredentialsError(f"{source} is not a valid PEM private key ({reason})") from None
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "") or type(key).__name__
    raise CredentialsError(f"{source} is a {kind} key; Kalshi accepts RSA (RSA-PSS) or Ed25519 keys only")


def _short(key_id: str) -> str:
    return key_id[:8] + "…" if len(key_id) > 8 else key_id
