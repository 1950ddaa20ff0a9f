"""Rate-limited logging for conditions that repeat (rejects, retries, gaps): the first occurrence
of a key is logged at once, later ones at most once per interval with a count of those skipped."""

from __future__ import annotations

import logging
from collections.abc import Callable

DEFAULT_INTERVAL_NS = 10_000_000_000
"""At most one line per key every 10 s."""


class RateLimitedLog:
    """Log through ``logger`` at most once per ``interval_ns`` per key (``now_ns``: injected clock)."""

    def __init__(
        self,
        logger: logging.Logger,
        now_ns: Callable[[], int],
        *,
        interval_ns: int = DEFAULT_INTERVAL_NS,
        level: int = logging.WARNING,
    ) -> None:
        self._logger = logger
        self._now = now_ns
        self.interval_ns = interval_ns
        self.level = level
        self._last: dict[str, int] = {}
        self._skipped: dict[str, int] = {}

    def log(self, key: str, msg: str, *args: object, level: int | None = None) -> bool:
        """Log ``msg % args`` unless ``key`` was logged less than an interval ago (then count it);
        returns whether a line was written."""
        now = self._now()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_ns:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        if skipped:
            msg += f" ({skipped} more since the last such line)"
        self._logger.log(self.level if level is None else level, msg, *args)
        return True
