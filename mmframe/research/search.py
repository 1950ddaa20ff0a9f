"""Which combinations a sweep evaluates: all of them (``grid``), a seeded random sample
(``random``), or optuna's TPE sampler asking for the next ones from the results so far (``optuna``).

Every choice is deterministic for the seed, whatever the engine and the number of workers: optuna
is asked for a fixed batch of `OPTUNA_BATCH` trials at a time (not one per worker) and told their
results in trial order.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmframe.research.grid import Grid
from mmframe.research.sweep import Combination, Row, SweepError

SEARCHES = ("grid", "random", "optuna")
OPTUNA_BATCH = 4
"""Trials optuna proposes before it hears their results (fixed, so results do not depend on workers)."""


@dataclass(frozen=True)
class Space:
    """The sweep's space: the pipeline files × the grid (files vary slowest)."""

    files: tuple[str, ...]
    grid: Grid

    @property
    def size(self) -> int:
        return len(self.files) * self.grid.size

    def combination(self, index: int) -> Combination:
        """The ``index``-th point (files slowest, then the grid's axes in order)."""
        file_index, grid_index = divmod(index, self.grid.size)
        values = self.grid.combination(grid_index)
        return Combination(index, self.files[file_index], tuple(zip(self.grid.keys, values, strict=True)))

    def index_of(self, file: str, values: Sequence[str]) -> int:
        """The index of the point with these values (the inverse of `combination`)."""
        index = 0
        for axis, value in zip(self.grid.axes, values, strict=True):
            index = index * len(axis.values) + axis.values.index(value)
        return self.files.index(file) * self.grid.size + index


def planned(space: Space, search: str, trials: int | None, seed: int) -> list[Combination]:
    """The points a ``grid`` or ``random`` search evaluates, in index order."""
    if search == "grid":
        return [space.combination(i) for i in range(space.size)]
    if search == "random":
        if trials is None:
            raise SweepError("--search random needs --trials K")
        chosen = random.Random(seed).sample(range(space.size), min(trials, space.size))
        return [space.combination(i) for i in sorted(chosen)]
    raise SweepError(f"--search {search} is not planned in advance")


def optuna_search(
    space: Space,
    trials: int,
    seed: int,
    *,
    objective: str,
    maximise: bool,
    evaluate: Callable[[list[Combination]], list[Row]],
) -> list[Row]:
    """Ask optuna (TPE, seeded) for ``trials`` points in batches of `OPTUNA_BATCH`; a point asked
    twice is evaluated once. Returns every evaluated row."""
    try:
        import optuna
    except ImportError:
        raise SweepError("--search optuna needs optuna: pip install 'mmframe[optuna]'") from None
    optuna.logging.set_verbosity(logging.WARNING)
    from optuna.distributions import BaseDistribution, CategoricalDistribution
    from optuna.trial import TrialState

    distributions: dict[str, BaseDistribution] = {
        axis.key: CategoricalDistribution(list(axis.values)) for axis in space.grid.axes
    }
    if len(space.files) > 1:
        distributions["pipeline"] = CategoricalDistribution(list(space.files))
    study = optuna.create_study(
        direction="maximize" if maximise else "minimize", sampler=optuna.samplers.TPESampler(seed=seed)
    )
    rows: dict[int, Row] = {}
    asked = 0
    while asked < trials:
        batch = [study.ask(distributions) for _ in range(min(OPTUNA_BATCH, trials - asked))]
        asked += len(batch)
        points = []
        for trial in batch:
            file = str(trial.params.get("pipeline", space.files[0]))
            points.append(space.index_of(file, [str(trial.params[a.key]) for a in space.grid.axes]))
        fresh = sorted({i for i in points if i not in rows})
        for row in evaluate([space.combination(i) for i in fresh]):
            rows[row.combination.index] = row
        for trial, index in zip(batch, points, strict=True):
            mean = rows[index].summary[objective].mean if objective in rows[index].summary else None
            if mean is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, mean)
    return [rows[i] for i in sorted(rows)]
