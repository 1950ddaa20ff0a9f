"""What a journal says about trading: PnL per market and per day, fees, fills, spread captured,
inventory and markouts (the mid's move after each fill: the adverse-selection cost).

Sums are exact integers; per-contract averages are exact decimals rounded to 1/10,000 dollar.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from mmframe.api import COUNT_SCALE, NANOS_PER_SECOND, PRICE_SCALE, format_count, format_price

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


@dataclass(frozen=True)
class _Snapshot:
    ts_ns: int
    realised: int
    unrealised: int
    fees: int

    @property
    def net(self) -> int:
        return self.realised + self.unrealised - self.fees


_ZERO = _Snapshot(0, 0, 0, 0)


def _delta(series: list[_Snapshot], start: int, end: int) -> _Snapshot | None:
    """Change over [start, end): last snapshot before ``end`` minus last before ``start`` (None: no activity)."""
    before = after = None
    for snap in series:
        if snap.ts_ns < start:
            before = snap
        if snap.ts_ns < end:
            after = snap
    if after is None or after is before:
        return None
    base = before or _ZERO
    return _Snapshot(after.ts_ns, after.realised - base.realised, after.unrealised - base.unrealised,
                     after.fees - base.fees)


def _money(snap: _Snapshot) -> dict[str, str]:
    return {"net_pnl": format_price(snap.net), "realised": format_price(snap.realised),
            "unrealised": format_price(snap.unrealised), "fees": format_price(snap.fees)}


def _add(a: _Snapshot, b: _Snapshot) -> _Snapshot:
    return _Snapshot(max(a.ts_ns, b.ts_ns), a.realised + b.realised, a.unrealised + b.unrealised, a.fees + b.fees)


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


def build_report(db: sqlite3.Connection, *, since_ns: int = 0, now_ns: int | None = None) -> dict[str, Any]:
    """The whole report as JSON-ready data (money as dollar strings)."""
    now = now_ns if now_ns is not None else time.time_ns()
    end = now + 1
    runs = [
        {"run_id": r[0], "pipeline": r[1], "started_ns": r[2], "stopped_ns": r[3], "stop_reason": r[4],
         "error": bool(r[5])}
        for r in db.execute("SELECT run_id, pipeline, started_ns, stopped_ns, stop_reason, error FROM runs "
                            "WHERE stopped_ns IS NULL OR stopped_ns >= ? ORDER BY started_ns", (since_ns,))
    ]
    run_end: dict[str, int] = {}
    for run_id, stopped, last in db.execute(
        "SELECT r.run_id, r.stopped_ns, (SELECT MAX(ts_ns) FROM pnl p WHERE p.run_id = r.run_id) FROM runs r"
    ):
        run_end[run_id] = int(stopped or last or 0)

    # PnL: per (run, market) position snapshots and per run totals.
    market_series: dict[tuple[str, str], list[_Snapshot]] = collections.defaultdict(list)
    inventory: dict[str, dict[str, int]] = {}
    for run_id, ticker, ts, position, realised, unrealised, fees in db.execute(
        "SELECT run_id, ticker, ts_ns, position, realised_pnl, unrealised_pnl, fees FROM positions ORDER BY ts_ns, rowid"
    ):
        market_series[(run_id, ticker)].append(_Snapshot(ts, realised, unrealised, fees))
        info = inventory.setdefault(ticker, {"position": 0, "max_abs": 0})
        info["position"] = position
        if ts >= since_ns:
            info["max_abs"] = max(info["max_abs"], abs(position))
    # Fills between two valuations never show in a snapshot: replay them for the inventory peak.
    replayed: collections.Counter[str] = collections.Counter()
    for ts, ticker, side, count in db.execute("SELECT ts_ns, ticker, side, count FROM fills ORDER BY ts_ns, id"):
        replayed[ticker] += count if side == "bid" else -count
        if ts >= since_ns:
            info = inventory.setdefault(ticker, {"position": replayed[ticker], "max_abs": 0})
            info["max_abs"] = max(info["max_abs"], abs(replayed[ticker]))
    run_series: dict[str, list[_Snapshot]] = collections.defaultdict(list)
    for run_id, ts, realised, unrealised, fees in db.execute(
        "SELECT run_id, ts_ns, realised, unrealised, fees FROM pnl ORDER BY ts_ns, rowid"
    ):
        run_series[run_id].append(_Snapshot(ts, realised, unrealised, fees))

    first_day = since_ns - since_ns % _NANOS_PER_DAY
    days: list[int] = []
    starts = [s.ts_ns for series in run_series.values() for s in series if s.ts_ns >= since_ns]
    if starts:
        day = max(first_day, min(starts) - min(starts) % _NANOS_PER_DAY)
        while day < end:
            days.append(day)
            day += _NANOS_PER_DAY

    by_day = []
    fills_by_day = collections.Counter[str]()
    contracts_by_day = collections.Counter[str]()
    fills_rows = db.execute(
        "SELECT ts_ns, ticker, side, price, count, fee, is_taker, mid, run_id FROM fills WHERE ts_ns >= ? AND ts_ns < ? "
        "ORDER BY ts_ns, id", (since_ns, end),
    ).fetchall()
    for ts, _ticker, _side, _price, count, *_ in fills_rows:
        fills_by_day[day_of(ts)] += 1
        contracts_by_day[day_of(ts)] += count
    for day in days:
        total = _ZERO
        for series in run_series.values():
            delta = _delta(series, max(day, since_ns), min(day + _NANOS_PER_DAY, end))
            if delta is not None:
                total = _add(total, delta)
        label = day_of(day)
        by_day.append({"day": label, **_money(total), "fills": fills_by_day[label],
                       "contracts": format_count(contracts_by_day[label])})

    period_total = _ZERO
    for series in run_series.values():
        delta = _delta(series, since_ns, end)
        if delta is not None:
            period_total = _add(period_total, delta)

    per_market: dict[str, _Snapshot] = {}
    for (_run, ticker), series in market_series.items():
        delta = _delta(series, since_ns, end)
        if delta is not None:
            per_market[ticker] = _add(per_market.get(ticker, _ZERO), delta)

    # Fills, spread captured and markouts.
    mids = _Mids(db.execute("SELECT ticker, ts_ns, mid FROM mids ORDER BY ticker, ts_ns, rowid"))
    market_stats: dict[str, dict[str, Any]] = collections.defaultdict(
        lambda: {"fills": 0, "bought": 0, "sold": 0, "fees": 0, "maker": 0, "spread_micro": 0, "spread_count": 0,
                 "markout": {h: [0, 0, 0] for h in HORIZONS_S}}
    )
    overall = {h: [0, 0, 0] for h in HORIZONS_S}
    spread_total = spread_count = 0
    for ts, ticker, side, price, count, fee, is_taker, mid, run_id in fills_rows:
        stats = market_stats[ticker]
        sign = 1 if side == "bid" else -1
        stats["fills"] += 1
        stats["bought" if sign > 0 else "sold"] += count
        stats["fees"] += fee
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
            at = ts + horizon * NANOS_PER_SECOND
            later = mids.at(ticker, at)
            if later is None or at > covered_until:
                continue
            for bucket in (stats["markout"][horizon], overall[horizon]):
                bucket[0] += sign * (later - price) * count
                bucket[1] += sign * (later - mid0) * count
                bucket[2] += count

    def markouts(buckets: dict[int, list[int]]) -> dict[str, dict[str, Any]]:
        return {
            f"{h}s": {"contracts": format_count(b[2]), "markout_per_contract": _per_contract(b[0], b[2]),
                      "mid_move_per_contract": _per_contract(b[1], b[2])}
            for h, b in buckets.items()
        }

    tickers = sorted(set(per_market) | set(market_stats))
    by_market = []
    for ticker in tickers:
        pnl = per_market.get(ticker, _ZERO)
        stats = market_stats[ticker]
        inv = inventory.get(ticker, {"position": 0, "max_abs": 0})
        by_market.append({
            "ticker": ticker, **_money(pnl), "fills": stats["fills"], "maker_fills": stats["maker"],
            "bought": format_count(stats["bought"]), "sold": format_count(stats["sold"]),
            "fill_fees": format_price(stats["fees"]),
            "spread_captured": _micro_dollars(stats["spread_micro"]),
            "spread_captured_per_contract": _per_contract(stats["spread_micro"], stats["spread_count"]),
            "position": format_count(inv["position"]), "max_abs_position": format_count(inv["max_abs"]),
            "markouts": markouts(stats["markout"]),
        })

    # Net PnL over the period, summed across runs, for the chart.
    series_points: list[tuple[int, int]] = []
    latest: dict[str, int] = {}
    baseline = 0
    for run_id, series in run_series.items():
        before = [s for s in series if s.ts_ns < since_ns]
        if before:
            latest[run_id] = before[-1].net
            baseline += before[-1].net
    for ts, run_id, net in sorted(
        (s.ts_ns, run_id, s.net) for run_id, series in run_series.items() for s in series if since_ns <= s.ts_ns < end
    ):
        latest[run_id] = net
        series_points.append((ts, sum(latest.values()) - baseline))

    return {
        "since_ns": since_ns,
        "generated_ns": now,
        "runs": runs,
        "totals": {**_money(period_total), "fills": len(fills_rows),
                   "contracts": format_count(sum(r[4] for r in fills_rows)),
                   "spread_captured": _micro_dollars(spread_total),
                   "spread_captured_per_contract": _per_contract(spread_total, spread_count)},
        "by_day": by_day,
        "by_market": by_market,
        "markouts": markouts(overall),
        "pnl_series": [{"ts_ns": ts, "net_pnl": format_price(v)} for ts, v in series_points],
    }
