"""``journal``: the daemon's memory in SQLite (WAL) — runs, orders and their transitions, fills,
positions, PnL snapshots, sampled mids and risk events — and its books carried into the next run.

The sampled mids (and each fill's ``mid``) are the *others'* mid: our own resting orders, followed
from the order events, are taken out of the book first, so the report's markouts measure the
market's move, not our own quote. Beside them: our estimated Liquidity Incentive Program score per
market (``incentive``) and every external fair value published (``fair_values``, by source: a
``fair-value`` feed, or a simulator's true fair value), each sampled at ``mid_interval_seconds``.

The fills are the books: at start the journal replays them (`journal_db.restore`, the restart rule
of `mmframe.domain.carry`), so a restart keeps positions at their exact cost, today's PnL and the
orders' fee rounding. Every fill is journaled once (fills are unique by trade id). An order's row
follows its every transition, across runs too (an order of a killed run that fills or is cancelled
in the next). A run is closed with its reason on every exit the process lives through; a run that
did not (kill -9) is closed by the next run of the pipeline. A backtest journals each of its runs
(``mode = 'backtest'``), which live runs never restore from; a paper run (``mode = 'paper'``: a live
feed, fills simulated) restores only from earlier paper runs, and live runs never from paper ones.

Writes happen in a worker thread, one transaction per batch, so the event loop never waits on disk.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from mmframe.api import (
    DEFAULT_INCENTIVE_TERMS as DEFAULT_TERMS,
)
from mmframe.api import (
    NANOS_PER_SECOND,
    ONE_DOLLAR,
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
    FairValueUpdated,
    IncentiveTerms,
    Kind,
    MarketInfoReceived,
    OrderAccepted,
    OrderActionsSubmitted,
    OrderAmended,
    OrderBook,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    OrderTracker,
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
    incentive_score,
    others_mid,
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
                 "description": "The SQLite file (created with its folder if missing); a relative path is "
                                "relative to the pipeline file."},
        "mid_interval_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 1,
                                 "description": "Record each market's mid at most this often (for markouts)."},
        "restore": {"type": "boolean", "default": True,
                    "description": "Carry the books (positions at cost, today's PnL, fills) into a new run."},
    },
}
EXAMPLE = {"path": "var/mmframe.sqlite"}

Row = tuple[str, tuple[Any, ...]]

_SETTLED = "('canceled', 'amended', 'rejected')"
"""Statuses a late acceptance or partial fill does not undo."""
_LATEST = "rowid = (SELECT MAX(rowid) FROM orders WHERE client_order_id = ?)"
"""The journal's row of a client order id: its latest (client ids are unique per run; an adopted order
is the row of the run that placed it)."""

_RISK_KINDS = (TradingHalted, TradingPaused, TradingResumed, OrderGroupTriggered, ParamsUpdated, VenueStatusChanged)


class _Sampler:
    """The last value of each key per time bucket, written once the bucket is over (or at close),
    and only when it differs from the key's last written value. ``row`` builds the INSERT."""

    def __init__(self, interval_ns: int, row: Callable[[Any, int, int], Row]) -> None:
        self.interval_ns = interval_ns
        self._row = row
        self._pending: dict[Any, tuple[int, int]] = {}
        self._written: dict[Any, int] = {}

    def offer(self, key: Any, ts_ns: int, value: int | None, rows: list[Row]) -> None:
        if value is None:
            return
        pending = self._pending.get(key)
        if pending is not None and pending[0] // self.interval_ns != ts_ns // self.interval_ns:
            self._emit(key, pending, rows)
        self._pending[key] = (ts_ns, value)

    def flush(self, now_ns: int | None, rows: list[Row]) -> None:
        """Write every pending value whose bucket ended before ``now_ns`` (all of them when None)."""
        for key, pending in list(self._pending.items()):
            if now_ns is None or pending[0] // self.interval_ns < now_ns // self.interval_ns:
                self._emit(key, pending, rows)

    def _emit(self, key: Any, pending: tuple[int, int], rows: list[Row]) -> None:
        del self._pending[key]
        if self._written.get(key) != pending[1]:
            self._written[key] = pending[1]
            rows.append(self._row(key, *pending))


