"""Fold repeats and cap each kind: a reject storm costs a few messages, not a spent budget.

An alert whose kind and market were sent less than ``dedup_ns`` ago is held back and counted; so is
one over its kind's cap (``per_minute`` sends in any 60 s window, counted per kind, never one global
cap). The next alert of the same kind and market that goes out carries the count; whatever is still
held back is listed by `take_held` — in the periodic summary and, at the latest, in the stop alert.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass

from mmframe.api import NANOS_PER_SECOND
from mmframe_sinks.alerting.model import UNTHROTTLED, Alert, AlertKey

WINDOW_NS = 60 * NANOS_PER_SECOND


@dataclass
class Held:
    """Alerts of one kind and market held back since ``first_ns`` (monotonic), and the last of them."""

    count: int
    first_ns: int
    last: Alert


@dataclass(frozen=True)
class Admitted:
    """An alert to send, with how many like it were held back before it."""

    alert: Alert
    repeats: int = 0


class AlertThrottle:
    """Decides, per alert, send now or hold back (see the module docstring). Times are monotonic ns."""

    def __init__(self, per_minute: int, dedup_ns: int, per_kind: Mapping[str, int] | None = None) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.per_kind = dict(per_kind or {})
        self.dedup_ns = dedup_ns
        self._sent: dict[str, collections.deque[int]] = collections.defaultdict(collections.deque)
        self._last_sent: dict[AlertKey, int] = {}
        self.held: dict[AlertKey, Held] = {}

    def cap(self, kind: str) -> int:
        """Sends allowed per 60 s for ``kind``."""
        return self.per_kind.get(kind, self.per_minute)

    def admit(self, alert: Alert, now_ns: int) -> Admitted | None:
        """The alert to send now (with its folded repeats), or None when it is held back."""
        if alert.kind in UNTHROTTLED:
            return Admitted(alert)
        key = alert.key
        last = self._last_sent.get(key)
        if (last is not None and now_ns - last < self.dedup_ns) or not self._take(alert.kind, now_ns):
            held = self.held.get(key)
            if held is None:
                self.held[key] = Held(1, now_ns, alert)
            else:
                held.count += 1
                held.last = alert
            return None
        self._last_sent[key] = now_ns
        held = self.held.pop(key, None)
        return Admitted(alert, held.count if held else 0)

    def oldest_held_ns(self) -> int | None:
        """When the longest-waiting held-back alert was first held (monotonic ns), None if none is."""
        return min((h.first_ns for h in self.held.values()), default=None)

    def take_held(self) -> list[Held]:
        """Everything held back, by kind then market; the throttle forgets it (it is being reported)."""
        out = [self.held[key] for key in sorted(self.held)]
        self.held.clear()
        return out

    def _take(self, kind: str, now_ns: int) -> bool:
        sent = self._sent[kind]
        while sent and now_ns - sent[0] >= WINDOW_NS:
            sent.popleft()
        if len(sent) >= self.cap(kind):
            return False
        sent.append(now_ns)
        return True


def describe_held(held: list[Held]) -> str:
    """``reject SIM-A ×37, disconnect ×2``: what was held back, for a summary line."""
    return ", ".join(f"{h.last.kind}{' ' + h.last.market if h.last.market else ''} ×{h.count}" for h in held)
