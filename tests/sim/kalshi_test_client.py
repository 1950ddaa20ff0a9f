"""A minimal, independent Kalshi client for protocol tests, written from ../shared/kalshi/API.md.

Plain httpx + websockets + cryptography, on purpose not the project's Kalshi plugin: the simulator
must be faithful to Kalshi, so it is tested with a client that knows only the published protocol.
"""

from __future__ import annotations

import base64
import functools
import pathlib
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import jsonschema
import orjson
import referencing
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from websockets.asyncio.client import ClientConnection, connect

WS_PATH = "/trade-api/ws/v2"


class Signer:
    """Signs ``timestamp + METHOD + path`` (query stripped) as API.md §2 describes."""

    def __init__(self, key_id: str, private_key_pem: bytes | str) -> None:
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        # our own keys: skip the (slow) RSA consistency check
        key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"unsupported key type {type(key).__name__}")
        self.key_id = key_id
        self._key = key

    def signature(self, timestamp_ms: str, method: str, path: str) -> str:
        message = (timestamp_ms + method.upper() + path.split("?")[0]).encode("utf-8")
        if isinstance(self._key, rsa.RSAPrivateKey):
            raw = self._key.sign(
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                hashes.SHA256(),
            )
        else:
            raw = self._key.sign(message)
        return base64.b64encode(raw).decode("utf-8")

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three KALSHI-ACCESS headers for a request to ``path`` (full path incl. /trade-api/v2)."""
        ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        return {
            "KALSHI-ACCESS-KEY": self.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": self.signature(ts, method, path),
        }


class KalshiTestClient:
    """REST + WebSocket client of one API key. ``path`` arguments are relative to the REST base URL."""

    def __init__(
        self, rest_url: str, ws_url: str, key_id: str, private_key_pem: bytes | str,
        *, now_ms: Callable[[], int] | None = None,
    ) -> None:
        """``now_ms`` supplies signature timestamps (default: the real time), e.g. a test clock's."""
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self.base_path = urlsplit(self.rest_url).path
        self.signer = Signer(key_id, private_key_pem)
        self.now_ms = now_ms
        # TLS settings only matter for https (building a verifying context costs ~0.2 s)
        self.http = httpx.AsyncClient(timeout=10.0, verify=self.rest_url.startswith("https"))

    def _timestamp(self) -> int | None:
        return self.now_ms() if self.now_ms is not None else None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> KalshiTestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | None = None,
        signed: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; signed with this key unless ``signed`` is False."""
        all_headers: dict[str, str] = {}
        if signed:
            all_headers.update(self.signer.headers(method, self.base_path + path, timestamp_ms=self._timestamp()))
        if json is not None:
            content = orjson.dumps(json)
        if content is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return await self.http.request(
            method, self.rest_url + path, params=params, content=content, headers=all_headers
        )

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    def ws_headers(self) -> dict[str, str]:
        return self.signer.headers("GET", WS_PATH, timestamp_ms=self._timestamp())

    async def connect_ws(self, *, headers: Mapping[str, str] | None = None) -> KalshiWs:
        """Open the WebSocket with a signed handshake (or the given ``headers``)."""
        conn = await connect(
            self.ws_url, additional_headers=dict(headers if headers is not None else self.ws_headers()),
            max_size=2**24,
        )
        return KalshiWs(conn)


class KalshiWs:
    """A WebSocket session: JSON commands out, parsed messages in."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self._next_id = 1

    async def command(self, cmd: str, params: Mapping[str, Any] | None = None, *, cmd_id: int | None = None) -> int:
        """Send a command; returns its id."""
        if cmd_id is None:
            cmd_id = self._next_id
            self._next_id += 1
        frame: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
        if params is not None:
            frame["params"] = dict(params)
        await self.conn.send(orjson.dumps(frame).decode())
        return cmd_id

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            raw = await self.conn.recv()
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def recv_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read until ``predicate`` holds; returns (the matching message, everything read before it)."""
        seen: list[dict[str, Any]] = []
        with anyio.fail_after(timeout):
            while True:
                message = await self.recv(timeout)
                if predicate(message):
                    return message, seen
                seen.append(message)

    async def close(self) -> None:
        await self.conn.close()


# --- Response shapes: JSON Schemas in schemas/, written from API.md, the samples and the spec ---

SCHEMA_DIR = pathlib.Path(__file__).parent / "schemas"


@functools.cache
def _schema_registry() -> referencing.Registry:
    resources = [
        (path.name, referencing.Resource.from_contents(orjson.loads(path.read_bytes())))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    return referencing.Registry().with_resources(resources)


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = orjson.loads((SCHEMA_DIR / name).read_bytes())
    return jsonschema.Draft202012Validator(schema, registry=_schema_registry())


def assert_shape(schema_name: str, body: Any) -> None:
    """Fail with every violation listed when ``body`` does not match ``schemas/<schema_name>``."""
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:20]]
        raise AssertionError(f"{schema_name} violated:\n" + "\n".join(lines))
