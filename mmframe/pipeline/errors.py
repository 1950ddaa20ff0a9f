"""Pipeline errors: every problem in a file, each located by file and line."""

from __future__ import annotations

from dataclasses import dataclass

OVERRIDE_SOURCE = "--set"
"""The ``file`` of an issue raised by a ``--set`` override rather than by the file itself."""


@dataclass(frozen=True)
class PipelineIssue:
    """One problem: where it is (``file``, 1-based ``line`` when known) and what is wrong.

    Rendered as ``FILE:LINE: message``; an issue from a ``--set`` override renders as
    ``--set key.path: message`` and one without a line as ``FILE: message``.
    """

    file: str
    line: int | None
    message: str
    plugin_broken: bool = False
    """The problem is an installed plugin that failed to load, not the file: `check` and `run`
    exit 2 for it, as for any environment that cannot build the pipeline."""

    def __str__(self) -> str:
        if self.file == OVERRIDE_SOURCE:
            return f"{OVERRIDE_SOURCE} {self.message}"
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class PipelineError(Exception):
    """A pipeline file (with its overrides) is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: list[PipelineIssue]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(issue) for issue in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.errors)

    @property
    def plugin_broken(self) -> bool:
        """Whether a plugin that failed to load is behind any of the problems."""
        return any(issue.plugin_broken for issue in self.errors)
