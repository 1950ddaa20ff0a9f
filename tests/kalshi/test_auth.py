"""Credentials and request signing, verified with the `cryptography` library directly."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from mmframe_kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    PreSigner,
    RequestSigner,
    signing_text,
)
from mmframe_kalshi.credentials import KalshiCredentials, load_credentials
from mmframe_kalshi.errors import CredentialsError

from mmframe.api import TestClock
from tests.kalshi.conftest import pem_of

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def test_signing_text_when_path_has_query_strips_it() -> None:
    assert signing_text(1715793600123, "post", "/trade-api/v2/portfolio/orders?limit=5") == (
        b"1715793600123POST/trade-api/v2/portfolio/orders"
    )


def test_rsa_signed_headers_when_verified_with_public_key_pass(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = TestClock(start_ns=1_715_793_600_123_456_789)
    signer = RequestSigner(KalshiCredentials.from_pem(KEY_ID, pem_of(rsa_key)), clock)

    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance?subaccount=0")

    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1715793600123"
    rsa_key.public_key().verify(
        base64.b64decode(headers[HEADER_SIGNATURE]),
        b"1715793600123GET/trade-api/v2/portfolio/balance",
        PSS,
        hashes.SHA256(),
    )


def test_rsa_signature_when_message_differs_fails_verification(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = RequestSigner(KalshiCredentials(KEY_ID, rsa_key), TestClock())
    sig = base64.b64decode(signer.signature(1, "GET", "/trade-api/v2/a"))
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(sig, b"1GET/trade-api/v2/b", PSS, hashes.SHA256())


def test_ed25519_signed_headers_when_verified_with_public_key_pass(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    pem = pem_of(ed25519_key, serialization.PrivateFormat.PKCS8)
    signer = RequestSigner(KalshiCredentials.from_pem(KEY_ID, pem), TestClock(start_ns=5_000_000))

    headers = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")

    ed25519_key.public_key().verify(
        base64.b64decode(headers[HEADER_SIGNATURE]), b"5POST/trade-api/v2/portfolio/events/orders"
    )


def test_credentials_when_pem_is_garbage_raise_clear_error() -> None:
    with pytest.raises(CredentialsError, match="not a valid PEM private key"):
        KalshiCredentials.from_pem(
            KEY_ID, "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"
        )


def test_credentials_when_not_pem_at_all_raise_clear_error() -> None:
    with pytest.raises(CredentialsError, match="not PEM text"):
        KalshiCredentials.from_pem(KEY_ID, "hello")


def test_credentials_when_key_is_ec_raise_wrong_key_type() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CredentialsError, match=r"RSA .* or Ed25519"):
        KalshiCredentials.from_pem(KEY_ID, pem_of(key, serialization.PrivateFormat.PKCS8))


def test_credentials_when_public_key_given_raise_clear_error(rsa_key: rsa.RSAPrivateKey) -> None:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(CredentialsError, match="is a public key"):
        KalshiCredentials.from_pem(KEY_ID, public)


def test_load_credentials_when_key_id_missing_raise_clear_error(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(CredentialsError, match="KALSHI_API_KEY"):
        load_credentials(env={"KALSHI_PRIVATE_KEY": pem_of(rsa_key)})


def test_load_credentials_when_key_missing_raise_clear_error() -> None:
    with pytest.raises(CredentialsError, match="KALSHI_PRIVATE_KEY"):
        load_credentials(env={"KALSHI_API_KEY": KEY_ID})


def test_load_credentials_when_env_has_pem_with_escaped_newlines_loads(rsa_key: rsa.RSAPrivateKey) -> None:
    escaped = pem_of(rsa_key).replace("\n", "\\n")
    creds = load_credentials(env={"KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY": escaped})
    assert creds.key_type == "rsa-2048"


def test_load_credentials_when_explicit_values_given_they_win(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(pem_of(rsa_key))
    path.chmod(0o600)
    creds = load_credentials(key_id="explicit", private_key_path=path, env={"KALSHI_API_KEY": "env"})
    assert creds.key_id == "explicit"


def test_credentials_when_key_file_world_readable_warn(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(pem_of(rsa_key))
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="mmframe_kalshi.credentials"):
        load_credentials(env={"KALSHI_API_KEY": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(path)})
    assert "chmod 600" in caplog.text
    assert "PRIVATE KEY" not in caplog.text


def test_credentials_when_key_file_private_do_not_warn(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(pem_of(rsa_key))
    os.chmod(path, 0o600)
    with caplog.at_level(logging.WARNING):
        KalshiCredentials.from_file(KEY_ID, path)
    assert caplog.text == ""


def test_credentials_repr_when_printed_shows_no_key_material(rsa_key: rsa.RSAPrivateKey) -> None:
    creds = KalshiCredentials.from_pem(KEY_ID, pem_of(rsa_key))
    text = repr(creds) + str(creds)
    assert "a952bcbe…" in text
    assert KEY_ID not in text
    assert "PRIVATE" not in text and "RSAPrivateKey" not in text


def test_presigner_when_taken_is_one_use_and_fresh(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = TestClock(start_ns=10_000 * 1_000_000)
    signer = RequestSigner(KalshiCredentials(KEY_ID, rsa_key), clock)
    presigner = PreSigner(signer, clock, max_age_ms=2_000)
    path = "/trade-api/v2/portfolio/events/orders/batched"
    presigner.register("POST", path)

    assert presigner.refill() == 1
    first = presigner.take("POST", path)
    second = presigner.take("POST", path)

    assert first is not None and first[HEADER_TIMESTAMP] == "10000"
    assert second is None
    rsa_key.public_key().verify(
        base64.b64decode(first[HEADER_SIGNATURE]), f"10000POST{path}".encode(), PSS, hashes.SHA256()
    )


def test_presigner_when_signature_too_old_refuses_it(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = TestClock(start_ns=0)
    presigner = PreSigner(RequestSigner(KalshiCredentials(KEY_ID, rsa_key), clock), clock, max_age_ms=2_000)
    presigner.register("DELETE", "/p")
    presigner.refill()
    clock.advance(2.001)
    assert presigner.take("DELETE", "/p") is None
    assert presigner.misses == 1
