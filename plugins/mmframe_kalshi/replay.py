"""The ``replay`` feed: market events from a recorded JSONL file (format: docs/replay-format.md).

One record per line, in receive order::

    {"t": 1764160000000000000, "kind": "ws", "msg": {"type": "orderbook_delta", "sid": 1, "seq": 4, "msg": {...}}}
    {"t": 1764160000000000000, "kind": "rest", "path": "/markets/X/orderbook", "body": {"orderbook_fp": {...}}}
    {"t": 1764160000000000000, "kind": "market", "body": {<Kalshi Market>}, "series": {<Kalshi Series>}}
    {"t": 1764160000000000000, "kind": "ws_options", "use_yes_price": true}

``msg`` is the WebSocket frame exactly as received, as a JSON object or as the original text. A
``ws_options`` record says which prices the book frames after it carry their NO ladder in
(``use_yes_price``; before any such record: NO-leg prices, Kalshi's original default).
The feed lives beside the recorder (`mmframe_kalshi.record`, ``mmframe record``) that writes the format:
Kalshi messages are converted with the same parsers as the live feed (`mmframe_kalshi.parsing`), so a
replay sees exactly what the live feed would have published; ``mmframe backtest`` drives it as any
`mmframe.api.BacktestFeed`. A sequence gap on an order book
subscription invalidates the books of that subscription until their next snapshot, as live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from mmframe.api import (
    BookInvalidated,
    BookSnapshotReceived,
    ComponentContext,
    ComponentSpec,
    Event,
    Kind,
    MarketInfo,
    MarketInfoReceived,
)
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import KalshiError
from mmframe_kalshi.fee_terms import FeeTerms
from mmframe_kalshi.models import Market, Orderbook, Series

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "replay feed",
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "minLength": 1,
                 "description": "The recording (JSONL); a relative path is relative to the pipeline file."},
    },
}

_BOOK_TYPES = frozenset({"orderbook_snapshot", "orderbook_delta"})
# Our own account's channels: a backtest's fills come from the simulated executor instead.
_IGNORED_TYPES = frozenset({"fill", "user_order", "market_position", "order_group_updates", "subscribed", "ok",
                            "unsubscribed", "error", "ticker", "communications"})


class ReplayError(ValueError):
    """A recording line could not be read; the message names file:line and what was wrong."""


class ReplayFeed:
    """Replays a recording (see the module docstring) as a `BacktestFeed`; the file is read once
    and its events kept for later runs (a replay is the same for every seed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._events: list[Event] | None = None

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> ReplayFeed:
        """The component factory: ``path`` relative to the pipeline file's directory."""
        path = ctx.path(str(config["path"]))
        if not path.is_file():
            raise ReplayError(f"replay: no recording at {path}")
        return cls(path)

    def events(self, rng_seed: int) -> Iterator[Event]:
        """Every market event of the recording, in order."""
        if self._events is None:
            self._events = list(read_recording(self.path))
        return iter(self._events)

    async def run(self, ctx: Any) -> None:
        """A recording plays only in simulated time."""
        raise RuntimeError("replay is a backtest feed: run this pipeline with `mmframe backtest`")


def read_recording(path: str | Path) -> Iterator[Event]:
    """Parse a recording into market events; `ReplayError` (file:line) on a bad or out-of-order line."""
    for _number, events in read_records(path):
        yield from events


def read_records(path: str | Path) -> Iterator[tuple[int, list[Event]]]:
    """Each non-blank line's number (from 1) and the market events it holds (often none: acks,
    tickers, our own account's messages)."""
    reader = _Reader(str(path))
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, reader.record(line, number)


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.last_t: int | None = None
        self.infos: dict[str, MarketInfo] = {}
        self.seqs: dict[int, int] = {}
        self.sid_tickers: dict[int, set[str]] = {}
        self.yes_prices = False
        self.fees = FeeTerms()

    def fail(self, number: int, message: str) -> ReplayError:
        return ReplayError(f"{self.file}:{number}: {message}")

    def record(self, line: bytes, number: int) -> list[Event]:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise self.fail(number, f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise self.fail(number, "a record must be a JSON object")
        t = data.get("t")
        if isinstance(t, bool) or not isinstance(t, int):
            raise self.fail(number, f"'t' must be the receive time in integer nanoseconds, got {t!r}")
        if self.last_t is not None and t < self.last_t:
            raise self.fail(number, f"'t' goes backwards ({t} after {self.last_t}): records must be in time order")
        self.last_t = t
        kind = data.get("kind")
        try:
            if kind == "ws":
                return self.ws(data.get("msg"), t, number)
            if kind == "rest":
                return self.rest(data.get("path"), data.get("body"), t, number)
            if kind == "market":
                return self.market(data.get("body"), data.get("series"), t, number)
            if kind == "ws_options":
                flag = data.get("use_yes_price", False)
                if not isinstance(flag, bool):
                    raise self.fail(number, f"'use_yes_price' must be true or false, got {flag!r}")
                self.yes_prices = flag
                return []
        except KalshiError as exc:
            raise self.fail(number, str(exc)) from None
        raise self.fail(number, f"unknown kind {kind!r}: expected ws, rest, market or ws_options")

    def ws(self, msg: Any, t: int, number: int) -> list[Event]:
        if isinstance(msg, str):
            frame = parsing.parse_frame(msg)
        elif isinstance(msg, Mapping):
            frame = parsing.parse_frame(orjson.dumps(msg))
        else:
            raise self.fail(number, "a ws record's 'msg' must be the frame (object or text)")
        kind = frame.type
        if kind in _IGNORED_TYPES:
            return []
        events: list[Event] = []
        if frame.sid is not None and frame.seq is not None:
            last = self.seqs.get(frame.sid)
            self.seqs[frame.sid] = frame.seq
            if kind in _BOOK_TYPES and kind != "orderbook_snapshot" and last is not None and frame.seq != last + 1:
                reason = f"sequence gap on sid {frame.sid}: {last} -> {frame.seq}"
                events.extend(
                    BookInvalidated(ts_ns=t, ticker=ticker, reason=reason)
                    for ticker in sorted(self.sid_tickers.get(frame.sid, ()))
                )
        if kind == "orderbook_snapshot":
            snapshot = parsing.book_snapshot(frame.msg, t, yes_prices=self.yes_prices)
            self._seen(frame.sid, snapshot.ticker)
            events.append(snapshot)
        elif kind == "orderbook_delta":
            delta = parsing.book_delta(frame.msg, t, yes_prices=self.yes_prices)
            self._seen(frame.sid, delta.ticker)
            if not any(isinstance(e, BookInvalidated) and e.ticker == delta.ticker for e in events):
                events.append(delta)
        elif kind == "trade":
            events.append(parsing.trade(frame.msg, t))
        elif kind == "market_lifecycle_v2":
            ticker = frame.msg.get("market_ticker") if isinstance(frame.msg, Mapping) else None
            produced = parsing.lifecycle(frame.msg, t, self.infos.get(ticker) if isinstance(ticker, str) else None)
            for event in produced:
                if isinstance(event, MarketInfoReceived):
                    self.infos[event.ticker] = event.info
            events.extend(produced)
        elif kind == "event_fee_update":
            update = parsing.event_fee_update(frame.msg)
            self.fees.set_override(update)
            for ticker, info in sorted(self.infos.items()):
                new = self.fees.apply(info) if info.event_ticker == update.event_ticker else info
                if new is not info:
                    self.infos[ticker] = new
                    events.append(MarketInfoReceived(ts_ns=t, ticker=ticker, info=new))
        return events

    def _seen(self, sid: int | None, ticker: str) -> None:
        if sid is not None:
            self.sid_tickers.setdefault(sid, set()).add(ticker)

    def rest(self, path: Any, body: Any, t: int, number: int) -> list[Event]:
        if not isinstance(path, str) or not isinstance(body, Mapping):
            raise self.fail(number, "a rest record needs a string 'path' and an object 'body'")
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:2] == ["trade-api", "v2"]:
            parts = parts[2:]
        if len(parts) == 3 and parts[0] == "markets" and parts[2] == "orderbook":
            return [self._book(Orderbook.from_json(parts[1], body), t)]
        if parts == ["markets", "orderbooks"]:
            books = body.get("orderbooks")
            if not isinstance(books, list):
                raise self.fail(number, "/markets/orderbooks body lacks 'orderbooks'")
            return [self._book(Orderbook.from_json(str(item.get("ticker")), item), t) for item in books]
        if len(parts) == 2 and parts[0] == "markets" and isinstance(body.get("market"), Mapping):
            return self.market(body["market"], None, t, number)
        raise self.fail(number, f"unsupported rest path {path!r}: expected /markets/TICKER/orderbook, "
                                "/markets/orderbooks or /markets/TICKER")

    def _book(self, book: Orderbook, t: int) -> BookSnapshotReceived:
        return BookSnapshotReceived(ts_ns=t, ticker=book.ticker, yes_bids=book.yes_bids, no_bids=book.no_bids)

    def market(self, body: Any, series: Any, t: int, number: int) -> list[Event]:
        if not isinstance(body, Mapping):
            raise self.fail(number, "a market record's 'body' must be a Kalshi Market object")
        parsed_series = Series.from_json(series) if isinstance(series, Mapping) else None
        event = parsing.market_info(Market.from_json(body), parsed_series, t)
        if parsed_series is not None and event.info.event_ticker:
            self.fees.set_series(event.info.event_ticker, parsed_series.fee_type, parsed_series.fee_multiplier_bps)
        event.info = self.fees.apply(event.info)
        self.infos[event.ticker] = event.info
        return [event]


SPEC = ComponentSpec(
    kind=Kind.FEED,
    name="replay",
    summary="Replays recorded Kalshi WebSocket messages and REST snapshots (JSONL) for backtests.",
    factory=ReplayFeed.build,
    config_schema=SCHEMA,
    example={"path": "data/replay-example.jsonl"},
    description=(__doc__ or "").strip(),
)
