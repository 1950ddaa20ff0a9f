"""``mmframe sweep FILE... --grid KEY=VALUES [--grid ...] [--set K=V] [--runs N] [--seed S]
[--engine local|ray] [--workers W] [--address ADDR] [--out DIR] [--objective NAME] [--direction
max|min] [--search grid|random|optuna] [--trials K] [--markouts SECONDS,...] [--top N]``.

Every combination of the grid (and of the FILEs, when several are given) is one backtest of that
pipeline with the combination's values as ``--set`` overrides, ``--runs`` runs on seeds ``S..S+N-1``.
Prints the combinations ranked by the objective with its 95% interval; with ``--out`` also writes
``results.csv`` and ``sweep.html`` there. Exit 2 when the sweep cannot be meant or run.
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

import click
from rich.console import Console

from mmframe.pipeline import PipelineError
from mmframe.research.grid import Grid, GridError
from mmframe.research.metrics import catalogue
from mmframe.research.progress import progress_bar
from mmframe.research.search import SEARCHES, Space, optuna_search, planned
from mmframe.research.sweep import (
    ENGINES,
    Combination,
    Row,
    SweepError,
    SweepResult,
    SweepTask,
    evaluate,
    load_combination,
    make_engine,
)
from mmframe.runtime.backtest_cli import parse_horizons

ALSO_SHOWN = ("profit", "fills", "max_drawdown", "final_inventory")


def _fail(message: str) -> None:
    click.echo(f"mmframe: error: {message}", err=True)
    sys.exit(2)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--grid", "grids", multiple=True, metavar="KEY=V1,V2|START:STOP:STEP",
              help="A swept key and its values, e.g. strategy.with.gamma=0.01,0.1,1 or "
                   "strategy.with.spread=0.02:0.08:0.01 (inclusive; repeatable, one per key).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A fixed override for every combination (repeatable).")
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Runs per combination, seeded S, S+1, ... (the same seeds for every combination).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first run (and of the search).")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: processes on this machine; ray: Ray tasks (local instance, or --address).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes (local) or CPUs of the local Ray instance; default: every core.")
@click.option("--address", default=None, help="An existing Ray cluster, e.g. ray://head:10001 or auto.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write results.csv and sweep.html into this directory.")
@click.option("--objective", default="profit", show_default=True, help="The metric ranked by (a --json metric name).")
@click.option("--direction", type=click.Choice(["max", "min"]), default=None,
              help="Best is the largest (max) or smallest (min) objective; default: the metric's own.")
@click.option("--search", type=click.Choice(SEARCHES), default="grid", show_default=True,
              help="grid: every combination; random or optuna: --trials of them.")
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Combinations evaluated by random/optuna.")
@click.option("--markouts", "horizons_s", default="1,10,60", show_default=True, metavar="SECONDS,...",
              callback=lambda _ctx, _param, value: parse_horizons(value),
              help="Markout horizons in seconds after each fill.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Rows shown on the terminal.")
def sweep(
    files: tuple[str, ...], grids: tuple[str, ...], overrides: tuple[str, ...], runs: int, seed: int, engine: str,
    workers: int | None, address: str | None, out_dir: Path | None, objective: str, direction: str | None,
    search: str, trials: int | None, horizons_s: tuple[Fraction, ...], top: int,
) -> None:
    """Backtest every combination of --grid values (of every FILE) and rank them by --objective."""
    try:
        grid = Grid.parse(grids)
    except GridError as exc:
        _fail(str(exc))
    metrics = {m.name: m for m in catalogue(horizons_s)}
    if objective not in metrics:
        _fail(f"--objective {objective!r} is not a metric; use one of {', '.join(metrics)}")
    target = metrics[objective]
    maximise = target.higher_is_better if direction is None else direction == "max"
    if search != "grid" and trials is None:
        _fail(f"--search {search} needs --trials K")
    if search == "grid" and trials is not None:
        _fail("--trials is for --search random or optuna")
    space = Space(tuple(files), grid)
    _check_combinations(space, overrides)
    result = SweepResult(keys=grid.keys, files=space.files, runs=runs, seed=seed,
                         axis_values=tuple(a.values for a in grid.axes))
    started = time.perf_counter()
    try:
        runner = make_engine(engine, workers=workers, address=address)
    except SweepError as exc:
        _fail(str(exc))
    try:
        total = space.size if search == "grid" else min(trials or 0, space.size)
        with progress_bar("sweep", total) as advance:
            def run(combinations: list[Combination]) -> list[Row]:
                return evaluate(combinations, runner, result=result, base_overrides=overrides, runs=runs,
                                seed=seed, horizons_s=horizons_s, advance=advance)

            if search == "optuna":
                optuna_search(space, trials or 0, seed, objective=objective, maximise=maximise, evaluate=run)
            else:
                run(planned(space, search, trials, seed))
    except SweepError as exc:
        _fail(str(exc))
    finally:
        runner.close()
    from mmframe.research.sweep_output import print_ranking, results_csv, sweep_html  # plotly only now

    seconds = time.perf_counter() - started
    ranked = result.ranked(objective, maximise=maximise)
    console = Console(width=max(120, Console().width))
    also = [metrics[name] for name in ALSO_SHOWN if name != objective]
    print_ranking(result, ranked, target, console, top=top, also=also)
    click.echo(f"{len(result.rows)} combinations × {runs} runs in {seconds:.1f}s on {engine} ({runner.workers} workers)")
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "results.csv").write_text(results_csv(result), encoding="utf-8")
            shown = [metrics[name] for name in result.metric_names if name in metrics]
            (out_dir / "sweep.html").write_text(sweep_html(result, ranked, target, shown), encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write the results to {out_dir}: {exc.strerror or exc}")
        click.echo(f"results: {out_dir / 'results.csv'}, {out_dir / 'sweep.html'}")


def _check_combinations(space: Space, overrides: tuple[str, ...]) -> None:
    """Refuse before any backtest runs: every file with its fixed overrides, and every value of every
    axis (with the other axes at their first value), loaded as the workers will load them."""
    from mmframe.plugins import load_registry

    registry = load_registry()
    first = space.grid.combination(0)
    probes = []
    for file in space.files:
        probes.append(Combination(0, file, tuple(zip(space.grid.keys, first, strict=True))))
        for position, axis in enumerate(space.grid.axes):
            for value in axis.values[1:]:
                values = list(first)
                values[position] = value
                probes.append(Combination(0, file, tuple(zip(space.grid.keys, values, strict=True))))
    for probe in probes:
        try:
            load_combination(SweepTask(probe, overrides, 1, 0, ()), registry)
        except PipelineError as exc:
            for issue in exc.errors:
                click.echo(str(issue), err=True)
            _fail(f"{probe.label(with_file=len(space.files) > 1)}: the pipeline refuses these values")
        except OSError as exc:
            _fail(f"{probe.file}: {exc.strerror or exc}")