class JournalSink:
    """Journals every run into SQLite and restores the day's PnL at start (see the module docstring)."""

    records_backtests = True
    """`mmframe backtest` hands it every run's events."""

    def __init__(
        self, config: Mapping[str, Any], pipeline: str = "", *, path: Path | None = None, mode: str = "live"
    ) -> None:
        self.path = path if path is not None else Path(str(config.get("path", "var/mmframe.sqlite")))
        interval = float(config.get("mid_interval_seconds", 1))
        self.mode = mode
        self._restore_enabled = bool(config.get("restore", True)) and mode in journal_db.RESTORED_MODES
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(6)}"
        if mode != "live":
            self.run_id = f"{mode}-{self.run_id}"
        self._pipeline = pipeline
        self._db: sqlite3.Connection | None = None
        self._books: dict[str, OrderBook] = {}
        self._payouts: dict[str, int] = {}
        interval_ns = max(1, int(interval * NANOS_PER_SECOND))
        run = self.run_id
        self._mids = _Sampler(interval_ns, lambda ticker, ts, mid: (
            "INSERT INTO mids (ts_ns, ticker, mid, run_id) VALUES (?, ?, ?, ?)", (ts, ticker, mid, run)))
        self._scores = _Sampler(interval_ns, lambda ticker, ts, score: (
            "INSERT INTO incentive (run_id, ts_ns, ticker, score) VALUES (?, ?, ?, ?)", (run, ts, ticker, score)))
        self._fair = _Sampler(interval_ns, lambda key, ts, price: (
            "INSERT INTO fair_values (run_id, ts_ns, ticker, source, price) VALUES (?, ?, ?, ?, ?)",
            (run, ts, key[0], key[1], price)))
        self._own = OrderTracker()
        """Our orders as the events tell them: the mids are the others' (our resting orders taken out)."""
        self._terms: dict[str, IncentiveTerms] = {}
        self._last_pnl: tuple[int, int, int, int] | None = None
        self._last_positions: dict[str, tuple[int, int, int, int, int]] = {}
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> JournalSink:
        path = ctx.path(str(config.get("path", SCHEMA["properties"]["path"]["default"])))
        mode = "backtest" if ctx.backtest else ctx.run_mode
        sink = cls(config, ctx.pipeline, path=path, mode=mode)
        check_writable_path(NAME, "path", sink.path)  # refused when built (check, run), not at start
        return sink

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, now_ns: int | None = None) -> None:
        """Open the journal and record the run (so a run that fails to start is recorded too);
        close the earlier runs of this pipeline that never recorded a stop."""
        self._db = await anyio.to_thread.run_sync(journal_db.connect, self.path)
        started = time.time_ns() if now_ns is None else now_ns
        rows: list[Row] = [("INSERT OR IGNORE INTO runs (run_id, pipeline, started_ns, mode) VALUES (?, ?, ?, ?)",
                            (self.run_id, self._pipeline, started, self.mode))]
        await anyio.to_thread.run_sync(self._commit, rows, limiter=self._limiter)
        if self.mode in journal_db.RESTORED_MODES:
            await anyio.to_thread.run_sync(self._close_unclosed, limiter=self._limiter)

    def _close_unclosed(self) -> None:
        assert self._db is not None
        closed = journal_db.close_unclosed_runs(self._db, self._pipeline, self.run_id, mode=self.mode)
        if closed:
            logging.getLogger("mmframe.journal").warning(
                "journal: %d earlier run(s) of %s ended without a stop record; closed as errors", closed,
                self._pipeline or "this pipeline",
            )

    def restore(self, now_ns: int) -> CarriedState | None:
        """The earlier runs' books replayed from their fills (see `journal_db.restore`); None when
        restoring is off."""
        if self._db is None or not self._restore_enabled:
            return None
        return journal_db.restore(self._db, now_ns, exclude_run=self.run_id, mode=self.mode)

    async def write(self, events: Sequence[Event]) -> None:
        rows: list[Row] = []
        for event in events:
            self._rows(event, rows)
        if rows:
            await anyio.to_thread.run_sync(self._commit, rows, limiter=self._limiter)

    async def close(self) -> None:
        rows: list[Row] = []
        self._flush_samples(None, rows)
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
            self._sample_book(event.ticker, event.ts_ns, book, rows)
        elif isinstance(event, MarketInfoReceived):
            # A market that does not pay $1 (a backtest's model market) books no fee rounding.
            payout = event.info.payout
            if event.info.incentive is not None:
                self._terms[event.ticker] = event.info.incentive
            known = self._books.get(event.ticker)
            if known is None or known.payout != payout:  # the mids of a market paying other than $1
                self._books[event.ticker] = OrderBook(event.ticker, payout)
            if payout != ONE_DOLLAR:
                self._payouts[event.ticker] = payout
            else:
                self._payouts.pop(event.ticker, None)
        elif isinstance(event, BookInvalidated):
            if event.ticker in self._books:
                self._books[event.ticker].invalidate()
        elif isinstance(event, OrderActionsSubmitted):
            for action in event.actions:
                self._action_rows(event.ts_ns, action, rows)
                self._own.submitted(action, event.ts_ns)
        elif isinstance(event, OrderFilled):
            self._fill_rows(event, rows)
            self._own_changed(event, rows)
        elif isinstance(event, OrderAccepted | OrderRejected | OrderAmended | OrderDecreased | OrderCanceled):
            self._order_transition(event, rows)
            self._own_changed(event, rows)
        elif isinstance(event, FairValueUpdated):
            self._fair.offer((event.ticker, event.source), event.ts_ns, event.price, rows)
        elif isinstance(event, PortfolioMarked):
            self._portfolio_rows(event, rows)
            self._flush_samples(event.ts_ns, rows)
        elif isinstance(event, RiskVerdictIssued):
            rows.append(("INSERT INTO risk_events (run_id, ts_ns, kind, ticker, rule, verdict, reason) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?)",
                         (run, event.ts_ns, event.kind, event.ticker, event.rule, event.verdict.kind.value,
                          event.verdict.reason)))
        elif isinstance(event, _RISK_KINDS):
            self._risk_row(event, rows)
        elif isinstance(event, RunStarted):
            rows.append(("INSERT OR IGNORE INTO runs (run_id, pipeline, started_ns, mode) VALUES (?, ?, ?, ?)",
                         (run, event.pipeline or self._pipeline, event.ts_ns, self.mode)))
            rows.append(("UPDATE runs SET pipeline = ?, markets = ?, started_ns = ? WHERE run_id = ?",
                         (event.pipeline or self._pipeline, ",".join(event.markets), event.ts_ns, run)))
        elif isinstance(event, RunStopped):
            rows.append(("INSERT OR IGNORE INTO runs (run_id, pipeline, started_ns, mode) VALUES (?, ?, ?, ?)",
                         (run, self._pipeline, event.ts_ns, self.mode)))
            rows.append(("UPDATE runs SET stopped_ns = ?, stop_reason = ?, error = ? WHERE run_id = ?",
                         (event.ts_ns, event.reason, int(event.error), run)))

    def _sample_book(self, ticker: str, ts_ns: int, book: OrderBook, rows: list[Row]) -> None:
        """The others' mid (our resting orders taken out: a markout against a mid that holds our own
        quote credits us with it) and our incentive score, sampled."""
        orders = self._own.working(ticker)
        self._mids.offer(ticker, ts_ns, others_mid(book, orders), rows)
        if book.valid:
            self._scores.offer(ticker, ts_ns, incentive_score(book, orders, self._terms.get(ticker, DEFAULT_TERMS)), rows)

    def _own_changed(self, event: Any, rows: list[Row]) -> None:
        """Our order changed. A new or moved order may reach the book (WebSocket) before the venue's
        answer (REST): the book then showed it while we held it pending, so the market is sampled
        again once it is known to rest. A fill or cancel needs no new sample: until the book's own
        change arrives, our larger count at the level already hides it."""
        if self._own.apply(event) and isinstance(event, OrderAccepted | OrderAmended):
            book = self._books.get(event.ticker)
            if book is not None:
                self._sample_book(event.ticker, event.ts_ns, book, rows)

    def _flush_samples(self, now_ns: int | None, rows: list[Row]) -> None:
        for sampler in (self._mids, self._scores, self._fair):
            sampler.flush(now_ns, rows)

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

    def _fill_rows(self, event: OrderFilled, rows: list[Row]) -> None:
        known = self._books.get(event.ticker)
        mid = others_mid(known, self._own.working(event.ticker)) if known is not None else None
        # A backtest's trade ids repeat from run to run: qualified by the run, they stay unique.
        trade_id = event.trade_id if self.mode == "live" or not event.trade_id else f"{self.run_id}/{event.trade_id}"
        rows.append((
            "INSERT OR IGNORE INTO fills (run_id, ts_ns, ticker, client_order_id, order_id, trade_id, side, price,"
            " count, fee, is_taker, mid, payout) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.run_id, event.ts_ns, event.ticker, event.client_order_id, event.order_id, trade_id,
             event.side.value, event.price, event.count, event.fee, int(event.is_taker), mid,
             self._payouts.get(event.ticker)),
        ))
        if not event.client_order_id:
            return  # a position carried in: no order
        self._order_event(event.ts_ns, event.client_order_id, event.ticker, "filled", event.price, event.count,
                          f"trade {event.trade_id}" + (" taker" if event.is_taker else ""), rows)
        left = "MAX(COALESCE(remaining, size - filled) - ?, 0)"
        rows.append((
            f"UPDATE orders SET filled = filled + ?, remaining = {left}, updated_ns = ?, order_id = COALESCE(order_id, ?),"
            " status = CASE WHEN filled + ? >= size THEN 'executed'"
            f" WHEN status IN {_SETTLED} THEN status ELSE 'partially_filled' END WHERE {_LATEST}",
            (event.count, event.count, event.ts_ns, event.order_id or None, event.count, event.client_order_id),
        ))

    def _action_rows(self, ts_ns: int, action: Any, rows: list[Row]) -> None:
        if isinstance(action, CreateOrder):
            rows.append((
                "INSERT OR IGNORE INTO orders (run_id, client_order_id, ticker, side, price, size, post_only,"
                " immediate_or_cancel, created_ns, status, updated_ns, remaining)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.run_id, action.client_order_id, action.ticker, action.side.value, action.price, action.size,
                 int(action.post_only), int(action.immediate_or_cancel), ts_ns, "pending_new", ts_ns, action.size),
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
        """The order's row follows the venue's word (the latest row of its client id: an order
        adopted from an earlier run is that run's row)."""
        cid = event.client_order_id
        if isinstance(event, OrderAccepted):
            self._order_event(event.ts_ns, cid, event.ticker, "accepted", None, event.remaining, event.order_id, rows)
            rows.append((
                "UPDATE orders SET order_id = COALESCE(?, order_id), updated_ns = ?,"
                " remaining = COALESCE(?, remaining),"
                f" status = CASE WHEN status IN {_SETTLED} OR status = 'executed' THEN status"
                " WHEN ? = 0 THEN 'executed' WHEN filled > 0 OR COALESCE(?, 0) > 0 THEN 'partially_filled'"
                f" ELSE 'resting' END WHERE {_LATEST}",
                (event.order_id or None, event.ts_ns, event.remaining, event.remaining, event.filled, cid),
            ))
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
                " immediate_or_cancel, created_ns, order_id, status, updated_ns, remaining) SELECT ?, ?, ticker, side,"
                " ?, ?, post_only, immediate_or_cancel, ?, COALESCE(?, order_id), CASE WHEN ? = 0 THEN 'executed'"
                f" ELSE 'resting' END, ?, ? FROM orders WHERE {_LATEST}",
                (self.run_id, event.new_client_order_id, event.price, event.remaining, event.ts_ns,
                 event.order_id or None, event.remaining, event.ts_ns, event.remaining, cid),
            ))
            if event.new_client_order_id != cid:
                self._set_status(cid, "amended", event.ts_ns, rows)
        elif isinstance(event, OrderDecreased):
            self._order_event(event.ts_ns, cid, event.ticker, "decreased", None, event.remaining, "", rows)
            rows.append((
                "UPDATE orders SET remaining = ?, size = MIN(size, filled + ?), updated_ns = ?,"
                " status = CASE WHEN ? = 0 AND status NOT IN ('executed', 'amended') THEN 'canceled' ELSE status END"
                f" WHERE {_LATEST}",
                (event.remaining, event.remaining, event.ts_ns, event.remaining, cid),
            ))
        elif isinstance(event, OrderCanceled):
            self._order_event(event.ts_ns, cid, event.ticker, "canceled", None, None, event.reason, rows)
            rows.append((
                "UPDATE orders SET remaining = 0, updated_ns = ?,"
                f" status = CASE WHEN status IN ('executed', 'amended') THEN status ELSE 'canceled' END WHERE {_LATEST}",
                (event.ts_ns, cid),
            ))

    def _set_status(self, cid: str, status: str, ts_ns: int, rows: list[Row]) -> None:
        rows.append((f"UPDATE orders SET status = ?, updated_ns = ? WHERE {_LATEST}", (status, ts_ns, cid)))

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
