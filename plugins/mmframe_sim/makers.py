"""Synthetic market makers that do not know the fair value: they estimate it from the tape and keep
their quotes in the queue.

`TradeEstimator` follows one market's trades with an exponentially weighted average per trade, so it
lags a move until takers (informed ones above all) have traded it in. `QuoteKeeper` holds one user's
quotes in one market at a wanted ladder, leaving an order that is already at a wanted price alone so
it keeps its place in the queue -- which is what makes queue position matter to anyone quoting at the
same price.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmframe_sim.floor import Floor
from mmframe_sim.model import OrderRequest, SelfTradePrevention, Side, TimeInForce
from mmframe_sim.money import ONE, Count, Price
from mmframe_sim.truth import TruthLog


@dataclass(frozen=True, slots=True)
class CompetitorConfig:
    """Competing makers quoting ``width`` wide (0.01 = one cent) around their own estimate, ``size``
    contracts a side, re-checked every ``refresh_seconds``; ``estimate_weight`` is how far each trade
    pulls their estimate (0..1)."""

    refresh_seconds: float = 1.0
    width: float = 0.01
    size: int = 10
    estimate_weight: float = 0.3

    def __post_init__(self) -> None:
        if self.refresh_seconds <= 0 or self.width <= 0 or self.size < 0:
            raise ValueError("competitors: refresh_seconds and width must be positive, size not negative")
        check_weight("competitors", self.estimate_weight)


def check_weight(where: str, weight: float) -> None:
    if not 0 < weight <= 1:
        raise ValueError(f"{where}: estimate_weight must be within (0, 1]")


class TradeEstimator:
    """A fair-value estimate from one market's trades (the tape is all an uninformed maker sees)."""

    __slots__ = ("cursor", "value", "weight")

    def __init__(self, initial: float, weight: float) -> None:
        self.value = initial
        self.weight = weight
        self.cursor = 0

    def update(self, truth: TruthLog, ticker: str) -> float:
        """Fold in the trades since the last update; returns the estimate (a probability)."""
        w = self.weight
        for tag in truth.trades(ticker, self.cursor):
            self.value += w * (tag.price / ONE - self.value)
        self.cursor = truth.trade_count(ticker)
        return self.value


class QuoteKeeper:
    """Keeps ``user``'s post-only quotes in ``ticker`` at a wanted ``{(side, price): count}`` ladder."""

    def __init__(self, exchange: Floor, user: str, ticker: str) -> None:
        self._x = exchange
        self._user = user
        self._ticker = ticker

    def keep(self, wanted: dict[tuple[Side, Price], Count], now: int) -> None:
        x = self._x
        have: dict[tuple[Side, Price], Count] = {}
        for order in x.resting_in_loop(self._user, self._ticker):
            key = (order.side, order.price)
            if key in wanted and have.get(key, 0) + order.remaining <= wanted[key]:
                have[key] = have.get(key, 0) + order.remaining  # keeps its queue position
            else:
                x.cancel_order_in_loop(self._user, order, now)
        for (side, price), count in sorted(wanted.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
            missing = count - have.get((side, price), 0)
            if missing > 0:
                x.submit_in_loop(
                    self._user,
                    OrderRequest(
                        ticker=self._ticker,
                        side=side,
                        price=price,
                        count=missing,
                        time_in_force=TimeInForce.GOOD_TILL_CANCELED,
                        self_trade_prevention_type=SelfTradePrevention.MAKER,
                        post_only=True,  # a maker that would cross just does not quote that level
                    ),
                )
