"""``journal``: the daemon's memory in SQLite (WAL) — runs, orders and their transitions, fills,
positions, PnL snapshots, sampled mids and risk events — and the day's PnL restored from it at start.

Writes happen in a worker thread, one transaction per batch, so the event loop never waits on disk.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from mmframe.api import (
    NANOS_PER_SECOND,
    AmendOrder,
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    CancelOrder,
    CarriedState,
    ComponentContext,
    ComponentSpec,
    CreateOrder,
    DecreaseOrder,
    Event,
    Kind,
    OrderAccepted,
    OrderActionsSubmitted,
    OrderAmended,
    OrderBook,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    ParamsUpdated,
    PortfolioMarked,
    RiskVerdictIssued,
    RunStarted,
    RunStopped,
    TradingHalted,
    TradingPaused,
    TradingResumed,
    VenueStatusChanged,
    check_writable_path,
)
from mmframe_sinks import journal_db
from mmframe_sinks._codec import plain

NAME = "journal"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "minLength": 1, "default": "var/mmframe.sqlite",
                 "description": "The SQLite file (created with its folder if missing)."},
        "mid_interval_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 1,
                                 "description": "Record each market's mid at most this often (for markouts)."},
        "restore": {"type": "boolean", "default": True,
                    "description": "Carry today's PnL and positions in from earlier runs at start."},
    },
}
EXAMPLE = {"path": "var/mmframe.sqlite"}

Row = tuple[str, tuple[Any, ...]]

_RISK_KINDS = (TradingHalted, TradingPaused, TradingResumed, OrderGroupTriggered, ParamsUpdated, VenueStatusChanged)


class _MidSampler:
    """The last mid of each market per time bucket, written once the bucket is over (or at close)."""

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self._pending: dict[str, tuple[int, int]] = {}
        self._written: dict[str, int] = {}

    def offer(self, ticker: str, ts_ns: int, mid: int | None, rows: list[Row]) -> None:
        if mid is None:
            return
        pending = self._pending.get(ticker)
        if pending is not None and pending[0] // self.interval_ns != ts_ns // self.interval_ns:
            self._emit(ticker, pending, rows)
        self._pending[ticker] = (ts_ns, mid)

    def flush(self, now_ns: int | None, rows: list[Row]) -> None:
        """Write every pending mid whose bucket ended before ``now_ns`` (all of them when None)."""
        for ticker, pending in list(self._pending.items()):
            if now_ns is None or pending[0] // self.interval_ns < now_ns // self.interval_ns:
                self._emit(ticker, pending, rows)

    def _emit(self, ticker: str, pending: tuple[int, int], rows: list[Row]) -> None:
        del self._pending[ticker]
        if self._written.get(ticker) != pending[1]:
            self._written[ticker] = pending[1]
            rows.append(("INSERT INTO mids (ts_ns, ticker, mid) VALUES (?, ?, ?)", (pending[0], ticker, pending[1])))


class JournalSink:
    """Journals every run into SQLite and restores the day's PnL at start (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any], pipeline: str = "") -> None:
        self.path = Path(str(config.get("path", "var/mmframe.sqlite")))
        interval = float(config.get("mid_interval_seconds", 1))
        self._restore_enabled = bool(config.get("restore", True))
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
        self._pipeline = pipeline
        self._db: sqlite3.Connection | None = None
        self._books: dict[str, OrderBook] = {}
        self._mids = _MidSampler(max(1, int(interval * NANOS_PER_SECOND)))
        self._last_pnl: tuple[int, int, int, int] | None = None
        self._last_positions: dict[str, tuple[int, int, int, int, int]] = {}
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> JournalSink:
        sink = cls(config, ctx.pipeline)
        check_writable_path(NAME, "path", sink.path)  # refused when built (check, run), not at start
        return sink

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._db = await anyio.to_thread.run_sync(journal_db.connect, self.path)

    def restore(self, now_ns: int) -> CarriedState:
        """Today's net PnL from earlier runs and their last positions (see `journal_db.restore`)."""
        if self._db is None or not self._restore_enabled:
            return CarriedState()
        restored = journal_db.restore(self._db, now_ns, exclude_run=self.run_id)
        return CarriedState(day_start_pnl=restored.day_pnl, positions=restored.positions)

    async def write(self, events: Sequence[Event]) -> None:
        rows: list[Row] = []
        for event in events:
            self._rows(event, rows)
        if rows:
            await anyio.to_thread.run_sync(self._commit, rows, limiter=self._limiter)

    async def close(self) -> None:
        rows: list[Row] = []
        self._mids.flush(None, rows)
        if self._db is None:
            return
        if rows:
            await anyio.to_thread.run_sync(self._commit, rows, limiter=self._limiter)
        db, self._db = self._db, None
        await anyio.to_thread.run_sync(db.close, limiter=self._limiter)

    def _commit(self, rows: list[Row]) -> None:
        assert self._db is not None, "journal not started"
        db = self._db
        db.execute("BEGIN")
        try:
            for sql, params in rows:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- events -> rows -------------------------------------------------------------------------

    def _rows(self, event: Event, rows: list[Row]) -> None:
        run = self.run_id
        if isinstance(event, BookDeltaReceived | BookSnapshotReceived):
            book = self._books.get(event.ticker) or self._books.setdefault(event.ticker, OrderBook(event.ticker))
            book.apply(event)
            self._mids.offer(event.ticker, event.ts_ns, book.mid() if book.valid else None, rows)
        elif isinstance(event, BookInvalidated):
            if event.ticker in self._books:
                self._books[event.ticker].invalidate()
        elif isinstance(event, OrderActionsSubmitted):
            for action in event.actions:
                self._action_rows(event.ts_ns, action, rows)
        elif isinstance(event, OrderFilled):
            known = self._books.get(event.ticker)
            mid = known.mid() if known is not None and known.valid else None
            rows.append((
                "INSERT INTO fills (run_id, ts_ns, ticker, client_order_id, order_id, trade_id, side, price, count,"
                " fee, is_taker, mid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run, event.ts_ns, event.ticker, event.client_order_id, event.order_id, event.trade_id,
                 event.side.value, event.price, event.count, event.fee, int(event.is_taker), mid),
            ))
            self._order_event(event.ts_ns, event.client_order_id, event.ticker, "filled", event.price, event.count,
                              f"trade {event.trade_id}" + (" taker" if event.is_taker else ""), rows)
            rows.append(("UPDATE orders SET filled = filled + ?, updated_ns = ? WHERE run_id = ? AND client_order_id = ?",
                         (event.count, event.ts_ns, run, event.client_order_id)))
        elif isinstance(event, OrderAccepted | OrderRejected | OrderAmended | OrderDecreased | OrderCanceled):
            self._order_transition(event, rows)
        elif isinstance(event, PortfolioMarked):
            self._portfolio_rows(event, rows)
            self._mids.flush(event.ts_ns, rows)
        elif isinstance(event, RiskVerdictIssued):
            rows.append(("INSERT INTO risk_events (run_id, ts_ns, kind, ticker, rule, verdict, reason) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?)",
                         (run, event.ts_ns, event.kind, event.ticker, event.rule, event.verdict.kind.value,
                          event.verdict.reason)))
        elif isinstance(event, _RISK_KINDS):
            self._risk_row(event, rows)
        elif isinstance(event, RunStarted):
            rows.append(("INSERT OR IGNORE INTO runs (run_id, pipeline, markets, started_ns) VALUES (?, ?, ?, ?)",
                         (run, event.pipeline or self._pipeline, ",".join(event.markets), event.ts_ns)))
        elif isinstance(event, RunStopped):
            rows.append(("INSERT OR IGNORE INTO runs (run_id, pipeline, started_ns) VALUES (?, ?, ?)",
                         (run, self._pipeline, event.ts_ns)))
            rows.append(("UPDATE runs SET stopped_ns = ?, stop_reason = ?, error = ? WHERE run_id = ?",
                         (event.ts_ns, event.reason, int(event.error), run)))

    def _risk_row(self, event: Event, rows: list[Row]) -> None:
        rule: str | None = None
        if isinstance(event, ParamsUpdated):
            rule, reason = event.target, json.dumps(plain(event.params), sort_keys=True)
        elif isinstance(event, OrderGroupTriggered):
            reason = f"{event.order_group_id}: {event.detail}".strip(": ")
        elif isinstance(event, VenueStatusChanged):
            reason = f"{event.status}: {event.detail}".strip(": ")
        else:
            reason = str(getattr(event, "reason", ""))
        rows.append(("INSERT INTO risk_events (run_id, ts_ns, kind, ticker, rule, verdict, reason) VALUES "
                     "(?, ?, ?, NULL, ?, NULL, ?)", (self.run_id, event.ts_ns, event.kind, rule, reason)))

    def _action_rows(self, ts_ns: int, action: Any, rows: list[Row]) -> None:
        if isinstance(action, CreateOrder):
            rows.append((
                "INSERT OR IGNORE INTO orders (run_id, client_order_id, ticker, side, price, size, post_only,"
                " immediate_or_cancel, created_ns, status, updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.run_id, action.client_order_id, action.ticker, action.side.value, action.price, action.size,
                 int(action.post_only), int(action.immediate_or_cancel), ts_ns, "pending_new", ts_ns),
            ))
            self._order_event(ts_ns, action.client_order_id, action.ticker, "create", action.price, action.size,
                              "ioc" if action.immediate_or_cancel else "", rows)
        elif isinstance(action, AmendOrder):
            self._order_event(ts_ns, action.client_order_id, action.ticker, "amend", action.price, action.size,
                              f"-> {action.new_client_order_id}", rows)
        elif isinstance(action, DecreaseOrder):
            self._order_event(ts_ns, action.client_order_id, action.ticker, "decrease", None, action.size, "", rows)
        elif isinstance(action, CancelOrder):
            self._order_event(ts_ns, action.client_order_id, action.ticker, "cancel", None, None, "", rows)

    def _order_transition(self, event: Any, rows: list[Row]) -> None:
        run, cid = self.run_id, event.client_order_id
        if isinstance(event, OrderAccepted):
            self._order_event(event.ts_ns, cid, event.ticker, "accepted", None, event.remaining, event.order_id, rows)
            self._set_status(cid, "resting", event.ts_ns, rows, order_id=event.order_id)
        elif isinstance(event, OrderRejected):
            self._order_event(event.ts_ns, cid, event.ticker, f"{event.action}_rejected", None, None,
                              f"{event.code}: {event.message}", rows)
            if event.action == "create":
                self._set_status(cid, "rejected", event.ts_ns, rows)
        elif isinstance(event, OrderAmended):
            self._order_event(event.ts_ns, cid, event.ticker, "amended", event.price, event.remaining,
                              f"-> {event.new_client_order_id}", rows)
            rows.append((
                "INSERT OR IGNORE INTO orders (run_id, client_order_id, ticker, side, price, size, post_only,"
                " immediate_or_cancel, created_ns, order_id, status, updated_ns) SELECT run_id, ?, ticker, side, ?,"
                " ?, post_only, immediate_or_cancel, ?, order_id, 'resting', ? FROM orders"
                " WHERE run_id = ? AND client_order_id = ?",
                (event.new_client_order_id, event.price, event.remaining, event.ts_ns, event.ts_ns, run, cid),
            ))
            self._set_status(cid, "amended", event.ts_ns, rows)
        elif isinstance(event, OrderDecreased):
            self._order_event(event.ts_ns, cid, event.ticker, "decreased", None, event.remaining, "", rows)
        elif isinstance(event, OrderCanceled):
            self._order_event(event.ts_ns, cid, event.ticker, "canceled", None, None, event.reason, rows)
            self._set_status(cid, "canceled", event.ts_ns, rows)

    def _set_status(self, cid: str, status: str, ts_ns: int, rows: list[Row], order_id: str | None = None) -> None:
        rows.append((
            "UPDATE orders SET status = ?, updated_ns = ?, order_id = COALESCE(?, order_id)"
            " WHERE run_id = ? AND client_order_id = ?",
            (status, ts_ns, order_id or None, self.run_id, cid),
        ))

    def _order_event(
        self, ts_ns: int, cid: str, ticker: str, name: str, price: int | None, size: int | None, detail: str,
        rows: list[Row],
    ) -> None:
        rows.append((
            "INSERT INTO order_events (run_id, ts_ns, client_order_id, ticker, event, price, size, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.run_id, ts_ns, cid, ticker, name, price, size, detail or ""),
        ))

    def _portfolio_rows(self, event: PortfolioMarked, rows: list[Row]) -> None:
        totals = (event.realised_pnl, event.unrealised_pnl, event.fees, event.day_start_pnl)
        if totals != self._last_pnl:
            self._last_pnl = totals
            rows.append((
                "INSERT INTO pnl (run_id, ts_ns, realised, unrealised, fees, net, day_start) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.run_id, event.ts_ns, event.realised_pnl, event.unrealised_pnl, event.fees, event.run_net_pnl,
                 event.day_start_pnl),
            ))
        seen = {mark.ticker for mark in event.positions}
        for ticker in [t for t in self._last_positions if t not in seen]:
            del self._last_positions[ticker]  # no activity left (e.g. a round trip at zero PnL): record it flat
            rows.append((
                "INSERT INTO positions (run_id, ts_ns, ticker, position, avg_price, realised_pnl, unrealised_pnl,"
                " fees, mark) VALUES (?, ?, ?, 0, 0, 0, 0, 0, NULL)", (self.run_id, event.ts_ns, ticker),
            ))
        for mark in event.positions:
            key = (mark.position, mark.avg_price, mark.realised_pnl, mark.fees, mark.unrealised_pnl)
            if self._last_positions.get(mark.ticker) == key:
                continue
            self._last_positions[mark.ticker] = key
            rows.append((
                "INSERT INTO positions (run_id, ts_ns, ticker, position, avg_price, realised_pnl, unrealised_pnl,"
                " fees, mark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.run_id, event.ts_ns, mark.ticker, mark.position, mark.avg_price, mark.realised_pnl,
                 mark.unrealised_pnl, mark.fees, mark.mark),
            ))


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="SQLite journal (WAL) of runs, orders, fills, positions, PnL and risk events; restores the day's PnL.",
    factory=JournalSink.build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(JournalSink.__doc__ or "").strip(),
)
