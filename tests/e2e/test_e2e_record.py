"""``mmframe record``: a recording of the simulator replays to the simulator's own book states, and
``mmframe backtest`` runs a pipeline over it."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mmframe_kalshi.record import record
from mmframe_kalshi.replay import read_recording
from mmframe_kalshi.venue import build_venue

from mmframe.api import ONE_DOLLAR, BookSnapshotReceived, OrderBook
from mmframe.plugins import load_registry
from tests.e2e.harness import MARKETS, MMFRAME, Admin, new_account, until

pytestmark = pytest.mark.anyio


def _replayed_books(path: Path) -> dict[str, OrderBook]:
    books = {ticker: OrderBook(ticker) for ticker in MARKETS}
    for event in read_recording(path):
        book = books.get(getattr(event, "ticker", ""))
        if book is None:
            continue
        if event.kind == "BookInvalidated":
            book.invalidate()
        elif isinstance(event, BookSnapshotReceived) or event.kind == "BookDeltaReceived":
            book.apply(event)  # type: ignore[arg-type]
    return books


async def test_record_when_simulator_recorded_with_a_drop_replays_to_the_same_books(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    config = {"rest_url": sim.rest_url, "ws_url": sim.ws_url, "key_id": account.key_id,
              "private_key_path": str(account.key_path)}
    venue = build_venue(load_registry(), "kalshi", config, "record", MARKETS)
    out = tmp_path / "session.jsonl"
    stop = asyncio.Event()
    await venue.open()
    try:
        session = venue.require_open().session
        task = asyncio.create_task(record(session, MARKETS, out, duration=None, stop=stop))
        await until(lambda: session.ws.stats.frames > 20, what="frames")
        await admin.fault("drop_ws")  # the recording must carry the resubscription's fresh snapshots
        await until(lambda: session.ws.stats.connects == 2 and session.ws.connected, what="a reconnect")
        after = session.ws.stats.frames
        # The resubscription sends one snapshot per market; wait for those and a few deltas.
        await until(lambda: session.ws.stats.frames >= after + len(MARKETS) + 4, timeout=15,
                    what="frames after the reconnect")
        async with httpx.AsyncClient() as client:
            (await client.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
        await asyncio.sleep(0.3)  # frames in flight land
        stop.set()
        stats = await task
    finally:
        await venue.close()

    assert stats.frames > 0 and stats.books == len(MARKETS)
    # the book frames were subscribed with use_yes_price, and the recording says so before them
    kinds = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    options = [r for r in kinds if r["kind"] == "ws_options"]
    assert options == [{"t": options[0]["t"], "kind": "ws_options", "use_yes_price": True}]
    assert kinds.index(options[0]) < next(i for i, r in enumerate(kinds) if r["kind"] == "ws")
    books = _replayed_books(out)
    for ticker in MARKETS:
        truth = sim.exchange.orderbook(ticker)
        assert books[ticker].valid, ticker
        assert books[ticker].bids() == list(reversed(truth.yes)), ticker
        assert books[ticker].asks() == [(ONE_DOLLAR - p, s) for p, s in reversed(truth.no)], ticker

    pipeline = tmp_path / "replayed.yaml"
    pipeline.write_text(
        "name: replayed\nvenue: backtest\n"
        f"markets: [{', '.join(MARKETS)}]\n"
        f"feeds:\n  - use: replay\n    with: {{path: {out.name}}}\n"
        "strategy: {use: symmetric, with: {spread: 0.04, size: 10}}\n"
        "control: {enabled: false}\n"
    )
    result = subprocess.run([*MMFRAME, "backtest", str(pipeline)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "net PnL" in result.stdout
