"""The log-odds σ estimator: fixed-interval sampling, bipower variation and the tick-noise
correction, on exact clocks and seeded paths (no timing, no flakiness: every path is a seed)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from mmframe_strategies._estimators import LogOddsVariance, log_odds

from mmframe.api import NANOS_PER_SECOND

S = NANOS_PER_SECOND


def _cent_rounded_path(seed: int, sigma: float, seconds: int, jump: float = 0.0) -> list[tuple[int, float]]:
    """Observations 4 times a second of a log-odds diffusion (σ per √s) whose price is rounded to
    the cent, as a book's mid is; ``jump`` added once half-way (news)."""
    rng = random.Random(seed)
    x = 0.0
    out = []
    for second in range(seconds):
        for quarter in range(4):
            x += rng.gauss(0.0, sigma / 2)
            if jump and second == seconds // 2 and quarter == 0:
                x += jump
            price = round(100 / (1 + math.exp(-x))) / 100
            out.append((second * S + quarter * S // 4, log_odds(price)))
    return out


def _estimate(path: list[tuple[int, float]], interval_s: int) -> float:
    estimator = LogOddsVariance(interval_s * S, halflife_ns=1e30, unit_ns=S)
    for ts, x in path:
        estimator.update(x, ts)
    variance = estimator.variance(1)
    assert variance is not None
    return variance


def _naive(path: list[tuple[int, float]]) -> float:
    """Squared changes of every observation per second: what counting each tick flicker gives."""
    squares = sum((b - a) ** 2 for (_, a), (_, b) in itertools.pairwise(path))
    return squares / ((path[-1][0] - path[0][0]) / S)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_odds_variance_on_a_cent_rounded_diffusion_reads_near_the_true_sigma(seed: int) -> None:
    path = _cent_rounded_path(seed, sigma=0.01, seconds=20_000)
    assert _naive(path) > 3 * 0.01**2  # the tick noise a per-change estimator would count
    assert _estimate(path, 10) == pytest.approx(0.01**2, rel=0.35)


def test_log_odds_variance_when_news_jumps_barely_moves_the_estimate() -> None:
    calm = _estimate(_cent_rounded_path(1, sigma=0.01, seconds=20_000), 10)
    news = _estimate(_cent_rounded_path(1, sigma=0.01, seconds=20_000, jump=0.8), 10)
    # The jump alone is 0.64 of log-odds² over 20,000 s: +32% of σ² for a sum of squares.
    assert news == pytest.approx(calm, rel=0.12)


def test_log_odds_variance_when_the_mid_only_flickers_between_two_ticks_reads_no_diffusion() -> None:
    rng = random.Random(7)
    estimator = LogOddsVariance(5 * S, halflife_ns=1e30, unit_ns=S)
    low, high = log_odds(0.50), log_odds(0.51)
    for tick in range(40_000):
        estimator.update(rng.choice((low, high)), tick * S // 4)
    variance = estimator.variance(1)
    assert variance is not None
    # Flicker of ω² = 0.01²/4 makes squared changes read ~2ω²/5 s = 4e-5 per s; bipower (π/2)ω²
    # minus ω² leaves a small fraction.
    assert variance < 0.3 * (log_odds(0.51) - log_odds(0.50)) ** 2 / 2 / 5


def test_log_odds_variance_samples_on_a_fixed_grid_whatever_the_update_rate() -> None:
    estimator = LogOddsVariance(10 * S, halflife_ns=1e30, unit_ns=S)
    estimator.update(0.0, 0)
    estimator.update(0.3, 3 * S)  # flicker inside the first interval is not seen ...
    estimator.update(0.1, 9 * S)  # ... only the value at 10 s is
    estimator.update(0.2, 10 * S)  # exactly on the grid: the new value is the sample
    estimator.update(0.2, 45 * S)  # 20, 30, 40 s: no change (0.2)
    estimator.update(0.0, 50 * S)
    assert estimator.moves == 2  # +0.2 at 10 s, -0.2 at 50 s
    variance = estimator.variance(2)
    # pairs: (0.2, 0), (0, 0), (0, 0), (0, -0.2): all zero; 5 intervals of 10 s.
    assert variance == 0.0
    assert estimator.variance(3) is None


def test_log_odds_variance_of_alternating_moves_matches_the_formula() -> None:
    estimator = LogOddsVariance(S, halflife_ns=1e30, unit_ns=S)
    for second, x in enumerate([0.0, 0.1, 0.3, 0.4]):
        estimator.update(x, second * S)
    estimator.update(0.4, 3 * S + 1)  # nothing new: the 3 s sample was taken at 3 s
    # increments 0.1, 0.2, 0.1 over 3 s; pairs (0.1, 0.2), (0.2, 0.1).
    pair = math.pi / 2 * 0.1 * 0.2 + 0.1 * 0.2
    assert estimator.variance(1) == pytest.approx(2 * pair / 3)


def test_log_odds_variance_when_the_interval_is_not_positive_refuses() -> None:
    with pytest.raises(ValueError, match="interval"):
        LogOddsVariance(0, halflife_ns=1.0, unit_ns=1.0)


def test_log_odds_keeps_the_grid_edges_finite() -> None:
    assert log_odds(0.5) == 0.0
    assert math.isfinite(log_odds(0.0)) and math.isfinite(log_odds(1.0))
    assert log_odds(0.0) == pytest.approx(-log_odds(1.0))
