"""The journal's SQLite schema, its migrations, and the replay of its books at a restart.

Money columns are integers in price units (1/10,000 dollar), sizes in count units (1/100
contract), times in Unix nanoseconds. One database may hold many runs of many days, live, paper
and backtest (``runs.mode``).

Schema versions (``meta.schema_version``), each migration run once at open:

1. the first schema.
2. ``runs.mode`` (``live`` | ``paper`` | ``backtest``); ``orders.remaining`` and an index on the client order
   id (an order's status follows it across runs: an order of a killed run filled or cancelled in
   the next); ``mids.run_id``; ``fills.payout`` (what one contract pays, NULL for $1: a market
   that does not pay $1 is not Kalshi's and has no fee rounding); fills unique by ``trade_id`` (a fill is journaled once, whoever
   reports it; duplicates of older journals are dropped, the first kept); orders left ``resting``
   though filled in full are set ``executed``.
3. ``incentive`` (our estimated Liquidity Incentive Program score per market over time, count units
   weighted by the distance multiplier) and ``fair_values`` (external fair values by source). From
   this version ``mids`` hold the others' mid (our resting orders taken out of the book).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

from mmframe.api import ONE_DOLLAR, BookSide, BooksReplay, CarriedState

SCHEMA_VERSION = 3
NANOS_PER_DAY = 86_400 * 1_000_000_000
TRADE_IDS_KEPT_NS = 8 * NANOS_PER_DAY
"""Trade ids of fills journaled this long ago are handed to the runtime at start (the venue's fills
it reads back at start are matched against them)."""
UNCLOSED_REASON = "ended without a stop record (the process was killed or crashed)"

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, markets TEXT NOT NULL DEFAULT '',
    started_ns INTEGER NOT NULL, stopped_ns INTEGER, stop_reason TEXT, error INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS orders (
    run_id TEXT NOT NULL, client_order_id TEXT NOT NULL, ticker TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, size INTEGER NOT NULL, post_only INTEGER NOT NULL, immediate_or_cancel INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, order_id TEXT, status TEXT NOT NULL, filled INTEGER NOT NULL DEFAULT 0,
    updated_ns INTEGER NOT NULL, PRIMARY KEY (run_id, client_order_id)
);
CREATE TABLE IF NOT EXISTS order_events (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, client_order_id TEXT NOT NULL,
    ticker TEXT NOT NULL, event TEXT NOT NULL, price INTEGER, size INTEGER, detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, ticker TEXT NOT NULL,
    client_order_id TEXT NOT NULL, order_id TEXT NOT NULL, trade_id TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, count INTEGER NOT NULL, fee INTEGER NOT NULL, is_taker INTEGER NOT NULL, mid INTEGER
);
CREATE TABLE IF NOT EXISTS positions (
    run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, ticker TEXT NOT NULL, position INTEGER NOT NULL,
    avg_price INTEGER NOT NULL, realised_pnl INTEGER NOT NULL, unrealised_pnl INTEGER NOT NULL,
    fees INTEGER NOT NULL, mark INTEGER
);
CREATE TABLE IF NOT EXISTS pnl (
    run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, realised INTEGER NOT NULL, unrealised INTEGER NOT NULL,
    fees INTEGER NOT NULL, net INTEGER NOT NULL, day_start INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mids (ts_ns INTEGER NOT NULL, ticker TEXT NOT NULL, mid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, kind TEXT NOT NULL,
    ticker TEXT, rule TEXT, verdict TEXT, reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS incentive (
    run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, ticker TEXT NOT NULL, score INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fair_values (
    run_id TEXT NOT NULL, ts_ns INTEGER NOT NULL, ticker TEXT NOT NULL, source TEXT NOT NULL, price INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incentive_run_ts ON incentive (run_id, ticker, ts_ns);
CREATE INDEX IF NOT EXISTS fair_values_ticker_ts ON fair_values (ticker, source, ts_ns);
CREATE INDEX IF NOT EXISTS fills_ts ON fills (ts_ns);
CREATE INDEX IF NOT EXISTS mids_ticker_ts ON mids (ticker, ts_ns);
CREATE INDEX IF NOT EXISTS pnl_run_ts ON pnl (run_id, ts_ns);
CREATE INDEX IF NOT EXISTS positions_run_ts ON positions (run_id, ts_ns);
"""

_V2 = (
    "ALTER TABLE runs ADD COLUMN mode TEXT NOT NULL DEFAULT 'live'",
    "ALTER TABLE orders ADD COLUMN remaining INTEGER",
    "ALTER TABLE mids ADD COLUMN run_id TEXT",
    "ALTER TABLE fills ADD COLUMN payout INTEGER",
    "DELETE FROM fills WHERE id NOT IN (SELECT MIN(id) FROM fills GROUP BY trade_id) AND trade_id != ''",
    "CREATE UNIQUE INDEX IF NOT EXISTS fills_trade ON fills (trade_id) WHERE trade_id != ''",
    "CREATE INDEX IF NOT EXISTS orders_cid ON orders (client_order_id)",
    "UPDATE orders SET status = 'executed' WHERE status IN ('resting', 'pending_new') AND size > 0 AND filled >= size",
)

BACKTEST_RUNS = "SELECT run_id FROM runs WHERE mode = 'backtest'"
"""Backtest runs: their mids and marks are not the market's."""

RESTORED_MODES = ("live", "paper")
"""Run modes whose books a new run of the same mode carries in: a live run restores only from live
runs (fills of paper or backtest runs are not the account's), a paper run only from paper runs."""


