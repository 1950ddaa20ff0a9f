"""Parameter sweeps: every combination of a grid is one backtest of the same pipeline (``--set``
overrides), run on local processes or as Ray tasks, summarised exactly in the calling process.

Determinism: every combination runs the same seeds ``S .. S+N-1`` (common random numbers, so
combinations differ only by their parameters), each task returns its runs' exact values, and the
summaries are computed here from them in combination order; the engine and the number of workers
change only how long it takes.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from mmframe.research.summary import Distribution, distribution

ENGINES = ("local", "ray")


class SweepError(RuntimeError):
    """A sweep cannot run (a combination's pipeline is refused, an engine cannot start); the message
    says which and why."""


@dataclass(frozen=True, slots=True)
class Combination:
    """One point of the sweep: a pipeline file and its overrides (``KEY=VALUE`` as for ``--set``)."""

    index: int
    file: str
    params: tuple[tuple[str, str], ...]

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{key}={value}" for key, value in self.params)

    def label(self, *, with_file: bool) -> str:
        """``gamma=0.1 spread=0.02`` (the last segment of each key), prefixed by the pipeline's stem."""
        parts = [f"{key.rsplit('.', 1)[-1]}={value}" for key, value in self.params]
        if with_file:
            parts.insert(0, Path(self.file).stem)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class SweepTask:
    """What one worker needs to run one combination: picklable, no live objects."""

    combination: Combination
    base_overrides: tuple[str, ...]
    runs: int
    seed: int
    horizons_s: tuple[Fraction, ...]


@dataclass(frozen=True, slots=True)
class TaskResult:
    """One combination's runs: each metric's exact per-run values, in seed order (None: the run had
    no value for it)."""

    index: int
    metric_names: tuple[str, ...]
    values: tuple[tuple[Fraction | float | None, ...], ...]
    """``values[m][r]``: metric ``metric_names[m]`` of run ``r``."""
    error: str | None = None
    """Why the combination could not run (its pipeline refused an override, a component failed)."""


_REGISTRY: Any = None


def _registry() -> Any:
    """The plugin registry, loaded once per worker process."""
    global _REGISTRY
    if _REGISTRY is None:
        from mmframe.plugins import load_registry

        _REGISTRY = load_registry()
    return _REGISTRY


def load_combination(task: SweepTask, registry: Any) -> Any:
    """The combination's pipeline, loaded and validated as ``mmframe backtest --set`` would."""
    from mmframe.pipeline import load_pipeline

    return load_pipeline(task.combination.file, registry, [*task.base_overrides, *task.combination.overrides])


def run_task(task: SweepTask) -> TaskResult:
    """Run one combination's backtests (in whichever process or Ray worker calls it)."""
    from mmframe.pipeline import PipelineError
    from mmframe.runtime.backtest import build_backtest, run_backtest

    registry = _registry()
    try:
        parts = build_backtest(load_combination(task, registry), registry)
        report = run_backtest(parts, runs=task.runs, seed=task.seed, record_runs=0, horizons_s=task.horizons_s)
    except PipelineError as exc:
        return TaskResult(task.combination.index, (), (), error="; ".join(str(i) for i in exc.errors))
    except Exception as exc:  # a component failing mid-run: reported with the combination, in the parent
        return TaskResult(task.combination.index, (), (), error=f"{type(exc).__name__}: {exc}")
    names = report.metric_names
    per_run = [run.values() for run in report.runs]
    return TaskResult(
        index=task.combination.index,
        metric_names=names,
        values=tuple(tuple(values.get(name) for values in per_run) for name in names),
    )


# --- engines ---------------------------------------------------------------------------------------


class Engine(Protocol):
    """Runs tasks somewhere and hands each result back as it finishes (any order)."""

    workers: int

    def run(self, tasks: Sequence[SweepTask], done: Callable[[TaskResult], None]) -> None: ...

    def close(self) -> None: ...


class LocalEngine:
    """Local processes (one per worker; ``workers=1`` runs in this process)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def run(self, tasks: Sequence[SweepTask], done: Callable[[TaskResult], None]) -> None:
        if self.workers == 1:
            for task in tasks:
                done(run_task(task))
            return
        if self._pool is None:
            # spawn: workers import mmframe afresh (no inherited event loops, threads or open files).
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        futures = [self._pool.submit(run_task, task) for task in tasks]
        try:
            for future in concurrent.futures.as_completed(futures):
                done(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class RayEngine:
    """Each task a Ray task: on a local Ray instance of ``workers`` CPUs, or on the existing cluster
    at ``address`` (whose nodes must have mmframe, the pipeline's plugins and its files)."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise SweepError("--engine ray needs Ray: pip install 'mmframe[ray]'") from None
        self._ray = ray
        self._started = False
        try:
            if not ray.is_initialized():
                ray.init(
                    address=address,
                    num_cpus=None if address else max(1, workers or os.cpu_count() or 1),
                    include_dashboard=False, log_to_driver=False, configure_logging=False,
                )
                self._started = True
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise SweepError(f"cannot start {where}: {type(exc).__name__}: {exc}") from exc
        self.workers = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        self._remote = ray.remote(num_cpus=1)(run_task)

    def run(self, tasks: Sequence[SweepTask], done: Callable[[TaskResult], None]) -> None:
        pending = [self._remote.remote(task) for task in tasks]
        try:
            while pending:
                finished, pending = self._ray.wait(pending, num_returns=1)
                done(self._ray.get(finished[0]))
        except BaseException:
            for ref in pending:
                self._ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_engine(name: str, *, workers: int | None = None, address: str | None = None) -> Engine:
    """``local`` or ``ray`` (`SweepError` when Ray is missing or cannot start)."""
    if name == "local":
        if address:
            raise SweepError("--address is for --engine ray")
        return LocalEngine(workers)
    if name == "ray":
        return RayEngine(workers, address)
    raise SweepError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One combination's summary: each metric across its runs."""

    combination: Combination
    summary: dict[str, Distribution]


@dataclass
class SweepResult:
    """Every combination evaluated, in combination order."""

    keys: tuple[str, ...]
    files: tuple[str, ...]
    runs: int
    seed: int
    axis_values: tuple[tuple[str, ...], ...] = ()
    """Each key's values in the grid's order."""
    metric_names: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)

    @property
    def many_files(self) -> bool:
        return len(self.files) > 1

    def add(self, combination: Combination, result: TaskResult) -> Row:
        if not self.metric_names:
            self.metric_names = result.metric_names
        summary = {
            name: distribution([v for v in column if v is not None])
            for name, column in zip(result.metric_names, result.values, strict=True)
        }
        row = Row(combination, summary)
        self.rows.append(row)
        self.rows.sort(key=lambda r: r.combination.index)
        return row

    def ranked(self, objective: str, *, maximise: bool) -> list[Row]:
        """Rows by the objective's mean, best first (rows without a value last; ties by index)."""
        def key(row: Row) -> tuple[int, float, int]:
            mean = row.summary[objective].mean if objective in row.summary else None
            if mean is None:
                return (1, 0.0, row.combination.index)
            return (0, -mean if maximise else mean, row.combination.index)

        return sorted(self.rows, key=key)


def evaluate(
    combinations: Iterable[Combination],
    engine: Engine,
    *,
    result: SweepResult,
    base_overrides: Sequence[str],
    runs: int,
    seed: int,
    horizons_s: Sequence[Fraction],
    advance: Callable[[int], None] = lambda _n: None,
) -> list[Row]:
    """Run ``combinations`` on ``engine`` and add their rows to ``result``; returns the new rows in
    combination order."""
    by_index = {c.index: c for c in combinations}
    tasks = [SweepTask(c, tuple(base_overrides), runs, seed, tuple(horizons_s)) for c in by_index.values()]
    added: list[Row] = []

    def done(task_result: TaskResult) -> None:
        if task_result.error is not None:
            combination = by_index[task_result.index]
            raise SweepError(f"{combination.label(with_file=True)}: {task_result.error}")
        added.append(result.add(by_index[task_result.index], task_result))
        advance(1)

    engine.run(tasks, done)
    return sorted(added, key=lambda r: r.combination.index)
