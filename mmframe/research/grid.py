"""The parameter space of a sweep: ``--grid KEY=V1,V2,...`` and ``--grid KEY=START:STOP:STEP``.

Values stay the strings a user would pass to ``--set`` (``0.02``, ``gtc``): the pipeline loader
parses and validates them exactly as it parses the file. Ranges are inclusive and computed in
decimal, so ``0.02:0.08:0.01`` is exactly seven values, never ``0.060000000000000005``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_VALUES_PER_KEY = 1_000
MAX_COMBINATIONS = 100_000


class GridError(ValueError):
    """A ``--grid`` that cannot be meant; the message quotes it and says what is expected."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One swept key and its values, in the order given."""

    key: str
    values: tuple[str, ...]


def parse_axis(text: str) -> Axis:
    """``KEY=V1,V2,...`` or ``KEY=START:STOP:STEP`` -> an `Axis`."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise GridError(f"--grid {text!r}: expected KEY=V1,V2,... or KEY=START:STOP:STEP, e.g. strategy.with.gamma=0.01,0.1,1")
    if any(not part for part in key.split(".")):
        raise GridError(f"--grid {text!r}: {key!r} is not a dotted key such as strategy.with.spread")
    if "," not in spec and spec.count(":") == 2:
        values = _range(text, *spec.split(":"))
    else:
        values = tuple(v.strip() for v in spec.split(","))
        if any(not v for v in values):
            raise GridError(f"--grid {text!r}: an empty value between commas")
        if len(set(values)) != len(values):
            raise GridError(f"--grid {text!r}: a value is repeated")
    if len(values) > MAX_VALUES_PER_KEY:
        raise GridError(f"--grid {text!r}: {len(values)} values; at most {MAX_VALUES_PER_KEY} per key")
    return Axis(key, values)


def _range(text: str, start_text: str, stop_text: str, step_text: str) -> tuple[str, ...]:
    try:
        start, stop, step = Decimal(start_text), Decimal(stop_text), Decimal(step_text)
    except InvalidOperation:
        raise GridError(f"--grid {text!r}: START:STOP:STEP must be decimal numbers") from None
    if not all(d.is_finite() for d in (start, stop, step)):
        raise GridError(f"--grid {text!r}: START:STOP:STEP must be finite")
    if step <= 0:
        raise GridError(f"--grid {text!r}: STEP must be positive")
    if stop < start:
        raise GridError(f"--grid {text!r}: STOP is below START")
    count = int((stop - start) / step) + 1
    if count > MAX_VALUES_PER_KEY:
        raise GridError(f"--grid {text!r}: {count} values; at most {MAX_VALUES_PER_KEY} per key")
    exponent = min(int(start.as_tuple().exponent), int(step.as_tuple().exponent))
    quantum = Decimal(1).scaleb(int(exponent))
    return tuple(str((start + i * step).quantize(quantum)) for i in range(count))


@dataclass(frozen=True)
class Grid:
    """Every axis of a sweep (keys distinct); combinations enumerate them with the last axis fastest."""

    axes: tuple[Axis, ...]

    @classmethod
    def parse(cls, texts: Sequence[str]) -> Grid:
        """The grid of several ``--grid`` options; refused when empty, a key repeats, or it is too big."""
        if not texts:
            raise GridError("give at least one --grid KEY=VALUES")
        axes = tuple(parse_axis(t) for t in texts)
        keys = [a.key for a in axes]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise GridError(f"--grid {repeated[0]!r} is given more than once; list all its values in one --grid")
        grid = cls(axes)
        if grid.size > MAX_COMBINATIONS:
            raise GridError(f"the grid has {grid.size:,} combinations; at most {MAX_COMBINATIONS:,} "
                            "(sample it with --search random or optuna)")
        return grid

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)

    @property
    def size(self) -> int:
        size = 1
        for axis in self.axes:
            size *= len(axis.values)
        return size

    def combinations(self) -> Iterator[tuple[str, ...]]:
        """Every combination's values, in the axes' order."""
        return itertools.product(*(a.values for a in self.axes))

    def combination(self, index: int) -> tuple[str, ...]:
        """The ``index``-th combination of `combinations` without enumerating the others."""
        values: list[str] = []
        for axis in reversed(self.axes):
            index, position = divmod(index, len(axis.values))
            values.append(axis.values[position])
        return tuple(reversed(values))
