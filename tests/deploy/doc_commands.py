"""The shell commands of docs/deploy.md, in order, with the directory each runs in.

Fenced ``bash`` blocks are read line by line: a trailing backslash continues a line, a ``#`` after
whitespace starts a comment, and ``cd DIR`` changes the directory for the rest of its block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class DocCommand:
    """One command: where it is in the page, the directory it runs in (relative to the repository)."""

    block: int
    line: int
    cwd: str
    text: str

    @property
    def words(self) -> list[str]:
        return self.text.split()

    def __str__(self) -> str:
        return f"block {self.block} line {self.line}: {self.text}"


def doc_commands(path: Path) -> list[DocCommand]:
    """Every command of the page's ``bash`` blocks (``cd`` included)."""
    commands: list[DocCommand] = []
    block, in_bash, cwd, pending, start = 0, False, ".", "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = _FENCE.match(raw.strip())
        if fence:
            if in_bash:
                in_bash = False
            elif fence.group(1) == "bash":
                in_bash, block, cwd = True, block + 1, "."
            continue
        if not in_bash:
            continue
        line = _COMMENT.sub("", raw).rstrip()
        if not line.strip() and not pending:
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        text = (pending + line.strip()).strip()
        pending = ""
        if text:
            commands.append(DocCommand(block, start, cwd, text))
            if text.split()[0] == "cd":
                cwd = str(Path(cwd) / text.split()[1])
    return commands
