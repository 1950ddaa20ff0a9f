"""``mmframe backtest FILE [--runs N] [--seed S] [--set K=V ...] [--json] [--report out.html]``.

The pipeline's journal (if any) records the first ``--journal-runs`` runs (default 1) as backtest runs,
which ``mmframe report --mode backtest`` reports. ``--json`` prints ``{"runs": N, "metrics": {"profit":
{"mean": .., "std": ..}, "final_inventory": {..}, "spread": {..}, "fills": {..}, "fees": {..}, ...},
"distribution": {name: {"n", "mean", "std", "ci95", "min", "p05", "p50", "p95", "max"}}, "per_run":
[{"seed": .., name: value, ...}]}`` in dollars, contracts and ratios: the first release's five metrics
first, then the run measurements of `mmframe.research.metrics` and the markouts (``std`` is the sample
standard deviation across runs; a metric is null when no run had it, e.g. ``spread`` when nothing was
quoted two-sided). Without it, a table. ``--report`` also writes the HTML report
(`mmframe.research.backtest_report`).
"""

from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import click

from mmframe.pipeline import PipelineError, load_pipeline
from mmframe.plugins import Registry, load_registry
from mmframe.research.metrics import catalogue
from mmframe.research.progress import progress_bar
from mmframe.research.run_stats import DEFAULT_HORIZONS_S
from mmframe.runtime.backtest import BacktestError, BacktestReport, build_backtest, run_backtest

SAMPLE_RUNS = 5
"""Runs whose curves and trades the HTML report draws."""


def _registry(ctx: click.Context) -> Registry:
    registry = getattr(ctx.obj, "registry", None)
    return registry if isinstance(registry, Registry) else load_registry()


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def parse_horizons(text: str) -> tuple[Fraction, ...]:
    """``"1,10,60"`` -> the markout horizons in seconds (positive, increasing, at most 8)."""
    try:
        horizons = tuple(Fraction(part.strip()) for part in text.split(",") if part.strip())
    except (ValueError, ZeroDivisionError):
        raise click.BadParameter(f"{text!r}: expected seconds separated by commas, e.g. 1,10,60") from None
    if not horizons or len(horizons) > 8:
        raise click.BadParameter(f"{text!r}: give 1 to 8 horizons, e.g. 1,10,60")
    if any(h <= 0 for h in horizons) or list(horizons) != sorted(set(horizons)):
        raise click.BadParameter(f"{text!r}: horizons must be positive and increasing")
    return horizons


def format_report(report: BacktestReport, seed: int, seconds: float) -> str:
    """The human-readable table: every metric's mean, and with several runs its standard deviation
    and the 95% confidence interval of the mean."""
    n = len(report.runs)
    seeds = f"seed {seed}" if n == 1 else f"seeds {seed}..{seed + n - 1}"
    lines = [f"backtest {report.pipeline}: {n} run{'s' if n != 1 else ''} ({seeds}) in {seconds:.1f}s", ""]
    summary = report.summary()
    metrics = [m for m in catalogue(report.horizons_s) if m.name in summary]
    width = max(len(m.label) for m in metrics)
    if n == 1:
        lines.append(f"{'metric':<{width}}  {'value':>14}")
        for m in metrics:
            lines.append(f"{m.label:<{width}}  {_number(summary[m.name].mean, m.digits):>14}")
    else:
        lines.append(f"{'metric':<{width}}  {'mean':>14}  {'std':>14}  {'95% CI of the mean':>29}")
        for m in metrics:
            s = summary[m.name]
            ci = "-" if s.ci_low is None or s.ci_high is None else \
                f"[{_number(s.ci_low, m.digits)}, {_number(s.ci_high, m.digits)}]"
            lines.append(f"{m.label:<{width}}  {_number(s.mean, m.digits):>14}  {_number(s.std, m.digits):>14}  {ci:>29}")
    return "\n".join(lines)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Independent runs, seeded S, S+1, ...")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first run.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a value in the file, e.g. --set strategy.with.gamma=0.01 (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--journal-runs", type=click.IntRange(min=0), default=1, show_default=True,
              help="How many runs (the first) the pipeline's journal records, for `mmframe report --mode backtest`.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="OUT.html", help="Also write the HTML report (plots, every run, sample trades) to this file.")
@click.option("--markouts", "horizons_s", default="1,10,60", show_default=True, metavar="SECONDS,...",
              callback=lambda _ctx, _param, value: parse_horizons(value) if value else DEFAULT_HORIZONS_S,
              help="Markout horizons in seconds after each fill.")
@click.pass_context
def backtest(
    ctx: click.Context, file: str, runs: int, seed: int, overrides: tuple[str, ...], as_json: bool, journal_runs: int,
    report_path: Path | None, horizons_s: tuple[Fraction, ...],
) -> None:
    """Backtest the pipeline in FILE: its strategy and risk rules against backtest feeds and a
    simulated executor, in simulated time; prints net PnL, fees, fills, average quoted spread, final
    inventory, fill ratio, spread captured, drawdown, a Sharpe-like ratio, inventory, quote uptime and
    markouts (mean, standard deviation and 95% interval over --runs); --report adds plots."""
    registry = _registry(ctx)
    try:
        pipeline = load_pipeline(file, registry, overrides)
    except PipelineError as exc:
        for issue in exc.errors:
            click.echo(str(issue), err=True)
        sys.exit(1)
    started = time.perf_counter()
    try:
        parts = build_backtest(pipeline, registry)
        with progress_bar(f"backtest {pipeline.name}", runs, enabled=not as_json) as advance:
            report = run_backtest(parts, runs=runs, seed=seed, record_runs=journal_runs, horizons_s=horizons_s,
                                  sample_runs=SAMPLE_RUNS if report_path is not None else 0,
                                  progress=lambda _index: advance(1))
    except BacktestError as exc:
        click.echo(f"mmframe: error: {file}: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a component failing mid-run: one line, never a traceback
        click.echo(f"mmframe: error: {file}: backtest failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    if report_path is not None:
        from mmframe.research.backtest_report import render_backtest_html  # plotly only when asked

        try:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(render_backtest_html(report), encoding="utf-8")
        except OSError as exc:
            click.echo(f"mmframe: error: cannot write the report {report_path}: {exc.strerror or exc}", err=True)
            sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(format_report(report, seed, time.perf_counter() - started))
        if report_path is not None:
            click.echo(f"\nHTML report written to {report_path}")
