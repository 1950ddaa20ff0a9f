"""``jsonl``: every event as one JSON line, in a file rotated by size (``path``, ``path.1``, ...)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import anyio.to_thread

from mmframe.api import ComponentContext, ComponentSpec, Event, Kind, check_writable_path
from mmframe_sinks._codec import event_line

NAME = "jsonl"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "minLength": 1, "default": "var/events.jsonl",
                 "description": "The log file (a relative path is relative to the pipeline file); rotated copies "
                                "get .1, .2, ... (newest first)."},
        "max_bytes": {"type": "integer", "minimum": 1024, "maximum": 10**12, "default": 50_000_000,
                      "description": "Rotate before a write would make the file larger than this."},
        "backups": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 5,
                    "description": "Rotated files to keep; 0 keeps none (the file restarts empty)."},
        "exclude_kinds": {"type": "array", "items": {"type": "string"}, "default": [],
                          "description": "Event kinds to leave out, e.g. [BookDeltaReceived]."},
    },
}
EXAMPLE = {"path": "var/events.jsonl", "max_bytes": 10_000_000, "backups": 3}


class RotatingFile:
    """An append-only file that rotates to ``path.1`` .. ``path.N`` when it would exceed ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._file: IO[bytes] | None = None
        self._size = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")
        self._size = self._file.tell()

    def write_lines(self, lines: Sequence[bytes]) -> None:
        """Append ``lines``, rotating between lines as needed (a line never straddles two files)."""
        if self._file is None:
            self.open()
        for line in lines:
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            assert self._file is not None
            self._file.write(line)
            self._size += len(line)
        assert self._file is not None
        self._file.flush()

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        if self.backups:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("wb")
        self._size = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JsonlSink:
    """Writes every event (except ``exclude_kinds``) as a JSON line; file I/O runs off the event loop."""

    records_backtests = True
    """`mmframe backtest` hands it every run's events."""

    def __init__(self, config: Mapping[str, Any], path: Path | None = None) -> None:
        target = path if path is not None else Path(str(config.get("path", SCHEMA["properties"]["path"]["default"])))
        self._file = RotatingFile(target, int(config.get("max_bytes", 50_000_000)), int(config.get("backups", 5)))
        self._exclude = frozenset(config.get("exclude_kinds", ()))

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> JsonlSink:
        """A relative ``path`` is relative to the pipeline file."""
        sink = cls(config, ctx.path(str(config.get("path", SCHEMA["properties"]["path"]["default"]))))
        check_writable_path(NAME, "path", sink._file.path)  # refused when built (check, run), not at start
        return sink

    async def start(self) -> None:
        await anyio.to_thread.run_sync(self._file.open)

    async def write(self, events: Sequence[Event]) -> None:
        lines = [event_line(e) for e in events if e.kind not in self._exclude]
        if lines:
            await anyio.to_thread.run_sync(self._file.write_lines, lines)

    async def close(self) -> None:
        self._file.close()


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="Every event as a JSON line, rotated by size.",
    factory=JsonlSink.build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(JsonlSink.__doc__ or "").strip(),
)
