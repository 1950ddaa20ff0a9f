"""What a journal says about trading: PnL per market and per day, fees, fills, spread captured,
inventory and markouts (the mid's move after each fill: the adverse-selection cost).

The fills are the books: they are replayed, in the order the daemon booked them, through the same
ledger the daemon keeps (the venue's per-order fee rounding included), so positions, realised PnL
and fees are the venue's whatever happened between runs (a kill -9, fills while no run was up). An
interval's net PnL is its cash flow and fees plus the change in marked value of the positions::

    net = sum over markets of  value(end) - value(start),  value(t) = realised - fees + open PnL at the mark at t

with the mark at t the last mid journaled before t (a market never marked counts at cost).
Realised and fees are their own changes; unrealised is the rest. Sums are exact integers;
per-contract averages are exact decimals rounded to 1/10,000 dollar.

The mids are the others' (the journal takes our resting orders out of the book), so a markout is
the market's move, not our own quote's. Where the journal holds external fair values (a
``fair-value`` feed, or a simulator's true fair value published as a `FairValueUpdated`), fills are
also marked out against each source (``fair_value_markouts``: at the fill and at each horizon).
Each market's estimated Liquidity Incentive Program score is averaged over the time it was sampled
(``incentive_score``, contracts; `mmframe.domain.incentive`).
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import re
import sqlite3
import time
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from mmframe.api import (
    CARRY_TRADE_PREFIX,
    COUNT_SCALE,
    NANOS_PER_SECOND,
    ONE_DOLLAR,
    PRICE_SCALE,
    BookSide,
    Ledger,
    format_count,
    format_price,
)

HORIZONS_S = (5, 30, 300)
_NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


class ReportError(ValueError):
    """The report cannot be made (bad --since, no journal); the message says why."""


def parse_since(text: str | None, now_ns: int) -> int:
    """``--since``: a UTC date or datetime (``2026-11-26``, ``2026-11-26T12:00``) or an age (``24h``,
    ``7d``, ``30m``); None means the beginning of the journal."""
    if not text:
        return 0
    match = _RELATIVE.match(text)
    if match:
        return now_ns - int(match.group(1)) * _UNIT_S[match.group(2)] * NANOS_PER_SECOND
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"--since {text!r}: expected a date (2026-11-26), a datetime (2026-11-26T12:00) "
                          "or an age (30m, 24h, 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * NANOS_PER_SECOND + moment.microsecond * 1000


def day_of(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns // NANOS_PER_SECOND, dt.UTC).strftime("%Y-%m-%d")


def _per_contract(total_micro: int, count: int) -> str | None:
    """A price x count sum divided by a count: dollars per contract, 4 decimals."""
    if not count:
        return None
    dollars = Decimal(total_micro) / count / PRICE_SCALE
    return str(dollars.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _micro_dollars(total_micro: int) -> str:
    return format_price(total_micro // COUNT_SCALE)


class _Mids:
    """Sampled mids per market, for 'the mid at time t'."""

    def __init__(self, rows: Iterable[tuple[str, int, int]]) -> None:
        self._by_ticker: dict[str, tuple[list[int], list[int]]] = {}
        for ticker, ts, mid in rows:
            times, mids = self._by_ticker.setdefault(ticker, ([], []))
            times.append(ts)
            mids.append(mid)

    def at(self, ticker: str, ts_ns: int) -> int | None:
        found = self._by_ticker.get(ticker)
        if not found:
            return None
        times, mids = found
        index = bisect.bisect_right(times, ts_ns) - 1
        return mids[index] if index >= 0 else None


def _incentive_means(db: sqlite3.Connection, since_ns: int, end: int, run_end: dict[str, int]) -> dict[str, str]:
    """Per market, the time-weighted mean of the sampled incentive score over the period (each
    sample holds until the next one of its run, or the run's end), in contracts."""
    weighted: collections.Counter[str] = collections.Counter()
    spans: collections.Counter[str] = collections.Counter()
    previous: tuple[str, str, int, int] | None = None  # (run, ticker, ts, score)

    def close(until: int) -> None:
        assert previous is not None
        _run, ticker, ts, score = previous
        start, stop = max(ts, since_ns), min(until, end)
        if stop > start:
            weighted[ticker] += score * (stop - start)
            spans[ticker] += stop - start

    for run, ticker, ts, score in db.execute(
        "SELECT run_id, ticker, ts_ns, score FROM incentive WHERE run_id IN (SELECT run_id FROM report_runs)"
        " ORDER BY run_id, ticker, ts_ns, rowid"
    ):
        if previous is not None:
            same = previous[0] == run and previous[1] == ticker
            close(int(ts) if same else run_end.get(previous[0], previous[2]))
        previous = (run, ticker, int(ts), int(score))
    if previous is not None:
        close(run_end.get(previous[0], previous[2]))
    return {
        ticker: format_count(int(Decimal(weighted[ticker]) / spans[ticker]))
        for ticker in sorted(spans) if spans[ticker]
    }


def _fair_value_markouts(
    db: sqlite3.Connection, fills: list[tuple[Any, ...]], since_ns: int, end: int, run_end: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per fair-value source: the fills' edge against it at the fill (``0s``) and at each horizon,
    per contract (positive: the fill was better than the fair value then)."""
    sources = [row[0] for row in db.execute("SELECT DISTINCT source FROM fair_values ORDER BY source")]
    result: dict[str, dict[str, Any]] = {}
    for source in sources:
        series = _Mids(db.execute(
            "SELECT ticker, ts_ns, price FROM fair_values WHERE source = ? AND run_id IN (SELECT run_id FROM"
            " report_runs) ORDER BY ticker, ts_ns, rowid", (source,),
        ))
        buckets = {h: [0, 0] for h in (0, *HORIZONS_S)}
        for ts, ticker, side, price, count, _fee, _taker, _mid, run_id, _oid, _cid, trade_id, _payout in fills:
            if ts < since_ns or ts >= end or trade_id.startswith(CARRY_TRADE_PREFIX):
                continue
            sign = 1 if side == "bid" else -1
            for horizon, bucket in buckets.items():
                when = ts + horizon * NANOS_PER_SECOND
                fair = series.at(ticker, when)
                if fair is None or when > run_end.get(run_id, 0):
                    continue
                bucket[0] += sign * (fair - price) * count
                bucket[1] += count
        result[source] = {
            f"{h}s": {"contracts": format_count(b[1]), "markout_per_contract": _per_contract(b[0], b[1])}
            for h, b in buckets.items()
        }
    return result


MODES = ("auto", "live", "paper", "backtest", "all")
"""Which runs a report covers: ``auto`` is the live runs, else the paper runs, else the backtest runs
(the first of these the journal has)."""
_MAX_SERIES_POINTS = 2000


def _money(net: int, realised: int, fees: int) -> dict[str, str]:
    """Micro-dollar amounts as dollar strings (floored to the price unit)."""
    return {"net_pnl": _micro_dollars(net), "realised": _micro_dollars(realised),
            "unrealised": _micro_dollars(net - realised + fees), "fees": _micro_dollars(fees)}


def _select_runs(db: sqlite3.Connection, mode: str) -> tuple[str, list[tuple[Any, ...]]]:
    if mode not in MODES:
        raise ReportError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    rows = db.execute("SELECT run_id, pipeline, started_ns, stopped_ns, stop_reason, error, mode FROM runs "
                      "ORDER BY started_ns, rowid").fetchall()
    if mode == "auto":
        present = {r[6] for r in rows}
        mode = next((m for m in ("live", "paper", "backtest") if m in present), "live")
    return mode, [r for r in rows if mode == "all" or r[6] == mode]


class _Books:
    """The replayed ledger, valued at any moment (see the module docstring)."""

    def __init__(self, mids: _Mids) -> None:
        self.ledger = Ledger()
        self.mids = mids

    def values(self, at_ns: int) -> dict[str, tuple[int, int, int]]:
        """Per market: (value, realised, fees) in micro-dollars, marked at the last mid before ``at_ns``."""
        out = {}
        for ticker, position in self.ledger.positions.items():
            mark = self.mids.at(ticker, at_ns) if position.position else None
            out[ticker] = (position.net_micro(mark), position.realised_micro, position.fees_micro)
        return out


def _change(end: dict[str, tuple[int, int, int]], start: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int, int]]:
    zero = (0, 0, 0)
    return {t: (v[0] - start.get(t, zero)[0], v[1] - start.get(t, zero)[1], v[2] - start.get(t, zero)[2])
            for t, v in end.items()}


def _total(per_market: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    return (sum(v[0] for v in per_market.values()), sum(v[1] for v in per_market.values()),
            sum(v[2] for v in per_market.values()))


def build_report(
    db: sqlite3.Connection, *, since_ns: int = 0, now_ns: int | None = None, mode: str = "auto"
) -> dict[str, Any]:
    """The whole report as JSON-ready data (money as dollar strings); ``mode`` picks the runs
    (`MODES`)."""
    now = now_ns if now_ns is not None else time.time_ns()
    end = now + 1
    mode, selected = _select_runs(db, mode)
    run_ids = [r[0] for r in selected]
    runs = [
        {"run_id": r[0], "pipeline": r[1], "started_ns": r[2], "stopped_ns": r[3], "stop_reason": r[4],
         "error": bool(r[5]), "mode": r[6]}
        for r in selected if r[3] is None or r[3] >= since_ns
    ]
    db.execute("CREATE TEMP TABLE IF NOT EXISTS report_runs (run_id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM report_runs")
    db.executemany("INSERT OR IGNORE INTO report_runs (run_id) VALUES (?)", [(r,) for r in run_ids])
    run_end: dict[str, int] = {}
    for run_id, stopped, last in db.execute(
        "SELECT r.run_id, r.stopped_ns, (SELECT MAX(ts_ns) FROM pnl p WHERE p.run_id = r.run_id) FROM runs r"
    ):
        run_end[run_id] = int(stopped or last or 0)
    mids = _Mids(db.execute(
        "SELECT ticker, ts_ns, mid FROM mids WHERE run_id IS NULL OR run_id IN (SELECT run_id FROM report_runs) "
        "ORDER BY ticker, ts_ns, rowid"
    ))
    fills = db.execute(
        "SELECT ts_ns, ticker, side, price, count, fee, is_taker, mid, run_id, order_id, client_order_id, trade_id, "
        "payout FROM fills WHERE run_id IN (SELECT run_id FROM report_runs) ORDER BY id"
    ).fetchall()
    samples = [int(r[0]) for r in db.execute(
        "SELECT DISTINCT ts_ns FROM pnl WHERE run_id IN (SELECT run_id FROM report_runs) AND ts_ns >= ? AND ts_ns < ? "
        "ORDER BY ts_ns", (since_ns, end),
    )]
    if len(samples) > _MAX_SERIES_POINTS:
        step = -(-len(samples) // _MAX_SERIES_POINTS)
        samples = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])

    # Cut points: the start of the period, each UTC day in it, each chart sample, the end.
    first_active = min((int(f[0]) for f in fills if int(f[0]) >= since_ns), default=None)
    days: list[int] = []
    if first_active is not None or samples:
        first = min(x for x in (first_active, samples[0] if samples else None) if x is not None)
        day = max(since_ns - since_ns % _NANOS_PER_DAY, first - first % _NANOS_PER_DAY)
        while day < end:
            days.append(day)
            day += _NANOS_PER_DAY
    cuts = sorted({since_ns, end, *days, *(d + _NANOS_PER_DAY for d in days), *samples})
    books = _Books(mids)
    at: dict[int, dict[str, tuple[int, int, int]]] = {}
    position: collections.Counter[str] = collections.Counter()
    peak: dict[str, int] = {}
    cut_index = 0

    def cut_until(ts: int) -> None:
        nonlocal cut_index
        while cut_index < len(cuts) and cuts[cut_index] <= ts:
            at[cuts[cut_index]] = books.values(cuts[cut_index])
            cut_index += 1

    overall = {h: [0, 0, 0] for h in HORIZONS_S}
    market_stats: dict[str, dict[str, Any]] = collections.defaultdict(
        lambda: {"fills": 0, "bought": 0, "sold": 0, "carried_in": 0, "fill_fees": 0, "maker": 0, "spread_micro": 0,
                 "spread_count": 0, "markout": {h: [0, 0, 0] for h in HORIZONS_S}}
    )
    fills_by_day: collections.Counter[str] = collections.Counter()
    contracts_by_day: collections.Counter[str] = collections.Counter()
    spread_total = spread_count = period_fills = period_contracts = 0
    for ts, ticker, side, price, count, fee, is_taker, mid, run_id, order_id, cid, trade_id, payout in fills:
        cut_until(ts)
        sign = 1 if side == "bid" else -1
        books.ledger.position(ticker).payout = ONE_DOLLAR if payout is None else payout
        books.ledger.book(ticker, BookSide(side), price, count, fee, order_id or cid or None)
        position[ticker] += sign * count
        if ts < since_ns or ts >= end:
            continue
        peak[ticker] = max(peak.get(ticker, 0), abs(position[ticker]))
        stats = market_stats[ticker]
        stats["bought" if sign > 0 else "sold"] += count
        if trade_id.startswith(CARRY_TRADE_PREFIX):
            stats["carried_in"] += sign * count
            continue
        period_fills += 1
        period_contracts += count
        fills_by_day[day_of(ts)] += 1
        contracts_by_day[day_of(ts)] += count
        stats["fills"] += 1
        stats["fill_fees"] += fee
        stats["maker"] += 0 if is_taker else 1
        mid0 = mid if mid is not None else mids.at(ticker, ts)
        if mid0 is None:
            continue
        captured = sign * (mid0 - price) * count
        stats["spread_micro"] += captured
        stats["spread_count"] += count
        spread_total += captured
        spread_count += count
        covered_until = run_end.get(run_id, 0)
        for horizon in HORIZONS_S:
            when = ts + horizon * NANOS_PER_SECOND
            later = mids.at(ticker, when)
            if later is None or when > covered_until:
                continue
            for bucket in (stats["markout"][horizon], overall[horizon]):
                bucket[0] += sign * (later - price) * count
                bucket[1] += sign * (later - mid0) * count
                bucket[2] += count
    cut_until(end)
    for ticker, held in position.items():  # markets only traded before the period
        peak.setdefault(ticker, abs(held))

    period = _change(at[end], at[since_ns])
    active = {t for t, v in period.items() if v != (0, 0, 0)} | set(market_stats)
    by_day = []
    for day in days:
        start, stop = max(day, since_ns), min(day + _NANOS_PER_DAY, end)
        net, realised, fees = _total(_change(at[stop], at[start]))
        label = day_of(day)
        if not (net or realised or fees or fills_by_day[label]):
            continue
        by_day.append({"day": label, **_money(net, realised, fees), "fills": fills_by_day[label],
                       "contracts": format_count(contracts_by_day[label])})

    def markouts(buckets: dict[int, list[int]]) -> dict[str, dict[str, Any]]:
        return {
            f"{h}s": {"contracts": format_count(b[2]), "markout_per_contract": _per_contract(b[0], b[2]),
                      "mid_move_per_contract": _per_contract(b[1], b[2])}
            for h, b in buckets.items()
        }

    by_market = []
    for ticker in sorted(active):
        net, realised, fees = period.get(ticker, (0, 0, 0))
        stats = market_stats[ticker]
        by_market.append({
            "ticker": ticker, **_money(net, realised, fees), "fills": stats["fills"], "maker_fills": stats["maker"],
            "bought": format_count(stats["bought"]), "sold": format_count(stats["sold"]),
            "carried_in": format_count(stats["carried_in"]),
            "fill_fees": format_price(stats["fill_fees"]),
            "spread_captured": _micro_dollars(stats["spread_micro"]),
            "spread_captured_per_contract": _per_contract(stats["spread_micro"], stats["spread_count"]),
            "position": format_count(position[ticker]), "max_abs_position": format_count(peak.get(ticker, 0)),
            "markouts": markouts(stats["markout"]),
        })

    incentive = _incentive_means(db, since_ns, end, run_end)
    for row in by_market:
        row["incentive_score"] = incentive.get(row["ticker"])

    base = _total(at[since_ns])[0]
    series = [{"ts_ns": t, "net_pnl": _micro_dollars(_total(at[t])[0] - base)} for t in samples]
    net, realised, fees = _total(period)
    return {
        "since_ns": since_ns,
        "generated_ns": now,
        "mode": mode,
        "runs": runs,
        "totals": {**_money(net, realised, fees), "fills": period_fills, "contracts": format_count(period_contracts),
                   "spread_captured": _micro_dollars(spread_total),
                   "spread_captured_per_contract": _per_contract(spread_total, spread_count)},
        "by_day": by_day,
        "by_market": by_market,
        "markouts": markouts(overall),
        "incentive_scores": incentive,
        "fair_value_markouts": _fair_value_markouts(db, fills, since_ns, end, run_end),
        "pnl_series": series,
    }
