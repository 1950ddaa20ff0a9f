"""The ``replay`` feed: Kalshi messages as received -> market events; the example recording reaches
the book states its generator recorded; sequence gaps invalidate; bad lines name file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmframe_kalshi.replay import ReplayError, ReplayFeed, read_recording, read_records

from mmframe.api import (
    BookDeltaReceived,
    BookInvalidated,
    BookSide,
    BookSnapshotReceived,
    FeeType,
    MarketInfoReceived,
    MarketStatusChanged,
    OrderBook,
    TradeReported,
)

DATA = Path(__file__).resolve().parents[2] / "pipelines" / "data"
EXAMPLE = DATA / "replay-example.jsonl"
T = "KX-TEST"


def _ladders(book: OrderBook) -> dict[str, list[list[str]]]:
    def fmt(levels: list[tuple[int, int]]) -> list[list[str]]:
        return [[f"{p // 10_000}.{p % 10_000:04d}", f"{s // 100}.{s % 100:02d}"] for p, s in sorted(levels)]

    yes = book.bids()
    no = [(book.payout - price, size) for price, size in book.asks()]
    return {"yes_dollars": fmt(yes), "no_dollars": fmt(no)}


def _write(tmp_path: Path, *records: object) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def _snapshot(t: int, sid: int, seq: int, yes: list[list[str]], no: list[list[str]]) -> dict[str, object]:
    return {"t": t, "kind": "ws", "msg": {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": {
        "market_ticker": T, "market_id": "m", "yes_dollars_fp": yes, "no_dollars_fp": no}}}


def _delta(t: int, sid: int, seq: int, side: str, price: str, delta: str) -> dict[str, object]:
    return {"t": t, "kind": "ws", "msg": {"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": {
        "market_ticker": T, "market_id": "m", "price_dollars": price, "delta_fp": delta, "side": side,
        "ts_ms": t // 1_000_000}}}


def test_replay_when_example_replayed_reaches_recorded_book_states() -> None:
    expected = json.loads((DATA / "replay-example.expected.json").read_text(encoding="utf-8"))
    checkpoints = {int(line): books for line, books in expected["books_after_line"].items()}
    book = OrderBook(expected["ticker"])
    seen = 0
    for number, events in read_records(EXAMPLE):
        for event in events:
            if isinstance(event, BookSnapshotReceived | BookDeltaReceived):
                book.apply(event)
            elif isinstance(event, BookInvalidated):
                book.invalidate()
        if number in checkpoints:
            assert book.valid, f"book invalid after line {number}"
            assert _ladders(book) == checkpoints[number], f"book differs after line {number}"
            seen += 1
    assert seen == len(checkpoints) >= 4


def test_replay_when_example_read_holds_every_kind_of_market_event() -> None:
    events = list(read_recording(EXAMPLE))
    kinds = {type(e) for e in events}
    assert {MarketInfoReceived, BookSnapshotReceived, BookDeltaReceived, TradeReported, BookInvalidated} <= kinds
    info = next(e for e in events if isinstance(e, MarketInfoReceived)).info
    assert info.fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES and info.grid is not None
    assert [e.ts_ns for e in events] == sorted(e.ts_ns for e in events)


def test_replay_when_sequence_gaps_invalidates_until_next_snapshot(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _snapshot(1, 1, 1, [["0.4000", "10.00"]], [["0.5500", "5.00"]]),
        _delta(2, 1, 2, "yes", "0.4100", "3.00"),
        _delta(3, 1, 4, "yes", "0.4200", "1.00"),  # seq 3 was lost
        {"t": 4, "kind": "rest", "path": f"/markets/{T}/orderbook",
         "body": {"orderbook_fp": {"yes_dollars": [["0.4200", "1.00"]], "no_dollars": [["0.5500", "5.00"]]}}},
    )
    events = list(read_recording(path))
    assert [type(e) for e in events] == [BookSnapshotReceived, BookDeltaReceived, BookInvalidated, BookSnapshotReceived]
    gap = events[2]
    assert isinstance(gap, BookInvalidated) and "2 -> 4" in gap.reason
    book = OrderBook(T)
    for event in events:
        book.invalidate() if isinstance(event, BookInvalidated) else book.apply(event)  # type: ignore[arg-type]
    assert book.valid and book.best_bid() == 4200 and book.best_ask() == 4500


def test_replay_when_frame_recorded_as_text_parses_it(tmp_path: Path) -> None:
    frame = json.dumps({"type": "trade", "sid": 2, "seq": 1, "msg": {
        "trade_id": "x", "market_ticker": T, "yes_price_dollars": "0.4300", "no_price_dollars": "0.5700",
        "count_fp": "3.00", "taker_outcome_side": "no", "taker_book_side": "ask", "ts": 1}})
    (event,) = read_recording(_write(tmp_path, {"t": 7, "kind": "ws", "msg": frame}))
    assert isinstance(event, TradeReported)
    assert (event.price, event.count, event.taker_side, event.ts_ns) == (4300, 300, BookSide.ASK, 7)


def test_replay_when_own_account_and_ack_messages_yields_nothing(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"t": 1, "kind": "ws", "msg": {"id": 1, "type": "subscribed", "msg": {"channel": "fill", "sid": 9}}},
        {"t": 2, "kind": "ws", "msg": {"type": "fill", "sid": 9, "msg": {"trade_id": "t"}}},
        {"t": 3, "kind": "ws", "msg": {"type": "ticker", "sid": 3, "msg": {"market_ticker": T}}},
    )
    assert list(read_recording(path)) == []


def test_replay_when_lifecycle_and_orderbooks_rest_records_converts_them(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"t": 1, "kind": "rest", "path": "/trade-api/v2/markets/orderbooks", "body": {"orderbooks": [
            {"ticker": T, "orderbook_fp": {"yes_dollars": [["0.1000", "2.00"]], "no_dollars": []}}]}},
        {"t": 2, "kind": "ws", "msg": {"type": "market_lifecycle_v2", "sid": 5, "seq": 1, "msg": {
            "event_type": "determined", "market_ticker": T, "result": "yes"}}},
    )
    snapshot, status = read_recording(path)
    assert isinstance(snapshot, BookSnapshotReceived) and snapshot.yes_bids == ((1000, 200),)
    assert isinstance(status, MarketStatusChanged) and status.status == "determined"


def test_replay_when_recorded_with_use_yes_price_reads_no_ladder_as_yes_prices(tmp_path: Path) -> None:
    # The same book twice: NO-leg prices (before any ws_options record), then YES-leg prices.
    path = _write(
        tmp_path,
        _snapshot(1, 1, 1, [["0.4700", "3.00"]], [["0.4800", "3.00"]]),
        _delta(2, 1, 2, "no", "0.4700", "1.00"),
        {"t": 3, "kind": "ws_options", "use_yes_price": True},
        _snapshot(4, 2, 1, [["0.4700", "3.00"]], [["0.5200", "3.00"]]),
        _delta(5, 2, 2, "no", "0.5300", "1.00"),
    )
    no_leg_snapshot, no_leg_delta, yes_leg_snapshot, yes_leg_delta = read_recording(path)
    assert no_leg_snapshot.no_bids == yes_leg_snapshot.no_bids == ((4800, 300),)
    assert (no_leg_delta.price, yes_leg_delta.price) == (4700, 4700)
    book = OrderBook(T)
    book.apply_snapshot(yes_leg_snapshot.yes_bids, yes_leg_snapshot.no_bids)
    assert book.best_ask() == 5200


def test_replay_when_event_fee_update_recorded_changes_and_restores_fee_terms(tmp_path: Path) -> None:
    market = {"ticker": T, "event_ticker": "KX-EV", "status": "active"}
    series = {"ticker": "KX", "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 1}

    def fee_update(t: int, seq: int, fee_type: str | None, multiplier: float | None) -> dict[str, object]:
        return {"t": t, "kind": "ws", "msg": {"type": "event_fee_update", "sid": 5, "seq": seq, "msg": {
            "event_ticker": "KX-EV", "fee_type_override": fee_type, "fee_multiplier_override": multiplier}}}

    path = _write(
        tmp_path,
        {"t": 1, "kind": "market", "body": market, "series": series},
        fee_update(2, 1, "quadratic", 2),
        fee_update(3, 2, None, None),
        fee_update(4, 3, None, None),  # already cleared: nothing changes, nothing published
    )
    infos = [e.info for e in read_recording(path) if isinstance(e, MarketInfoReceived)]
    assert [(i.fee_type, i.fee_multiplier_bps) for i in infos] == [
        (FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000),
        (FeeType.QUADRATIC, 20_000),
        (FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "rec.jsonl:2: not JSON"),
        ('{"kind": "ws", "msg": {}}', "rec.jsonl:2: 't' must be the receive time"),
        ('{"t": 0, "kind": "ws", "msg": {}}', "rec.jsonl:2: 't' goes backwards"),
        ('{"t": 9, "kind": "fix"}', "rec.jsonl:2: unknown kind 'fix'"),
        ('{"t": 9, "kind": "rest", "path": "/portfolio/fills", "body": {}}', "rec.jsonl:2: unsupported rest path"),
        ('{"t": 9, "kind": "ws", "msg": {"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {}}}',
         "rec.jsonl:2: .*orderbook_delta .* lacks field"),
        ('{"t": 9, "kind": "ws", "msg": {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": '
         '{"market_ticker": "X", "yes_dollars_fp": [["0.5", "1.001"]]}}}', "rec.jsonl:2: .*1.001"),
        ('{"t": 9, "kind": "ws_options", "use_yes_price": "yes"}', "rec.jsonl:2: 'use_yes_price' must be true"),
    ],
)
def test_replay_when_line_is_bad_raises_with_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, _snapshot(5, 1, 1, [], []), line)
    with pytest.raises(ReplayError, match=message):
        list(read_recording(path))


def test_replay_feed_when_path_is_relative_resolves_against_pipeline_file(tmp_path: Path) -> None:
    import logging

    from mmframe.api import ComponentContext, TestClock

    (tmp_path / "data").mkdir()
    recording = tmp_path / "data" / "r.jsonl"
    recording.write_text(json.dumps(_snapshot(1, 1, 1, [["0.4000", "1.00"]], [])) + "\n", encoding="utf-8")
    ctx = ComponentContext("p", (T,), TestClock(), logging.getLogger("t"), base_dir=str(tmp_path))
    feed = ReplayFeed.build({"path": "data/r.jsonl"}, ctx)
    assert [type(e) for e in feed.events(0)] == [BookSnapshotReceived]
    assert list(feed.events(1)) == list(feed.events(2))
    with pytest.raises(ReplayError, match="no recording at"):
        ReplayFeed.build({"path": "data/missing.jsonl"}, ctx)
