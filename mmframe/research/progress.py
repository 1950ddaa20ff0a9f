"""A progress bar on the terminal (rich) for backtests and sweeps: shown on stderr when it is a
terminal, silent otherwise (logs, CI, ``--json``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(description: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A bar of ``total`` steps; yields ``advance(n)``. Nothing is drawn unless ``enabled`` and stderr
    is a terminal."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal or total <= 1:
        yield lambda _n: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
