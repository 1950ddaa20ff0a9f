"""First-party risk rules, one module each, written against `mmframe.api` only.

Each rule returns pass, adjust (clipped sizes, widened or moved prices), block (pull this market) or
halt (stop quoting everywhere, cancel every order, keep positions), always with a recorded reason.
"""

from __future__ import annotations

from typing import Any

from mmframe.api import hookimpl
from mmframe_risk.action_rate import ActionRateRule
from mmframe_risk.daily_loss import DailyLossRule
from mmframe_risk.market_lifecycle import MarketLifecycleRule
from mmframe_risk.max_exposure import MaxExposureRule
from mmframe_risk.max_order_size import MaxOrderSizeRule
from mmframe_risk.max_position import MaxPositionRule
from mmframe_risk.min_spread import MinSpreadRule
from mmframe_risk.price_band import PriceBandRule
from mmframe_risk.stale_data import StaleDataRule
from mmframe_risk.sweep_guard import SweepGuardRule

MMFRAME_API = ">=1.0,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


RULES = (
    MaxPositionRule,
    MaxExposureRule,
    MaxOrderSizeRule,
    MinSpreadRule,
    DailyLossRule,
    PriceBandRule,
    StaleDataRule,
    ActionRateRule,
    MarketLifecycleRule,
    SweepGuardRule,
)
"""Every first-party rule class, in the order `plugins list` shows them."""


@hookimpl
def register_risk_rules(register: Any) -> None:
    """Register the first-party risk rules."""
    for rule in RULES:
        register(rule.spec())
