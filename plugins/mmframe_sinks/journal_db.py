"""The journal's SQLite schema, and the queries that restore a day's PnL from it.

Money columns are integers in price units (1/10,000 dollar), sizes in count units (1/100
contract), times in Unix nanoseconds. One database may hold many runs of many days.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
NANOS_PER_DAY = 86_400 * 1_000_000_000

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
CREATE INDEX IF NOT EXISTS fills_ts ON fills (ts_ns);
CREATE INDEX IF NOT EXISTS mids_ticker_ts ON mids (ticker, ts_ns);
CREATE INDEX IF NOT EXISTS pnl_run_ts ON pnl (run_id, ts_ns);
CREATE INDEX IF NOT EXISTS positions_run_ts ON positions (run_id, ts_ns);
"""


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and create) a journal in WAL mode; the connection may be used from one worker thread at a time."""
    target = Path(path)
    if create:
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.exists():
        raise FileNotFoundError(f"no journal at {target}")
    db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    if create:
        db.executescript(DDL)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return db


def day_start_ns(now_ns: int) -> int:
    """Midnight UTC of the day ``now_ns`` falls in: the daily-loss limit's day."""
    return now_ns - now_ns % NANOS_PER_DAY


@dataclass(frozen=True)
class Restored:
    """Today's net PnL from earlier runs, and the last known positions with the price to carry them at."""

    day_pnl: int
    positions: dict[str, tuple[int, int]]


def restore(db: sqlite3.Connection, now_ns: int, *, exclude_run: str = "") -> Restored:
    """Sum, over every earlier run, its net PnL made since midnight UTC (last snapshot today minus
    last snapshot before today); and the latest run's last positions (priced at their last mark)."""
    midnight = day_start_ns(now_ns)
    day_pnl = 0
    rows = db.execute(
        "SELECT run_id FROM pnl WHERE ts_ns >= ? AND ts_ns <= ? AND run_id != ? GROUP BY run_id",
        (midnight, now_ns, exclude_run),
    ).fetchall()
    for (run_id,) in rows:
        last_today = db.execute(
            "SELECT net FROM pnl WHERE run_id = ? AND ts_ns >= ? AND ts_ns <= ? ORDER BY ts_ns DESC, rowid DESC LIMIT 1",
            (run_id, midnight, now_ns),
        ).fetchone()
        before = db.execute(
            "SELECT net FROM pnl WHERE run_id = ? AND ts_ns < ? ORDER BY ts_ns DESC, rowid DESC LIMIT 1",
            (run_id, midnight),
        ).fetchone()
        day_pnl += int(last_today[0]) - (int(before[0]) if before else 0)
    positions: dict[str, tuple[int, int]] = {}
    latest = db.execute(
        "SELECT run_id FROM positions WHERE run_id != ? ORDER BY ts_ns DESC, rowid DESC LIMIT 1", (exclude_run,)
    ).fetchone()
    if latest is not None:
        for ticker, position, avg_price, mark in db.execute(
            "SELECT ticker, position, avg_price, mark FROM positions p WHERE run_id = ? AND rowid = "
            "(SELECT MAX(rowid) FROM positions q WHERE q.run_id = p.run_id AND q.ticker = p.ticker)",
            (latest[0],),
        ):
            if position:
                positions[ticker] = (int(position), int(mark if mark is not None else avg_price))
    return Restored(day_pnl, positions)
