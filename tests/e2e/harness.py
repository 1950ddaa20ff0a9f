"""End-to-end harness: the real daemon (pipeline file -> engine) against the simulator over loopback.

`daemon` loads a pipeline file, points its venue at a running simulator with the mapping form
(``--set venue=kalshi --set venue.kalshi.rest_url=...``), builds the engine exactly as ``mmframe run``
does and runs it in the test's event loop, so a test can inspect the engine's ledger and compare it
with the simulator's ground truth (``GET /_sim/truth``). Faults go through the admin API.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mmframe.api import ONE_DOLLAR, parse_count
from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from mmframe.runtime.engine import Engine

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"
SYMMETRIC = PIPELINES / "symmetric.yaml"
MARKETS = ("SIM-RAIN-NYC", "SIM-FED-DEC", "SIM-BTC-100K", "SIM-ELECT-A")


@dataclass
class Account:
    """A funded simulator account: its key id, key file and user id."""

    key_id: str
    key_path: Path
    user_id: str


def new_account(
    sim: Any, tmp_path: Path, *, tier: str = "prime", name: str = "key", balance: int | None = None
) -> Account:
    """A funded account (``balance`` in price units; default the scenario's) and its key file."""
    key_id, pem = sim.create_api_key(balance, tier=tier)
    path = tmp_path / f"{name}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return Account(key_id, path, sim.server.keys.get(key_id).account_id)


def venue_overrides(sim: Any, account: Account) -> list[str]:
    """``--set`` overrides pointing a pipeline's venue at ``sim`` with ``account``'s key."""
    return [
        "venue=kalshi",
        f"venue.kalshi.rest_url={sim.rest_url}",
        f"venue.kalshi.ws_url={sim.ws_url}",
        f"venue.kalshi.key_id={account.key_id}",
        f"venue.kalshi.private_key_path={account.key_path}",
        "control.enabled=false",
    ]


class Admin:
    """The simulator's admin API over HTTP (faults and ground truth)."""

    def __init__(self, sim: Any) -> None:
        self.url = sim.admin_url

    async def fault(self, action: str, **params: Any) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"{self.url}/faults", json={"action": action, **params})
            response.raise_for_status()
            return dict(response.json())

    async def truth(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.url}/truth")
            response.raise_for_status()
            return dict(response.json())

    async def resting(self, user_id: str) -> list[dict[str, Any]]:
        return [o for o in (await self.truth())["resting_orders"] if o["user_id"] == user_id]

    async def quoting_everywhere(self, user_id: str) -> bool:
        """Whether ``user_id`` has an order resting in every market of `MARKETS`."""
        return {o["ticker"] for o in await self.resting(user_id)} == set(MARKETS)

    async def positions(self, user_id: str) -> dict[str, int]:
        return {
            p["ticker"]: parse_count(p["position_fp"])
            for p in (await self.truth())["positions"]
            if p["user_id"] == user_id and parse_count(p["position_fp"])
        }


@dataclass
class Daemon:
    """A running engine and the task that runs it."""

    engine: Engine
    task: asyncio.Task[int]

    def positions(self) -> dict[str, int]:
        return {t: p.position for t, p in self.engine.core.ledger.positions.items() if p.position}

    def working(self) -> list[Any]:
        return list(self.engine.core.tracker.live())

    def event_count(self, kind: str) -> int:
        return self.engine.stats.events[kind]

    def kalshi(self) -> Any:
        """The running Kalshi connection behind the daemon's venue (session, feed, executor)."""
        return self.engine.parts.venue.require_open()

    def books_differing(self, sim: Any) -> list[str]:
        """Tickers of `MARKETS` whose local book differs from the simulator's (empty: all equal)."""
        wrong = []
        for ticker in MARKETS:
            venue = sim.exchange.orderbook(ticker)
            book = self.engine.core.markets[ticker].book
            want_bids = [(p, s) for p, s in reversed(venue.yes)]
            want_asks = [(ONE_DOLLAR - p, s) for p, s in reversed(venue.no)]
            if not book.valid or book.bids() != want_bids or book.asks() != want_asks:
                wrong.append(ticker)
        return wrong

    async def stop(self) -> int:
        self.engine.request_stop("test")
        return await asyncio.wait_for(self.task, 30)


@asynccontextmanager
async def daemon(
    sim: Any, account: Account, pipeline: Path = SYMMETRIC, overrides: Sequence[str] = (),
    registry: Any = None,
) -> AsyncIterator[Daemon]:
    """Run ``pipeline`` against ``sim`` as ``account`` until the block exits (then stop it cleanly);
    ``registry``: the installed plugins plus the test's own (default: the installed ones)."""
    registry = registry or load_registry()
    loaded = load_pipeline(pipeline, registry, [*venue_overrides(sim, account), *overrides])
    engine = build_engine(loaded, registry)
    task = asyncio.create_task(engine.run(None), name="e2e-engine")
    running = Daemon(engine, task)
    try:
        await until(lambda: engine.ready or task.done(), what="the engine to start")
        if task.done():
            raise AssertionError(f"the engine stopped at startup: {engine.error} ({engine.stop_reason})")
        yield running
    finally:
        if not task.done():
            await running.stop()


async def until(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "a condition") -> Any:
    """Poll ``predicate`` every 20 ms until it is truthy (returns it) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def until_async(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "a condition") -> Any:
    """Like `until` for an async predicate."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


MMFRAME = [str(Path(sys.executable).parent / "mmframe")]
"""The ``mmframe`` console script of the running interpreter's environment."""
