"""Rate-limited logging for conditions that repeat (rejects, retries, gaps, duplicates): the first
occurrence of a key is logged at once, later ones at most once per interval with a count of those
skipped.

A reject storm or a venue outage repeats the same condition hundreds of times a second; one line per
occurrence drowns the log (and the disk) and hides everything else. Keys name the condition (a
market and a reject code, an endpoint and an error type), not the single occurrence (an order id),
so the number of keys stays small; it is bounded anyway (`DEFAULT_MAX_KEYS`, the key logged longest
ago is forgotten first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

DEFAULT_INTERVAL_NS = 10_000_000_000
"""At most one line per key every 10 s."""
DEFAULT_MAX_KEYS = 4_096
"""Keys remembered at most; beyond that the key logged longest ago is forgotten (its next occurrence
is logged at once, and a count of skipped lines it still held is lost)."""


class RateLimitedLog:
    """Log through ``logger`` at most once per ``interval_ns`` per key.

    ``now_ns`` is the injected clock (monotonic nanoseconds, e.g. ``clock.monotonic_ns``), so tests
    are exact. A line written after skipped ones ends with ``(N more since the last such line)``.
    """

    def __init__(
        self,
        logger: logging.Logger,
        now_ns: Callable[[], int],
        *,
        interval_ns: int = DEFAULT_INTERVAL_NS,
        level: int = logging.WARNING,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if interval_ns < 0:
            raise ValueError("interval_ns must not be negative")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._logger = logger
        self._now = now_ns
        self.interval_ns = interval_ns
        self.level = level
        self.max_keys = max_keys
        # key -> (when it was last logged, occurrences skipped since); insertion order is the order
        # of the last line written, so the first key is the one to forget.
        self._keys: dict[Hashable, tuple[int, int]] = {}

    def log(self, key: Hashable, msg: str, *args: object, level: int | None = None) -> bool:
        """Log ``msg % args`` unless ``key`` was logged less than an interval ago (then count it);
        returns whether a line was written."""
        level = self.level if level is None else level
        if not self._logger.isEnabledFor(level):
            return False
        now = self._now()
        keys = self._keys
        entry = keys.get(key)
        if entry is not None:
            if now - entry[0] < self.interval_ns:
                keys[key] = (entry[0], entry[1] + 1)
                return False
            del keys[key]  # re-inserted below, as the most recently logged
            if entry[1]:
                msg += f" ({entry[1]} more since the last such line)"
        elif len(keys) >= self.max_keys:
            del keys[next(iter(keys))]
        keys[key] = (now, 0)
        self._logger.log(level, msg, *args, stacklevel=2)
        return True

    def skipped(self, key: Hashable) -> int:
        """Occurrences of ``key`` not logged since its last line."""
        entry = self._keys.get(key)
        return 0 if entry is None else entry[1]
