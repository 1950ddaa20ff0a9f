"""The report as terminal tables (rich) and as one self-contained HTML page with inline SVG plots."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from mmframe.api import NANOS_PER_SECOND


def _when(ts_ns: int | None) -> str:
    if not ts_ns:
        return "-"
    return dt.datetime.fromtimestamp(ts_ns / NANOS_PER_SECOND, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*["-" if v is None else str(v) for v in row])
    return table


def print_text(report: dict[str, Any], console: Console) -> None:
    """Tables: totals, per day, per market, markouts."""
    totals = report["totals"]
    console.print(
        f"[bold]mmframe report[/bold] since {_when(report['since_ns']) if report['since_ns'] else 'the beginning'}"
        f" — {len(report['runs'])} {report.get('mode', 'live')} run(s)"
    )
    console.print(_table("Totals", ["net PnL", "realised", "unrealised", "fees", "fills", "contracts",
                                    "spread captured", "per contract"],
                         [[f"${totals['net_pnl']}", totals["realised"], totals["unrealised"], totals["fees"],
                           totals["fills"], totals["contracts"], totals["spread_captured"],
                           totals["spread_captured_per_contract"]]]))
    console.print(_table("PnL per day (UTC)", ["day", "net PnL", "realised", "unrealised", "fees", "fills", "contracts"],
                         [[d["day"], d["net_pnl"], d["realised"], d["unrealised"], d["fees"], d["fills"],
                           d["contracts"]] for d in report["by_day"]]))
    console.print(_table(
        "Per market", ["market", "net PnL", "fees", "fills", "bought", "sold", "spread captured", "position",
                       "max |position|", "markout 5s", "markout 30s", "markout 5m"],
        [[m["ticker"], m["net_pnl"], m["fees"], m["fills"], m["bought"], m["sold"], m["spread_captured"],
          m["position"], m["max_abs_position"], m["markouts"]["5s"]["markout_per_contract"],
          m["markouts"]["30s"]["markout_per_contract"], m["markouts"]["300s"]["markout_per_contract"]]
         for m in report["by_market"]],
    ))
    console.print(_table(
        "Markouts (dollars per contract; mid move = adverse selection)", ["horizon", "contracts", "markout", "mid move"],
        [[h, v["contracts"], v["markout_per_contract"], v["mid_move_per_contract"]]
         for h, v in report["markouts"].items()],
    ))
    for source, horizons in report.get("fair_value_markouts", {}).items():
        console.print(_table(
            f"Markouts against fair value {source} (dollars per contract)", ["horizon", "contracts", "markout"],
            [[h, v["contracts"], v["markout_per_contract"]] for h, v in horizons.items()],
        ))
    if report.get("incentive_scores"):
        console.print(_table(
            "Liquidity incentive score (estimated; time-weighted mean, contracts)", ["market", "score"],
            [[ticker, score] for ticker, score in report["incentive_scores"].items()],
        ))


# --- HTML --------------------------------------------------------------------------------------------

_W, _H, _L, _R, _T, _B = 720, 220, 64, 12, 14, 28


def _svg_line(points: Sequence[tuple[float, float]], label: str) -> str:
    if len(points) < 2:
        return f'<p class="dim">{html.escape(label)}: not enough points to plot.</p>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, *ys), max(0.0, *ys)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.01, y1 + 0.01

    def sx(x: float) -> float:
        return _L + (x - x0) / ((x1 - x0) or 1) * (_W - _L - _R)

    def sy(y: float) -> float:
        return _T + (1 - (y - y0) / (y1 - y0)) * (_H - _T - _B)

    path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f} {sy(y):.1f}" for i, (x, y) in enumerate(points))
    colour = "#c62828" if ys[-1] < 0 else "#2e7d32"
    return (
        f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" aria-label="{html.escape(label)}">'
        f'<line x1="{_L}" x2="{_W - _R}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#bbb"/>'
        f'<text x="{_L - 6}" y="{sy(y1) + 4:.1f}" text-anchor="end">${y1:.2f}</text>'
        f'<text x="{_L - 6}" y="{sy(y0) + 4:.1f}" text-anchor="end">${y0:.2f}</text>'
        f'<text x="{_L}" y="{_H - 8}">{_when(int(x0 * NANOS_PER_SECOND))}</text>'
        f'<text x="{_W - _R}" y="{_H - 8}" text-anchor="end">{_when(int(x1 * NANOS_PER_SECOND))}</text>'
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/></svg>'
    )


def _svg_bars(bars: Sequence[tuple[str, float]], label: str, unit: str = "$") -> str:
    if not bars:
        return f'<p class="dim">{html.escape(label)}: nothing to plot.</p>'
    values = [v for _, v in bars]
    top, bottom = max(0.0, *values), min(0.0, *values)
    if top - bottom < 1e-9:
        top += 0.01
    height = _H - _T - _B
    step = (_W - _L - _R) / len(bars)

    def sy(y: float) -> float:
        return _T + (1 - (y - bottom) / (top - bottom)) * height

    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" aria-label="{html.escape(label)}">',
             f'<line x1="{_L}" x2="{_W - _R}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#bbb"/>',
             f'<text x="{_L - 6}" y="{sy(top) + 4:.1f}" text-anchor="end">{unit}{top:.4g}</text>',
             f'<text x="{_L - 6}" y="{sy(bottom) + 4:.1f}" text-anchor="end">{unit}{bottom:.4g}</text>']
    for index, (name, value) in enumerate(bars):
        x = _L + index * step + step * 0.15
        y_top, y_bottom = sorted((sy(value), sy(0)))
        colour = "#c62828" if value < 0 else "#2e7d32"
        parts.append(f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{step * 0.7:.1f}" height="{max(y_bottom - y_top, 1):.1f}"'
                     f' fill="{colour}"><title>{html.escape(name)}: {value:.4f}</title></rect>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{_H - 8}" text-anchor="middle">{html.escape(name[:14])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('-' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    """One HTML page, no external assets: tables and inline SVG plots."""
    totals = report["totals"]
    pnl_points = [(p["ts_ns"] / NANOS_PER_SECOND, float(p["net_pnl"])) for p in report["pnl_series"]]
    day_bars = [(d["day"], float(d["net_pnl"])) for d in report["by_day"]]
    market_bars = [(m["ticker"], float(m["net_pnl"])) for m in report["by_market"]]
    markout_bars: list[tuple[str, float]] = []
    for horizon, value in report["markouts"].items():
        if value["markout_per_contract"] is not None:
            markout_bars.append((f"markout {horizon}", float(value["markout_per_contract"])))
            markout_bars.append((f"mid move {horizon}", float(value["mid_move_per_contract"])))
    sections = [
        "<h2>Totals</h2>",
        _html_table(["net PnL", "realised", "unrealised", "fees", "fills", "contracts", "spread captured"],
                    [[totals["net_pnl"], totals["realised"], totals["unrealised"], totals["fees"], totals["fills"],
                      totals["contracts"], totals["spread_captured"]]]),
        "<h2>Net PnL over time</h2>", _svg_line(pnl_points, "net PnL over time"),
        "<h2>PnL per day (UTC)</h2>", _svg_bars(day_bars, "net PnL per day"),
        _html_table(["day", "net PnL", "realised", "unrealised", "fees", "fills", "contracts"],
                    [[d["day"], d["net_pnl"], d["realised"], d["unrealised"], d["fees"], d["fills"], d["contracts"]]
                     for d in report["by_day"]]),
        "<h2>Per market</h2>", _svg_bars(market_bars, "net PnL per market"),
        _html_table(["market", "net PnL", "fees", "fills", "bought", "sold", "spread captured", "position",
                     "max |position|"],
                    [[m["ticker"], m["net_pnl"], m["fees"], m["fills"], m["bought"], m["sold"], m["spread_captured"],
                      m["position"], m["max_abs_position"]] for m in report["by_market"]]),
        "<h2>Markouts</h2><p class=\"dim\">Dollars per contract after each fill: markout is the fill's PnL at the "
        "horizon; mid move is the adverse-selection part (negative: the market moved against us).</p>",
        _svg_bars(markout_bars, "markouts by horizon"),
        _html_table(["horizon", "contracts", "markout", "mid move"],
                    [[h, v["contracts"], v["markout_per_contract"], v["mid_move_per_contract"]]
                     for h, v in report["markouts"].items()]),
        "<h2>Runs</h2>",
        _html_table(["run", "mode", "pipeline", "started", "stopped", "reason"],
                    [[r["run_id"], r.get("mode", "live"), r["pipeline"], _when(r["started_ns"]), _when(r["stopped_ns"]),
                      r["stop_reason"]] for r in report["runs"]]),
    ]
    style = (
        "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1f23}"
        "table{border-collapse:collapse;margin:8px 0 16px}th,td{padding:3px 10px;border-bottom:1px solid #ddd;"
        "text-align:right}th:first-child,td:first-child{text-align:left}svg text{font-size:11px;fill:#555}"
        ".dim{color:#666}h2{margin-top:28px}"
    )
    since = _when(report["since_ns"]) if report["since_ns"] else "the beginning of the journal"
    return (
        f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mmframe report</title>"
        f"<style>{style}</style></head><body><h1>mmframe report</h1>"
        f"<p class=\"dim\">Since {html.escape(since)}; generated {_when(report['generated_ns'])} UTC.</p>"
        + "".join(sections) + "</body></html>"
    )
