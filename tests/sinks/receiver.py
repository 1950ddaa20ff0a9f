"""A real HTTP receiver on a loopback port (starlette + uvicorn) that records what it is sent."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Receiver:
    """``fail_with`` statuses are answered first, one per request, then 200."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    fail_with: list[int] = field(default_factory=list)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> JSONResponse:
        state.attempts += 1
        if state.fail_with:
            return JSONResponse({"error": "try later"}, status_code=state.fail_with.pop(0))
        state.received.append(await request.json())
        return JSONResponse({"ok": True})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/secret-path-token"
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/hooks/{rest:path}", hook, methods=["POST"])]),
                                           log_level="warning", lifespan="off"))
    server.config.load()
    server.lifespan = server.config.lifespan_class(server.config)
    await server.startup(sockets=[sock])
    try:
        yield state
    finally:
        with anyio.CancelScope(shield=True):
            await server.shutdown(sockets=[sock])
        sock.close()
