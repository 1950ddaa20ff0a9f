"""The HTML report of a backtest (`mmframe backtest FILE --report out.html`): the summary across runs,
the PnL distribution, equity and inventory curves of sample runs, markouts with their confidence
intervals, every run's metrics and the first sample run's trades."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from mmframe.clock import NANOS_PER_SECOND
from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE
from mmframe.research import plots
from mmframe.research.metrics import catalogue, horizon_label, markout_metric
from mmframe.research.run_stats import RunStats
from mmframe.runtime.backtest import BacktestReport

MAX_RUN_ROWS = 500
"""Runs listed in the per-run table (the summary and plots use every run)."""
MAX_TRADE_ROWS = 1_000
"""Trades listed from the first sample run."""


def _fmt(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{value:,.{digits}f}"


def _dollars(price_units: int) -> float:
    return price_units / PRICE_SCALE


def _seconds(ts_ns: int, start_ns: int) -> float:
    return (ts_ns - start_ns) / NANOS_PER_SECOND


def render_backtest_html(report: BacktestReport, *, title: str | None = None) -> str:
    """The report page for ``report`` (see the module docstring)."""
    metrics = {m.name: m for m in catalogue(report.horizons_s)}
    summary = report.summary()
    runs = report.runs
    seeds = f"seed {runs[0].seed}" if len(runs) == 1 else f"seeds {runs[0].seed}..{runs[-1].seed}"
    blocks: list[plots.Block] = [
        plots.note(f"{len(runs)} run{'s' if len(runs) != 1 else ''} ({seeds}). Money in dollars, "
                   "positions in contracts; the interval is the 95% confidence interval of the mean "
                   "(Student's t)."),
        plots.heading("Summary across runs"),
        plots.table(
            ["metric", "mean", "std", "95% CI low", "95% CI high", "p05", "median", "p95", "runs"],
            [
                [metrics[name].label if name in metrics else name,
                 *(_fmt(v, metrics[name].digits if name in metrics else 4)
                   for v in (s.mean, s.std, s.ci_low, s.ci_high, s.p05, s.p50, s.p95)), s.n]
                for name, s in summary.items()
            ],
        ),
        plots.heading("Net PnL across runs"),
        plots.histogram([float(run.values()["profit"] or 0) for run in runs],
                        title="Distribution of net PnL at the final mid", x_label="net PnL ($)"),
    ]
    samples = [run for run in runs if run.stats is not None and run.stats.equity_curve]
    if samples:
        blocks += [
            plots.heading("Sample runs"),
            plots.lines(
                {f"seed {run.seed}": _curve(run.stats.equity_curve, PRICE_SCALE) for run in samples
                 if run.stats is not None},
                title="Equity (net PnL) over time", x_label="seconds", y_label="$",
            ),
            plots.lines(
                {f"seed {run.seed}": _curve(run.stats.inventory_curve, COUNT_SCALE) for run in samples
                 if run.stats is not None},
                title="Inventory over time (all markets)", x_label="seconds", y_label="contracts", step=True,
            ),
        ]
    blocks += _markouts(report)
    blocks += [
        plots.heading("Every run" if len(runs) <= MAX_RUN_ROWS else f"The first {MAX_RUN_ROWS} runs"),
        plots.table(
            ["seed", *(metrics[name].label if name in metrics else name for name in report.metric_names)],
            [[run.seed, *(_fmt(None if v is None else float(v), metrics[name].digits if name in metrics else 4)
                          for name, v in run.values().items())]
             for run in runs[:MAX_RUN_ROWS]],
        ),
    ]
    if samples and samples[0].stats is not None:
        blocks += _trades(samples[0].seed, samples[0].stats)
    return plots.page(title or f"Backtest of {report.pipeline}", blocks)


def _curve(points: Sequence[tuple[int, int]], scale: int) -> list[tuple[float, float]]:
    if not points:
        return []
    start = points[0][0]
    return [(_seconds(ts, start), value / scale) for ts, value in points]


def _markouts(report: BacktestReport) -> list[plots.Block]:
    summary = report.summary()
    horizons = [Fraction(0), *report.horizons_s]
    names = ["spread_captured", *(markout_metric(h).name for h in report.horizons_s)]
    present = [(h, summary[n]) for h, n in zip(horizons, names, strict=True) if n in summary]
    if not present or all(s.n == 0 for _, s in present):
        return [plots.heading("Markouts"), plots.note("No fill was marked (no fills, or none before the horizons).")]
    return [
        plots.heading("Markouts"),
        plots.bars(
            [horizon_label(h) for h, _ in present], [s.mean for _, s in present],
            errors=[None if s.ci_low is None or s.ci_high is None else (s.ci_low, s.ci_high) for _, s in present],
            title="Markout per contract after the fill (mean across runs, 95% CI)", y_label="$ per contract",
        ),
        plots.note("Markout at h: the mid h after a fill minus the price paid (a buy), or the price received "
                   "minus that mid (a sell); 0s is the spread captured against the mid at the fill. "
                   "Positive is good for us; negative at longer horizons is adverse selection."),
    ]


def _trades(seed: int, stats: RunStats) -> list[plots.Block]:
    trades = stats.trades
    if not trades:
        return []
    start = stats.equity_curve[0][0] if stats.equity_curve else trades[0].ts_ns
    shown = trades[:MAX_TRADE_ROWS]
    more = f" (the first {MAX_TRADE_ROWS} of {len(trades)})" if len(trades) > MAX_TRADE_ROWS else ""
    return [
        plots.heading(f"Trades of seed {seed}{more}"),
        plots.table(
            ["t (s)", "market", "side", "price ($)", "contracts", "fee ($)", "mid at fill ($)"],
            [[f"{_seconds(t.ts_ns, start):.3f}", t.ticker, "buy" if t.side.value == "bid" else "sell",
              f"{_dollars(t.price):.4f}", f"{t.count / COUNT_SCALE:g}", f"{_dollars(t.fee):.4f}",
              None if t.mid is None else f"{_dollars(t.mid):.4f}"] for t in shown],
        ),
    ]
