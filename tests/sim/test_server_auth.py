"""Signature checks of the simulator (API.md §2) over real sockets, with the independent test client."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from mmframe_sim.auth import AuthError, KeyRegistry, SignatureVerifier, generate_rsa_key_pair
from websockets.exceptions import InvalidStatus

from mmframe.api import TestClock
from tests.sim.kalshi_test_client import Signer, assert_shape
from tests.sim.sim_harness import client_for, running

pytestmark = pytest.mark.anyio

INCORRECT = "rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE"


def _error(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 401, response.text
    body = response.json()
    assert_shape("error_nested.json", body)
    return body["error"]  # type: ignore[no-any-return]


async def test_auth_when_signature_valid_returns_balance() -> None:
    async with running() as s:
        response = await s.alice.get("/portfolio/balance")
        assert response.status_code == 200
        assert_shape("get_balance.json", response.json())


async def test_auth_when_query_string_present_signs_path_only() -> None:
    async with running() as s:
        response = await s.alice.get("/markets", params={"limit": 1, "status": "open"})
        assert response.status_code == 200
        assert len(response.json()["markets"]) == 1


async def test_auth_when_headers_missing_returns_401_signature_missing() -> None:
    async with running() as s:
        error = _error(await s.alice.get("/portfolio/balance", signed=False))
        assert error["code"] == "signature_is_missing_from_headers"
        # public market data needs a signature too (spec 3.30+)
        assert _error(await s.alice.get("/markets", signed=False))["code"] == "signature_is_missing_from_headers"
        assert _error(await s.alice.get("/exchange/status", signed=False))["code"] == (
            "signature_is_missing_from_headers"
        )


async def test_auth_when_timestamp_outside_window_returns_401_expired() -> None:
    async with running() as s:
        headers = s.alice.signer.headers("GET", "/trade-api/v2/portfolio/balance", timestamp_ms=1_000_000)
        error = _error(await s.alice.get("/portfolio/balance", signed=False, headers=headers))
        assert error["code"] == "header_timestamp_expired"


async def test_auth_when_key_unknown_returns_401_not_found() -> None:
    async with running() as s:
        pem, _ = generate_rsa_key_pair()
        stranger = client_for(s.sim, "00000000-0000-4000-8000-000000000000", pem)
        async with stranger:
            error = _error(await stranger.get("/portfolio/balance"))
        assert error == {"code": "authentication_error", "message": "authentication_error", "details": "NOT_FOUND"}


async def test_auth_when_signed_with_other_key_returns_401_incorrect_signature() -> None:
    async with running() as s:
        other_pem, _ = generate_rsa_key_pair()
        forger = client_for(s.sim, s.alice.signer.key_id, other_pem)
        async with forger:
            error = _error(await forger.get("/portfolio/balance"))
        assert error["code"] == "authentication_error"
        assert error["details"] == INCORRECT


async def test_auth_when_signature_for_other_path_or_method_returns_401() -> None:
    async with running() as s:
        for method, path in (("GET", "/trade-api/v2/portfolio/positions"), ("POST", "/trade-api/v2/portfolio/balance")):
            headers = s.alice.signer.headers(method, path)
            error = _error(await s.alice.get("/portfolio/balance", signed=False, headers=headers))
            assert error["details"] == INCORRECT


async def test_auth_when_signature_not_base64_returns_401() -> None:
    async with running() as s:
        headers = s.alice.signer.headers("GET", "/trade-api/v2/portfolio/balance")
        headers["KALSHI-ACCESS-SIGNATURE"] = "%%%not-base64%%%"
        assert _error(await s.alice.get("/portfolio/balance", signed=False, headers=headers))["details"] == INCORRECT


async def test_auth_when_window_configured_applies_it() -> None:
    clock = TestClock()
    lag_ms = [5_000]
    async with running(wall_clock=clock, timestamp_window_ms=5_000,
                       now_ms=lambda: clock.now_ns() // 1_000_000 - lag_ms[0]) as s:
        assert (await s.alice.get("/portfolio/balance")).status_code == 200
        lag_ms[0] = 5_001
        assert _error(await s.alice.get("/portfolio/balance"))["code"] == "header_timestamp_expired"


async def test_auth_when_ed25519_key_registered_accepts_its_signatures() -> None:
    async with running() as s:
        private = ed25519.Ed25519PrivateKey.generate()
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_id = s.sim.register_public_key(public_pem)
        async with client_for(s.sim, key_id, private_pem) as client:
            assert (await client.get("/portfolio/balance")).status_code == 200


async def test_auth_when_websocket_handshake_unsigned_or_bad_returns_401() -> None:
    async with running() as s:
        with pytest.raises(InvalidStatus) as unsigned:
            await s.alice.connect_ws(headers={})
        assert unsigned.value.response.status_code == 401
        bad = s.alice.ws_headers()
        bad["KALSHI-ACCESS-SIGNATURE"] = base64.b64encode(b"x" * 256).decode()
        with pytest.raises(InvalidStatus) as forged:
            await s.alice.connect_ws(headers=bad)
        assert forged.value.response.status_code == 401
        ws = await s.alice.connect_ws()
        await ws.close()


def test_signature_verifier_when_timestamp_at_window_edge_accepts_and_past_it_rejects() -> None:
    clock = TestClock()
    keys = KeyRegistry()
    private_pem, public_pem = generate_rsa_key_pair()
    key = keys.register(public_pem, account_id="u1", tier="advanced")
    verifier = SignatureVerifier(keys, clock, window_ms=30_000)
    signer = Signer(key.key_id, private_pem)
    now_ms = clock.now_ns() // 1_000_000
    for offset in (-30_000, 0, 30_000):
        ts = str(now_ms + offset)
        assert verifier.verify(key.key_id, ts, signer.signature(ts, "GET", "/p"), "GET", "/p") is key
    for offset in (-30_001, 30_001):
        ts = str(now_ms + offset)
        with pytest.raises(AuthError) as exc:
            verifier.verify(key.key_id, ts, signer.signature(ts, "GET", "/p"), "GET", "/p")
        assert exc.value.code == "header_timestamp_expired"


def test_signature_verifier_when_timestamp_not_digits_rejects_as_expired() -> None:
    keys = KeyRegistry()
    _, public_pem = generate_rsa_key_pair()
    key = keys.register(public_pem, account_id="u1", tier="advanced")
    with pytest.raises(AuthError) as exc:
        SignatureVerifier(keys, TestClock()).verify(key.key_id, "12.5", "AAAA", "GET", "/p")
    assert exc.value.code == "header_timestamp_expired"


def test_key_registry_when_pem_invalid_raises_clear_error() -> None:
    with pytest.raises(ValueError, match="not a PEM public key"):
        KeyRegistry().register(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
                               account_id="u", tier="basic")


async def test_auth_when_server_clock_injected_checks_timestamps_against_it() -> None:
    clock = TestClock()  # 2023: real-time signatures are far outside the window
    async with running(wall_clock=clock, now_ms=lambda: clock.now_ns() // 1_000_000) as s:
        assert (await s.alice.get("/portfolio/balance")).status_code == 200
        real_time = s.alice.signer.headers("GET", "/trade-api/v2/portfolio/balance")
        error = _error(await s.alice.get("/portfolio/balance", signed=False, headers=real_time))
        assert error["code"] == "header_timestamp_expired"
