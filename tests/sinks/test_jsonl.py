"""The jsonl sink: one JSON object per event, rotated by size without splitting a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmframe_sinks.jsonl import JsonlSink

from mmframe.api import BookDeltaReceived, BookSide, Leg, OrderFilled, TradingHalted

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _fill(i: int) -> OrderFilled:
    return OrderFilled(ts_ns=i, client_order_id=f"c{i}", ticker="M", order_id="o", trade_id=f"t{i}",
                       side=BookSide.BID, price=4500, count=100, fee=7, is_taker=False)


async def test_jsonl_when_events_written_each_is_one_exact_json_line(tmp_path: Path) -> None:
    path = tmp_path / "log" / "events.jsonl"
    sink = JsonlSink({"path": str(path)})
    await sink.start()
    await sink.write([_fill(1), TradingHalted(ts_ns=2, reason="limit")])
    await sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"kind": "OrderFilled", "ts_ns": 1, "client_order_id": "c1", "ticker": "M", "order_id": "o",
                        "trade_id": "t1", "side": "bid", "price": 4500, "count": 100, "fee": 7, "is_taker": False}
    assert lines[1] == {"kind": "TradingHalted", "ts_ns": 2, "reason": "limit"}


async def test_jsonl_when_file_would_exceed_max_bytes_rotates_and_keeps_backups(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink({"path": str(path), "max_bytes": 1024, "backups": 2})
    await sink.start()
    for batch in range(10):
        await sink.write([_fill(batch * 10 + i) for i in range(10)])
    await sink.close()

    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    seen: list[int] = []
    for name in ("events.jsonl.2", "events.jsonl.1", "events.jsonl"):
        text = (tmp_path / name).read_bytes()
        assert len(text) <= 1024 and text.endswith(b"\n")
        seen += [json.loads(line)["ts_ns"] for line in text.splitlines()]
    assert seen == list(range(seen[0], 100)), "the newest events, in order, none split or lost within the kept files"


async def test_jsonl_when_kinds_excluded_leaves_them_out(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink({"path": str(path), "exclude_kinds": ["BookDeltaReceived"]})
    await sink.start()
    await sink.write([BookDeltaReceived(ts_ns=1, ticker="M", leg=Leg.YES, price=4500, delta=100), _fill(2)])
    await sink.close()
    assert [json.loads(line)["kind"] for line in path.read_text().splitlines()] == ["OrderFilled"]


async def test_jsonl_when_restarted_appends_to_the_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    for i in range(2):
        sink = JsonlSink({"path": str(path)})
        await sink.start()
        await sink.write([_fill(i)])
        await sink.close()
    assert len(path.read_text().splitlines()) == 2
