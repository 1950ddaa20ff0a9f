"""``daily-loss``: halt everything when the day's net loss, or the drawdown from its high, is too big."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.api import (
    MAX_DOLLARS,
    NANOS_PER_SECOND,
    WEEK_SECONDS,
    Event,
    MarketView,
    PortfolioView,
    Price,
    Quote,
    TradingResumed,
    Verdict,
    format_price,
    fraction_from_config,
    price_from_config,
)
from mmframe_risk._base import ConfiguredRule, schema


@dataclass(frozen=True, slots=True)
class DailyLossParams:
    max_loss: Price
    max_drawdown: Price
    resume_after_ns: int | None


def net_pnl(portfolio: PortfolioView) -> Price:
    """Today's PnL net of fees: realised - fees + unrealised (marked to mid) + what earlier runs today
    made; the runtime's portfolio sums it exactly (``net_pnl()``), a bare view from its parts."""
    exact = getattr(portfolio, "net_pnl", None)
    if callable(exact):
        return int(exact())
    return portfolio.realised_pnl - portfolio.fees + portfolio.unrealised_pnl + portfolio.day_start_pnl


class DailyLossRule(ConfiguredRule[DailyLossParams]):
    """Halts (stop quoting everywhere, cancel every order, keep positions) when today's net PnL —
    realised - fees + unrealised (marked to mid) + ``day_start_pnl`` carried in from earlier runs —
    reaches ``-max_loss``, or, with ``max_drawdown``, falls that far below its high-water mark.

    With ``resume_after_seconds`` the halt asks the runtime to resume by itself after that
    cool-down; otherwise an operator resumes. The runtime does not consult rules while halted, so
    the first check after a halt means trading resumed: the high-water mark restarts from the
    current PnL there, while the daily ``max_loss`` still applies (a day still past it halts again).
    """

    NAME = "daily-loss"
    SUMMARY = "Halt when net PnL (realised + unrealised - fees) breaches a daily loss or trailing drawdown."
    SCHEMA = schema(
        {
            "max_loss": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_DOLLARS,
                "multipleOf": 0.0001,
                "default": 100,
                "description": "Halt when today's net PnL is at or below minus this many dollars.",
                "examples": [100],
            },
            "max_drawdown": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_DOLLARS,
                "multipleOf": 0.0001,
                "default": 0,
                "description": "Halt when net PnL falls this many dollars below its high-water mark; 0 turns the "
                "trailing drawdown off.",
                "examples": [40],
            },
            "resume_after_seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": WEEK_SECONDS,
                "multipleOf": 0.001,
                "default": 0,
                "description": "Resume by itself after this cool-down, seconds; 0 waits for an operator.",
                "examples": [900],
            },
        },
        "daily-loss risk rule",
    )
    UPDATABLE = frozenset({"max_loss", "max_drawdown", "resume_after_seconds"})
    EXAMPLE = {"max_loss": 100, "max_drawdown": 40}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.high_water: Price | None = None
        self._halted = False

    def parse(self, config: Mapping[str, Any]) -> DailyLossParams:
        resume = fraction_from_config(config["resume_after_seconds"], "resume_after_seconds")
        return DailyLossParams(
            max_loss=price_from_config(config["max_loss"], "max_loss"),
            max_drawdown=price_from_config(config["max_drawdown"], "max_drawdown"),
            resume_after_ns=int(resume * NANOS_PER_SECOND) or None,
        )

    def observe(self, event: Event) -> None:
        """A resume (where the runtime passes it on) restarts the high-water mark."""
        if isinstance(event, TradingResumed) and self._halted:
            self._halted = False
            self.high_water = None

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        """Pass, or halt with the reason."""
        net = net_pnl(portfolio)
        if self._halted:  # consulted again after a halt: trading resumed
            self._halted = False
            self.high_water = net
        if self.high_water is None or net > self.high_water:
            self.high_water = net
        p = self.params
        if net <= -p.max_loss:
            return self._halt(
                f"daily-loss: net PnL ${format_price(net)} breached -${format_price(p.max_loss)}"
            )
        drawdown = self.high_water - net
        if p.max_drawdown and drawdown >= p.max_drawdown:
            return self._halt(
                f"daily-loss: net PnL ${format_price(net)} is ${format_price(drawdown)} below its high of "
                f"${format_price(self.high_water)} (max drawdown ${format_price(p.max_drawdown)})"
            )
        return Verdict.passed()

    def _halt(self, reason: str) -> Verdict:
        self._halted = True
        return Verdict.halt(reason, self.params.resume_after_ns)
