"""The catalogue of backtest metrics: names (the JSON keys and `results.csv` columns), labels and
how many digits the terminal shows. Values are dollars, contracts, ratios or seconds as labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE
from mmframe.research.run_stats import RunStats


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: its key, what the report calls it, and the digits it is shown with."""

    name: str
    label: str
    digits: int
    higher_is_better: bool = True


BASE_METRICS: tuple[Metric, ...] = (
    Metric("profit", "net PnL at final mid ($)", 4),
    Metric("final_inventory", "final inventory (contracts)", 2, higher_is_better=False),
    Metric("spread", "average quoted spread ($)", 4, higher_is_better=False),
    Metric("fills", "fills", 2),
    Metric("fees", "fees ($)", 4, higher_is_better=False),
)
"""The metrics of every backtest since the first release, in the order of ``--json``'s ``metrics``."""

RUN_METRICS: tuple[Metric, ...] = (
    Metric("fill_ratio", "fill ratio (filled / offered contracts)", 4),
    Metric("spread_captured", "spread captured ($ per contract vs mid at fill)", 4),
    Metric("max_drawdown", "max drawdown ($)", 4, higher_is_better=False),
    Metric("sharpe", "Sharpe-like ratio of per-step PnL", 4),
    Metric("inventory_mean", "mean inventory (contracts, time-weighted)", 2, higher_is_better=False),
    Metric("abs_inventory_mean", "mean |inventory| (contracts, time-weighted)", 2, higher_is_better=False),
    Metric("max_abs_inventory", "max |inventory| (contracts)", 2, higher_is_better=False),
    Metric("time_at_limit", "share of time at the position limit", 4, higher_is_better=False),
    Metric("uptime", "two-sided quote uptime", 4),
)
"""Measured while the run goes (`mmframe.research.run_stats`)."""


def horizon_label(horizon_s: Fraction) -> str:
    """``1`` -> ``1s``, ``1/100`` -> ``0.01s``: a horizon as written in metric names."""
    text = f"{float(horizon_s):g}"
    return f"{text}s"


def markout_metric(horizon_s: Fraction) -> Metric:
    """The markout metric at ``horizon_s`` seconds."""
    label = horizon_label(horizon_s)
    return Metric(f"markout_{label}", f"markout at {label} ($ per contract)", 4)


def catalogue(horizons_s: Sequence[Fraction]) -> tuple[Metric, ...]:
    """Every metric of a backtest measured at ``horizons_s``, in report order."""
    return BASE_METRICS + RUN_METRICS + tuple(markout_metric(h) for h in horizons_s)


def stats_values(stats: RunStats) -> dict[str, Fraction | float | None]:
    """`RUN_METRICS` and the markouts of one run, in dollars / contracts / ratios."""
    values: dict[str, Fraction | float | None] = {
        "fill_ratio": stats.fill_ratio,
        "spread_captured": stats.spread_captured,
        "max_drawdown": Fraction(stats.max_drawdown, PRICE_SCALE),
        "sharpe": stats.sharpe,
        "inventory_mean": stats.inventory_mean / COUNT_SCALE,
        "abs_inventory_mean": stats.abs_inventory_mean / COUNT_SCALE,
        "max_abs_inventory": Fraction(stats.max_abs_inventory, COUNT_SCALE),
        "time_at_limit": stats.time_at_limit,
        "uptime": stats.uptime,
    }
    for markout in stats.markouts[1:]:
        values[markout_metric(markout.horizon_s).name] = markout.per_contract
    return values
