"""`FeeTerms`: the fee type and multiplier each market trades under — its series' terms, replaced
part by part by its event's override (``GET /events/{ticker}``'s ``fee_type_override`` /
``fee_multiplier_override``, and the WebSocket ``event_fee_update`` that sets or clears one while
we run; API.md §6, §9)."""

from __future__ import annotations

from dataclasses import replace

from mmframe.api import FeeType, MarketInfo
from mmframe_kalshi.models import EventFees

_STANDARD = (FeeType.QUADRATIC, 10_000)


class FeeTerms:
    """Series terms and event overrides, by event ticker."""

    def __init__(self) -> None:
        self._series: dict[str, tuple[FeeType, int]] = {}
        self._overrides: dict[str, EventFees] = {}

    def set_series(self, event_ticker: str, fee_type: FeeType, multiplier_bps: int) -> None:
        """The terms of the series ``event_ticker`` belongs to (what applies without an override)."""
        self._series[event_ticker] = (fee_type, multiplier_bps)

    def set_override(self, fees: EventFees) -> None:
        """An event's override as last reported; a part that is None is not overridden (cleared)."""
        if fees.fee_type is None and fees.multiplier_bps is None:
            self._overrides.pop(fees.event_ticker, None)
        else:
            self._overrides[fees.event_ticker] = fees

    def terms(self, event_ticker: str) -> tuple[FeeType, int]:
        """(fee type, multiplier in bps) for markets of ``event_ticker`` (series terms unknown:
        Kalshi's standard ``quadratic`` at 1x, overridden as reported)."""
        fee_type, multiplier = self._series.get(event_ticker, _STANDARD)
        override = self._overrides.get(event_ticker)
        if override is not None:
            fee_type = override.fee_type or fee_type
            multiplier = multiplier if override.multiplier_bps is None else override.multiplier_bps
        return fee_type, multiplier

    def apply(self, info: MarketInfo) -> MarketInfo:
        """``info`` with the terms its event trades under now (the same object when unchanged)."""
        if not info.event_ticker:
            return info
        fee_type, multiplier = self.terms(info.event_ticker)
        if (info.fee_type, info.fee_multiplier_bps) == (fee_type, multiplier):
            return info
        return replace(info, fee_type=fee_type, fee_multiplier_bps=multiplier)