def _same_mode(mode: str) -> tuple[str, tuple[object, ...]]:
    """SQL (``AND ...``) keeping the rows of runs of ``mode``: for ``live``, rows of runs the journal
    does not know either (older journals), as before modes existed."""
    if mode == "live":
        return "AND run_id NOT IN (SELECT run_id FROM runs WHERE mode != 'live')", ()
    return "AND run_id IN (SELECT run_id FROM runs WHERE mode = ?)", (mode,)


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (creating or migrating) a journal in WAL mode; the connection may be used from one worker
    thread at a time. ``create=False`` opens an existing journal only (FileNotFoundError)."""
    target = Path(path)
    if create:
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.exists():
        raise FileNotFoundError(f"no journal at {target}")
    db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    migrate(db)
    return db


def _version(db: sqlite3.Connection) -> int:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table: an empty database
        return 0
    return int(row[0]) if row else 0


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to `SCHEMA_VERSION` (see the module docstring), in one transaction."""
    if _version(db) >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _version(db) < SCHEMA_VERSION:  # another process may have migrated meanwhile
            for statement in DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            added = {"runs": "mode", "orders": "remaining", "mids": "run_id", "fills": "payout"}
            for statement in _V2:
                table = statement.split()[2] if statement.startswith("ALTER") else ""
                if table and added[table] in _columns(db, table):
                    continue
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def day_start_ns(now_ns: int) -> int:
    """Midnight UTC of the day ``now_ns`` falls in: the daily-loss limit's day."""
    return now_ns - now_ns % NANOS_PER_DAY


def close_unclosed_runs(db: sqlite3.Connection, pipeline: str, exclude_run: str, *, mode: str = "live") -> int:
    """Close the runs of ``pipeline`` (of ``mode``) that never recorded a stop (a kill -9, a crash):
    stopped at their last journaled moment, with `UNCLOSED_REASON`, as an error. Returns how many."""
    rows = db.execute(
        "SELECT run_id, started_ns FROM runs WHERE stopped_ns IS NULL AND pipeline = ? AND mode = ? AND run_id != ?",
        (pipeline, mode, exclude_run),
    ).fetchall()
    for run_id, started in rows:
        last = max(
            (int(r[0]) for table in ("pnl", "fills", "order_events", "risk_events")
             for r in db.execute(f"SELECT MAX(ts_ns) FROM {table} WHERE run_id = ?", (run_id,)) if r[0] is not None),
            default=int(started),
        )
        db.execute("UPDATE runs SET stopped_ns = ?, stop_reason = ?, error = 1 WHERE run_id = ?",
                   (last, UNCLOSED_REASON, run_id))
    return len(rows)


def last_mark(db: sqlite3.Connection, ticker: str, before_ns: int | None = None) -> int | None:
    """The last mid the journal sampled for ``ticker`` in a live run (before ``before_ns``), else the
    last mark of a position snapshot; None when neither exists."""
    bound = (before_ns,) if before_ns is not None else ()
    when = " AND ts_ns < ?" if before_ns is not None else ""
    row = db.execute(
        f"SELECT mid FROM mids WHERE ticker = ?{when} AND (run_id IS NULL OR run_id NOT IN ({BACKTEST_RUNS})) "
        "ORDER BY ts_ns DESC, rowid DESC LIMIT 1", (ticker, *bound),
    ).fetchone()
    if row is None:
        row = db.execute(
            f"SELECT mark FROM positions WHERE ticker = ? AND mark IS NOT NULL{when} "
            f"AND run_id NOT IN ({BACKTEST_RUNS}) ORDER BY ts_ns DESC, rowid DESC LIMIT 1", (ticker, *bound),
        ).fetchone()
    return int(row[0]) if row is not None else None


def replay_fills(
    db: sqlite3.Connection, book: Callable[..., None], *, where: str = "", params: tuple[object, ...] = ()
) -> None:
    """Hand every journaled fill (``where`` filters, e.g. by run) to ``book``, in the order the daemon
    booked them (the journal's insertion order), as `BooksReplay.book` takes them."""
    for ts, ticker, side, price, count, fee, order_id, cid, trade_id, payout in db.execute(
        "SELECT ts_ns, ticker, side, price, count, fee, order_id, client_order_id, trade_id, payout FROM fills"
        f"{' WHERE ' + where if where else ''} ORDER BY id", params,
    ):
        book(ts_ns=int(ts), ticker=ticker, side=BookSide(side), price=int(price), count=int(count),
             trade_fee=int(fee), order=order_id or cid or None, trade_id=trade_id,
             payout=ONE_DOLLAR if payout is None else int(payout))


def restore(db: sqlite3.Connection, now_ns: int, *, exclude_run: str = "", mode: str = "live") -> CarriedState:
    """The books of the runs of ``mode`` (live, or paper) replayed from their fills
    (`mmframe.domain.carry`): positions at their exact cost, today's PnL before this run (marks at
    midnight from the sampled mids), the orders' fee rounding, the trade ids journaled lately and
    the orders it last knew live."""
    same, bound = _same_mode(mode)
    midnight = day_start_ns(now_ns)
    replay = BooksReplay(
        day_start_ns=midnight,
        mark_at_day_start=lambda ticker: last_mark(db, ticker, midnight),
        keep_trade_ids_since_ns=now_ns - TRADE_IDS_KEPT_NS,
    )
    replay_fills(db, replay.book, where=f"run_id != ? {same}", params=(exclude_run, *bound))
    live = tuple(
        (cid, ticker) for cid, ticker in db.execute(
            "SELECT client_order_id, ticker FROM orders WHERE status IN ('pending_new', 'resting', 'partially_filled')"
            f" AND run_id != ? {same} ORDER BY rowid", (exclude_run, *bound),
        )
    )
    return dataclasses.replace(replay.finish(lambda ticker: last_mark(db, ticker)), open_orders=live)
