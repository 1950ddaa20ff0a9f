"""Fair-value paths that end where the market resolves, and news jumps in them.

`ConvergingPath` models a binary market whose outcome is decided by a hidden score ``Z`` at close:
YES if ``Z > 0``. ``Z`` is a standard Brownian motion in hours, so with ``tau`` hours left the fair
probability is ``p = Phi(Z / sqrt(tau))`` -- a martingale that goes to 0 or 1 as the close approaches,
faster the nearer it is (as a weather or vote-count market does). `resolved` is the outcome the path
reached, which the exchange then settles.

`news_jump` moves a probability by a jump of a given size, up or down with the odds that keep the
probability a martingale when the jump is cut short by the 0/1 bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()
MIN_FAIR = 0.005
MAX_FAIR = 0.995
"""Bounds of a published fair value before resolution (the score itself is unbounded)."""


@dataclass(frozen=True, slots=True)
class NewsConfig:
    """News: fair-value jumps the informed traders see before the book does.

    Jumps arrive as a Poisson process of ``rate_per_hour`` per market, each of a size drawn uniformly
    in [``min_jump``, ``max_jump``] (probability, 0.05 = 5 cents). Each jump sends ``traders`` informed
    takers, each after its own reaction delay drawn uniformly in [``min_delay_ms``, ``max_delay_ms``],
    to sweep every quote mispriced against the new fair value by more than ``edge``, up to ``size``
    contracts each.
    """

    rate_per_hour: float = 6.0
    min_jump: float = 0.05
    max_jump: float = 0.25
    traders: int = 2
    min_delay_ms: float = 50.0
    max_delay_ms: float = 500.0
    edge: float = 0.01
    size: int = 200

    def __post_init__(self) -> None:
        if self.rate_per_hour < 0:
            raise ValueError("news: rate_per_hour must not be negative")
        if not 0 < self.min_jump <= self.max_jump < 1:
            raise ValueError("news: need 0 < min_jump <= max_jump < 1")
        if not 0 <= self.min_delay_ms <= self.max_delay_ms:
            raise ValueError("news: need 0 <= min_delay_ms <= max_delay_ms")
        if self.traders < 0 or self.size < 0 or self.edge < 0:
            raise ValueError("news: traders, size and edge must not be negative")


def news_jump(p: float, size: float, u: float) -> float:
    """``p`` moved by a jump of ``size`` (cut at the bounds). ``u`` in [0, 1) picks the direction: up
    with probability down/(up + down) of the two possible moves, so the expected move is zero."""
    up = max(0.0, min(size, MAX_FAIR - p))
    down = max(0.0, min(size, p - MIN_FAIR))
    if up + down <= 0:
        return p
    return p + up if u < down / (up + down) else p - down


def bounded(p: float) -> float:
    return min(MAX_FAIR, max(MIN_FAIR, p))


class ConvergingPath:
    """One market's hidden score; `probability` with ``tau_hours`` to close is ``Phi(Z / sqrt(tau))``."""

    __slots__ = ("z",)

    def __init__(self, probability: float, tau_hours: float) -> None:
        self.z = 0.0
        self.set_probability(probability, tau_hours)

    def set_probability(self, probability: float, tau_hours: float) -> None:
        """Move the score so the fair value is ``probability`` now (news, an operator's override)."""
        self.z = _NORMAL.inv_cdf(bounded(probability)) * math.sqrt(max(tau_hours, 1e-12))

    def step(self, dt_hours: float, shock: float) -> None:
        """Diffuse by ``dt_hours`` with a standard normal ``shock``."""
        self.z += math.sqrt(dt_hours) * shock

    def probability(self, tau_hours: float) -> float:
        if tau_hours <= 0:
            return self.resolved
        return bounded(_NORMAL.cdf(self.z / math.sqrt(tau_hours)))

    @property
    def resolved(self) -> float:
        """The outcome the score points to: 1.0 (YES) or 0.0 (NO)."""
        return 1.0 if self.z > 0 else 0.0
