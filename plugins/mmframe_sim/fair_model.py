"""Fair-value paths that end where the market resolves, and news jumps in them.

`ConvergingPath` models a binary market whose outcome is decided by a hidden score ``Z`` at close:
YES if ``Z > 0``. ``Z`` is a standard Brownian motion in hours, so with ``tau`` hours left the fair
probability is ``p = Phi(Z / sqrt(tau))`` -- a martingale that goes to 0 or 1 as the close approaches,
faster the nearer it is (as a weather or vote-count market does). `resolved` is the outcome the path
reached (or, with uncertainty left for the close, a draw at its final probability), which the
exchange then settles.

`news_jump` moves a probability by news of a given size (in log-odds, so a near-certain market moves
less), up or down with the odds that keep the probability a martingale.
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
    in [``min_jump``, ``max_jump``] (the price move at p = 0.5, 0.05 = 5 cents; less near 0 or 1). Each jump sends ``traders`` informed
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
    """``p`` moved by news of ``size``: the price move at p = 0.5, made in log-odds (4 x size) so the
    same news moves a near-certain market less. ``u`` in [0, 1) picks the direction: up with
    probability down/(up + down) of the two possible moves, so the expected move is zero and the fair
    value stays a martingale."""
    x = math.log(p / (1.0 - p))
    shift = 4.0 * size
    up = max(0.0, bounded(_expit(x + shift)) - p)
    down = max(0.0, p - bounded(_expit(x - shift)))
    if up + down <= 0:
        return p
    return p + up if u < down / (up + down) else p - down


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def bounded(p: float) -> float:
    return min(MAX_FAIR, max(MIN_FAIR, p))


class ConvergingPath:
    """One market's hidden score; `probability` with ``tau_hours`` to close is
    ``Phi(Z / sqrt(tau + final_hours))``: ``final_hours`` of uncertainty are left for the close itself
    (an announcement), 0 converges all the way."""

    __slots__ = ("final_hours", "z")

    def __init__(self, probability: float, tau_hours: float, final_hours: float = 0.0) -> None:
        self.z = 0.0
        self.final_hours = final_hours
        self.set_probability(probability, tau_hours)

    def _scale(self, tau_hours: float) -> float:
        return math.sqrt(max(tau_hours + self.final_hours, 1e-12))

    def set_probability(self, probability: float, tau_hours: float) -> None:
        """Move the score so the fair value is ``probability`` now (news, an operator's override)."""
        self.z = _NORMAL.inv_cdf(bounded(probability)) * self._scale(tau_hours)

    def step(self, dt_hours: float, shock: float) -> None:
        """Diffuse by ``dt_hours`` with a standard normal ``shock``."""
        self.z += math.sqrt(dt_hours) * shock

    def probability(self, tau_hours: float) -> float:
        return bounded(_NORMAL.cdf(self.z / self._scale(max(tau_hours, 0.0))))

    def resolve(self, u: float) -> float:
        """The outcome at close, 1.0 (YES) or 0.0 (NO): the score's sign, or with uncertainty left for
        the close a draw (``u`` uniform in [0, 1)) at the final probability."""
        if self.final_hours <= 0:
            return 1.0 if self.z > 0 else 0.0
        return 1.0 if u < _NORMAL.cdf(self.z / self._scale(0.0)) else 0.0
