"""A sweep's results as a trader reads them: ``results.csv`` (one row per combination: its parameter
values, then each metric's mean and std), the ranked table on the terminal, and ``sweep.html``
(ranking with confidence intervals, a heat map for two parameters)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mmframe.research import plots
from mmframe.research.metrics import Metric
from mmframe.research.sweep import Row, SweepResult

RANKED_ON_PAGE = 30


def _float(value: float | None) -> str:
    return "" if value is None else repr(value)


def results_csv(result: SweepResult) -> str:
    """``results.csv``: in combination order; ``pipeline`` first when several files were swept."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = (["pipeline"] if result.many_files else []) + list(result.keys)
    for name in result.metric_names:
        head += [f"{name}_mean", f"{name}_std"]
    writer.writerow(head)
    for row in result.rows:
        cells: list[str] = [Path(row.combination.file).stem] if result.many_files else []
        cells += [value for _, value in row.combination.params]
        for name in result.metric_names:
            s = row.summary[name]
            cells += [_float(s.mean), _float(s.std)]
        writer.writerow(cells)
    return out.getvalue()


def _interval(row: Row, objective: str, digits: int) -> str:
    s = row.summary.get(objective)
    if s is None or s.ci_low is None or s.ci_high is None:
        return "-"
    return f"[{s.ci_low:,.{digits}f}, {s.ci_high:,.{digits}f}]"


def print_ranking(
    result: SweepResult, ranked: Sequence[Row], objective: Metric, console: Console, *, top: int, also: Sequence[Metric]
) -> None:
    """The best ``top`` combinations by the objective, with its 95% interval and a few other means."""
    table = Table(title=f"{len(result.rows)} combinations × {result.runs} runs (seeds {result.seed}.."
                        f"{result.seed + result.runs - 1}), ranked by {objective.label}")
    table.add_column("#", justify="right")
    if result.many_files:
        table.add_column("pipeline")
    for key in result.keys:
        table.add_column(key.rsplit(".", 1)[-1])
    table.add_column(f"{objective.name} mean", justify="right")
    table.add_column("95% CI", justify="right")
    for metric in also:
        table.add_column(metric.name, justify="right")
    for rank, row in enumerate(ranked[:top], start=1):
        s = row.summary.get(objective.name)
        cells = [str(rank)]
        if result.many_files:
            cells.append(Path(row.combination.file).stem)
        cells += [value for _, value in row.combination.params]
        cells.append("-" if s is None or s.mean is None else f"{s.mean:,.{objective.digits}f}")
        cells.append(_interval(row, objective.name, objective.digits))
        for metric in also:
            m = row.summary.get(metric.name)
            cells.append("-" if m is None or m.mean is None else f"{m.mean:,.{metric.digits}f}")
        table.add_row(*cells)
    console.print(table)


def sweep_html(result: SweepResult, ranked: Sequence[Row], objective: Metric, metrics: Sequence[Metric]) -> str:
    """``sweep.html``: the ranking with 95% intervals, a heat map per pipeline when two parameters
    vary (a bar chart when one does), and the table of every combination."""
    name = objective.name
    blocks: list[plots.Block] = [
        plots.note(f"{len(result.rows)} combinations, each {result.runs} runs on seeds {result.seed}.."
                   f"{result.seed + result.runs - 1} (the same seeds for every combination). Objective: "
                   f"{objective.label}; intervals are 95% confidence intervals of the mean."),
        plots.heading("Ranking"),
    ]
    shown = ranked[:RANKED_ON_PAGE]
    labels = [f"#{i} {row.combination.label(with_file=result.many_files)}" for i, row in enumerate(shown, start=1)]
    blocks.append(plots.bars(
        labels, [row.summary[name].mean for row in shown],
        errors=[_bounds(row, name) for row in shown],
        title=f"{objective.label}: the best {len(shown)}", y_label=objective.label,
    ))
    varying = [axis for axis in _axes(result) if len(axis[1]) > 1]
    for file in result.files:
        rows = [row for row in result.rows if row.combination.file == file]
        suffix = f" ({Path(file).stem})" if result.many_files else ""
        if len(varying) == 2:
            (kx, xs), (ky, ys) = varying[1], varying[0]
            cell = {(dict(r.combination.params)[kx], dict(r.combination.params)[ky]): r.summary[name].mean for r in rows}
            blocks.append(plots.heatmap(
                xs, ys, [[cell.get((x, y)) for x in xs] for y in ys],
                title=f"{objective.label} by {kx.rsplit('.', 1)[-1]} and {ky.rsplit('.', 1)[-1]}{suffix}",
                x_label=kx, y_label=ky, z_label=name,
            ))
        elif len(varying) == 1:
            key, values = varying[0]
            by_value = {dict(r.combination.params)[key]: r for r in rows}
            present = [v for v in values if v in by_value]
            blocks.append(plots.bars(
                present, [by_value[v].summary[name].mean for v in present],
                errors=[_bounds(by_value[v], name) for v in present],
                title=f"{objective.label} by {key}{suffix}", y_label=objective.label,
            ))
    blocks += [
        plots.heading("Every combination, ranked"),
        plots.table(
            ["#", *(["pipeline"] if result.many_files else []), *result.keys,
             *(f"{m.name} mean" for m in metrics), f"{name} 95% CI"],
            [[i, *([Path(r.combination.file).stem] if result.many_files else []),
              *(v for _, v in r.combination.params),
              *(_cell(r, m) for m in metrics), _interval(r, name, objective.digits)]
             for i, r in enumerate(ranked, start=1)],
        ),
    ]
    return plots.page("Parameter sweep", blocks)


def _cell(row: Row, metric: Metric) -> str | None:
    s = row.summary.get(metric.name)
    return None if s is None or s.mean is None else f"{s.mean:,.{metric.digits}f}"


def _bounds(row: Row, name: str) -> tuple[float, float] | None:
    s = row.summary.get(name)
    if s is None or s.ci_low is None or s.ci_high is None:
        return None
    return (s.ci_low, s.ci_high)


def _axes(result: SweepResult) -> list[tuple[str, list[str]]]:
    """Each key with the values the evaluated rows have, in the grid's order."""
    present = [{dict(row.combination.params)[key] for row in result.rows} for key in result.keys]
    return [(key, [v for v in values if v in seen])
            for key, values, seen in zip(result.keys, result.axis_values, present, strict=True)]
