"""``mmframe backtest FILE [--runs N] [--seed S] [--set K=V ...] [--json]``.

The pipeline's journal (if any) records the first ``--journal-runs`` runs (default 1) as backtest runs,
which ``mmframe report --mode backtest`` reports. ``--json`` prints exactly ``{"runs": N, "metrics": {"profit": {"mean": .., "std": ..},
"final_inventory": {..}, "spread": {..}, "fills": {..}, "fees": {..}}}`` in dollars and contracts
(``std`` is the sample standard deviation across runs; ``spread`` is null when nothing was quoted
two-sided). Without it, a table.
"""

from __future__ import annotations

import json
import sys
import time

import click

from mmframe.pipeline import PipelineError, load_pipeline
from mmframe.plugins import Registry, load_registry
from mmframe.runtime.backtest import BacktestError, BacktestReport, Summary, build_backtest, run_backtest

_LABELS = {
    "profit": "net PnL at final mid ($)",
    "fees": "fees ($)",
    "fills": "fills",
    "spread": "average quoted spread ($)",
    "final_inventory": "final inventory (contracts)",
}
_DIGITS = {"profit": 4, "fees": 4, "fills": 2, "spread": 4, "final_inventory": 2}


def _registry(ctx: click.Context) -> Registry:
    registry = getattr(ctx.obj, "registry", None)
    return registry if isinstance(registry, Registry) else load_registry()


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_report(report: BacktestReport, seed: int, seconds: float) -> str:
    """The human-readable table."""
    n = len(report.runs)
    seeds = f"seed {seed}" if n == 1 else f"seeds {seed}..{seed + n - 1}"
    lines = [f"backtest {report.pipeline}: {n} run{'s' if n != 1 else ''} ({seeds}) in {seconds:.1f}s", ""]
    summary = report.summary()
    width = max(len(label) for label in _LABELS.values())
    if n == 1:
        lines.append(f"{'metric':<{width}}  {'value':>14}")
        for name, label in _LABELS.items():
            lines.append(f"{label:<{width}}  {_number(summary[name].mean, _DIGITS[name]):>14}")
    else:
        lines.append(f"{'metric':<{width}}  {'mean':>14}  {'std':>14}")
        for name, label in _LABELS.items():
            s: Summary = summary[name]
            digits = _DIGITS[name]
            lines.append(f"{label:<{width}}  {_number(s.mean, digits):>14}  {_number(s.std, digits):>14}")
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
@click.pass_context
def backtest(
    ctx: click.Context, file: str, runs: int, seed: int, overrides: tuple[str, ...], as_json: bool, journal_runs: int
) -> None:
    """Backtest the pipeline in FILE: its strategy and risk rules against backtest feeds and a
    simulated executor, in simulated time; prints net PnL, fees, fills, average quoted spread and
    final inventory (mean and standard deviation over --runs)."""
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
        report = run_backtest(parts, runs=runs, seed=seed, record_runs=journal_runs)
    except BacktestError as exc:
        click.echo(f"mmframe: error: {file}: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a component failing mid-run: one line, never a traceback
        click.echo(f"mmframe: error: {file}: backtest failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(format_report(report, seed, time.perf_counter() - started))
