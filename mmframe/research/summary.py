"""Statistics across runs: mean, sample standard deviation, a 95% confidence interval of the mean,
and percentiles — computed exactly from `Fraction`s and rounded to floats only at the end, so the
same runs give the same numbers in any process, on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

# Two-sided 95% Student-t quantiles t(0.975, df) for df = 1..30 (beyond: the Cornish-Fisher expansion).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (the 95% two-sided interval)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = NormalDist().inv_cdf(0.975)
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True, slots=True)
class Distribution:
    """One metric across runs. ``n`` counts the runs that had a value; every other field is None
    when ``n`` is 0 (``std`` and the interval are 0 and the mean when ``n`` is 1)."""

    n: int
    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    minimum: float | None
    p05: float | None
    p50: float | None
    p95: float | None
    maximum: float | None

    def to_json(self) -> dict[str, float | int | list[float | None] | None]:
        return {
            "n": self.n, "mean": self.mean, "std": self.std, "ci95": [self.ci_low, self.ci_high],
            "min": self.minimum, "p05": self.p05, "p50": self.p50, "p95": self.p95, "max": self.maximum,
        }


EMPTY = Distribution(0, None, None, None, None, None, None, None, None, None)


def distribution(values: Sequence[Fraction | float]) -> Distribution:
    """Summarise ``values`` (Fractions stay exact until the final rounding)."""
    if not values:
        return EMPTY
    exact = [v if isinstance(v, Fraction) else Fraction(v) for v in values]
    n = len(exact)
    mean = sum(exact, Fraction(0)) / n
    if n == 1:
        std = 0.0
        half = 0.0
    else:
        variance = sum(((v - mean) ** 2 for v in exact), Fraction(0)) / (n - 1)
        std = math.sqrt(variance)
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
    ordered = sorted(exact)
    return Distribution(
        n=n, mean=float(mean), std=std, ci_low=float(mean) - half, ci_high=float(mean) + half,
        minimum=float(ordered[0]), p05=float(_percentile(ordered, 5)), p50=float(_percentile(ordered, 50)),
        p95=float(_percentile(ordered, 95)), maximum=float(ordered[-1]),
    )


def _percentile(ordered: Sequence[Fraction], pct: int) -> Fraction:
    """Linear interpolation between closest ranks (numpy's default), exactly."""
    if len(ordered) == 1:
        return ordered[0]
    rank = Fraction(pct, 100) * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
