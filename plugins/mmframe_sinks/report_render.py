"""The report as terminal tables (rich) and as one self-contained HTML page (plots through
`mmframe.api.plots`, shared with `mmframe backtest --report` and `mmframe sweep`)."""

from __future__ import annotations

import datetime as dt
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


def _day_start_s(ts_ns: int) -> float:
    return ts_ns / NANOS_PER_SECOND


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page: tables and plots drawn with the shared plotting module
    (`mmframe.api.plots`, the one `mmframe backtest --report` and `mmframe sweep` use)."""
    from mmframe.api import plots  # plotly only when a page is written
    totals = report["totals"]
    start_s = _day_start_s(report["pnl_series"][0]["ts_ns"]) if report["pnl_series"] else 0.0
    pnl_points = [(_day_start_s(p["ts_ns"]) - start_s, float(p["net_pnl"])) for p in report["pnl_series"]]
    horizons = [h for h, v in report["markouts"].items() if v["markout_per_contract"] is not None]
    since = _when(report["since_ns"]) if report["since_ns"] else "the beginning of the journal"
    blocks: list[Any] = [
        plots.note(f"Since {since}; generated {_when(report['generated_ns'])} UTC."),
        plots.heading("Totals"),
        plots.table(["net PnL", "realised", "unrealised", "fees", "fills", "contracts", "spread captured"],
                    [[totals["net_pnl"], totals["realised"], totals["unrealised"], totals["fees"], totals["fills"],
                      totals["contracts"], totals["spread_captured"]]]),
        plots.heading("Net PnL over time"),
        plots.lines({"net PnL": pnl_points}, title="Net PnL over time", x_label="seconds since the first sample",
                    y_label="$"),
        plots.heading("PnL per day (UTC)"),
        plots.bars([d["day"] for d in report["by_day"]], [float(d["net_pnl"]) for d in report["by_day"]],
                   title="Net PnL per day", y_label="$"),
        plots.table(["day", "net PnL", "realised", "unrealised", "fees", "fills", "contracts"],
                    [[d["day"], d["net_pnl"], d["realised"], d["unrealised"], d["fees"], d["fills"], d["contracts"]]
                     for d in report["by_day"]]),
        plots.heading("Per market"),
        plots.bars([m["ticker"] for m in report["by_market"]], [float(m["net_pnl"]) for m in report["by_market"]],
                   title="Net PnL per market", y_label="$"),
        plots.table(["market", "net PnL", "fees", "fills", "bought", "sold", "spread captured", "position",
                     "max |position|"],
                    [[m["ticker"], m["net_pnl"], m["fees"], m["fills"], m["bought"], m["sold"], m["spread_captured"],
                      m["position"], m["max_abs_position"]] for m in report["by_market"]]),
        plots.heading("Markouts"),
        plots.note("Dollars per contract after each fill: markout is the fill's PnL at the horizon; mid move is "
                   "the adverse-selection part (negative: the market moved against us)."),
        plots.grouped_bars(
            horizons,
            {"markout": [float(report["markouts"][h]["markout_per_contract"]) for h in horizons],
             "mid move": [float(report["markouts"][h]["mid_move_per_contract"] or 0) for h in horizons]},
            title="Markouts by horizon", y_label="$ per contract",
        ),
        plots.table(["horizon", "contracts", "markout", "mid move"],
                    [[h, v["contracts"], v["markout_per_contract"], v["mid_move_per_contract"]]
                     for h, v in report["markouts"].items()]),
        plots.heading("Runs"),
        plots.table(["run", "mode", "pipeline", "started", "stopped", "reason"],
                    [[r["run_id"], r.get("mode", "live"), r["pipeline"], _when(r["started_ns"]), _when(r["stopped_ns"]),
                      r["stop_reason"]] for r in report["runs"]]),
    ]
    return plots.page("mmframe report", blocks)
