"""Market metadata."""

from __future__ import annotations

from dataclasses import dataclass

from mmframe.domain.fees import FeeType
from mmframe.domain.grid import TickGrid
from mmframe.domain.incentive import IncentiveTerms
from mmframe.domain.money import ONE_DOLLAR, Price


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """What the core knows about a market: ticker, status, open/close times, tick grid, fee type.

    ``payout`` is what one YES contract pays when it wins ($1 on Kalshi); YES ask = payout - NO bid.
    ``incentive``: the market's Liquidity Incentive Program terms when the venue told them (None:
    the score is estimated with `mmframe.domain.incentive.DEFAULT_TERMS`).
    """

    ticker: str
    status: str = "active"
    open_ts_ns: int | None = None
    close_ts_ns: int | None = None
    grid: TickGrid | None = None
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier_bps: int = 10_000
    event_ticker: str = ""
    payout: Price = ONE_DOLLAR
    incentive: IncentiveTerms | None = None
