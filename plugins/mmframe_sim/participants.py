"""Synthetic market participants, seeded and reproducible, trading through the same matching engine.

Per market there is a hidden fair probability moving as a logit random walk with jumps. Around it:

- **liquidity providers** rest a few levels of bids and asks at fair -/+ a half spread, refreshed
  periodically, so the book always has depth and a market maker has room to quote inside;
- **noise takers** arrive as a Poisson process and cross the spread with IOC orders of random side and
  size (uninformed flow a market maker earns the spread on);
- **informed takers** look at the book as a Poisson process and take whatever is mispriced against the
  fair probability by more than an edge (adverse selection a market maker pays for).

Every random draw comes from the exchange's seeded generator, in exchange-time order, so a scenario
replays identically.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mmframe.api import NANOS_PER_SECOND
from mmframe_sim.matching import Book, PriceGrid
from mmframe_sim.model import MarketState, MarketStatus, OrderRequest, SelfTradePrevention, Side, TimeInForce
from mmframe_sim.money import ONE, Price

LIQUIDITY_USER = "sim-liquidity"
NOISE_USER = "sim-noise"
INFORMED_USER = "sim-informed"
_PARTICIPANT_BALANCE: Price = 1_000_000_000 * 10_000  # $1B: synthetic traders never run out
_MIN_PROB = 0.02
_MAX_PROB = 0.98


@dataclass(frozen=True, slots=True)
class ParticipantConfig:
    """Intensities of the synthetic traders (probabilities and sizes in natural units)."""

    fair_step_seconds: float = 1.0
    liquidity_refresh_seconds: float = 5.0
    liquidity_half_spread: float = 0.04
    liquidity_levels: int = 3
    liquidity_level_gap: float = 0.01
    liquidity_size: int = 50
    noise_rate_per_minute: float = 6.0
    noise_min_size: int = 1
    noise_max_size: int = 20
    noise_slippage: float = 0.02
    informed_rate_per_minute: float = 2.0
    informed_edge: float = 0.03
    informed_size: int = 10

    def __post_init__(self) -> None:
        for name in ("fair_step_seconds", "liquidity_refresh_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"participants: {name} must be positive")
        for name in ("noise_rate_per_minute", "informed_rate_per_minute", "liquidity_half_spread"):
            if getattr(self, name) < 0:
                raise ValueError(f"participants: {name} must not be negative")
        if not 1 <= self.noise_min_size <= self.noise_max_size:
            raise ValueError("participants: need 1 <= noise_min_size <= noise_max_size")
        if self.liquidity_levels < 0 or self.liquidity_size < 0 or self.informed_size < 0:
            raise ValueError("participants: levels and sizes must not be negative")


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _to_price(probability: float) -> Price:
    return round(probability * ONE)


class Floor(Protocol):
    """What the synthetic traders need of the exchange they trade on (`mmframe_sim.engine.Exchange`):
    its clock and timers, accounts, and the in-loop operations it offers code it runs itself."""

    def now_ns(self) -> int: ...
    def open_account(self, user_id: str, *, balance: Price = ...) -> None: ...
    def schedule(self, at_ns: int, fn: Callable[[int], None]) -> None: ...
    def market_state_in_loop(self, ticker: str) -> MarketState: ...
    def is_trading(self, ticker: str) -> bool: ...
    def book_of(self, ticker: str) -> Book: ...
    def grid_of(self, ticker: str) -> PriceGrid: ...
    def fair_of(self, ticker: str) -> float: ...
    def set_fair_in_loop(self, ticker: str, probability: float) -> None: ...
    def cancel_user_orders_in_loop(self, user_id: str, ticker: str, now: int) -> None: ...
    def submit_in_loop(self, user_id: str, request: OrderRequest) -> Any: ...


class Participants:
    """The synthetic traders of one exchange. `attach` starts them in a market."""

    def __init__(self, exchange: Floor, config: ParticipantConfig, rng: random.Random) -> None:
        self._x = exchange
        self.config = config
        self._rng = rng
        self._opened = False

    def user_ids(self) -> list[str]:
        return [LIQUIDITY_USER, NOISE_USER, INFORMED_USER]

    def attach(self, ticker: str) -> None:
        """Start the fair-value walk and the three kinds of traders in ``ticker``."""
        x = self._x
        if not self._opened:
            for user in self.user_ids():
                x.open_account(user, balance=_PARTICIPANT_BALANCE)
            self._opened = True
        now = x.now_ns()
        cfg = self.config
        x.schedule(now + self._seconds(cfg.fair_step_seconds), lambda t: self._step_fair(ticker, t))
        x.schedule(now, lambda t: self._refresh_liquidity(ticker, t))
        if cfg.noise_rate_per_minute > 0:
            x.schedule(now + self._poisson_gap(cfg.noise_rate_per_minute), lambda t: self._noise(ticker, t))
        if cfg.informed_rate_per_minute > 0:
            x.schedule(
                now + self._poisson_gap(cfg.informed_rate_per_minute), lambda t: self._informed(ticker, t)
            )

    # --- scheduling helpers ---------------------------------------------------------------------

    @staticmethod
    def _seconds(seconds: float) -> int:
        return max(1, int(seconds * NANOS_PER_SECOND))

    def _poisson_gap(self, rate_per_minute: float) -> int:
        return self._seconds(self._rng.expovariate(rate_per_minute / 60.0))

    def _alive(self, ticker: str) -> bool:
        status = self._x.market_state_in_loop(ticker).status
        return status not in (MarketStatus.DETERMINED, MarketStatus.FINALIZED)

    # --- fair value ---------------------------------------------------------------------------------

    def _step_fair(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        spec = x.market_state_in_loop(ticker).spec
        dt_hours = self.config.fair_step_seconds / 3600.0
        logit = _logit(x.fair_of(ticker)) + spec.volatility * math.sqrt(dt_hours) * self._rng.gauss(0.0, 1.0)
        if spec.jump_rate > 0 and self._rng.random() < spec.jump_rate * dt_hours:
            logit += self._rng.gauss(0.0, spec.jump_size)
        x.set_fair_in_loop(ticker, min(_MAX_PROB, max(_MIN_PROB, _expit(logit))))
        x.schedule(now + self._seconds(self.config.fair_step_seconds), lambda t: self._step_fair(ticker, t))

    # --- liquidity providers ---------------------------------------------------------------------------

    def _refresh_liquidity(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        jitter = 0.8 + 0.4 * self._rng.random()
        x.schedule(
            now + self._seconds(cfg.liquidity_refresh_seconds * jitter),
            lambda t: self._refresh_liquidity(ticker, t),
        )
        if not x.is_trading(ticker):
            return
        x.cancel_user_orders_in_loop(LIQUIDITY_USER, ticker, now)
        grid = x.grid_of(ticker)
        fair = x.fair_of(ticker)
        size = cfg.liquidity_size * 100
        if size <= 0:
            return
        for level in range(cfg.liquidity_levels):
            offset = cfg.liquidity_half_spread + level * cfg.liquidity_level_gap
            bid = grid.round_down(_to_price(fair - offset))
            ask = grid.round_up(_to_price(fair + offset))
            if bid is not None and bid >= grid.min_price:
                self._place(LIQUIDITY_USER, ticker, Side.BID, bid, size, TimeInForce.GOOD_TILL_CANCELED)
            if ask is not None and ask <= grid.max_price:
                self._place(LIQUIDITY_USER, ticker, Side.ASK, ask, size, TimeInForce.GOOD_TILL_CANCELED)

    # --- takers ---------------------------------------------------------------------------------------------

    def _noise(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        x.schedule(now + self._poisson_gap(cfg.noise_rate_per_minute), lambda t: self._noise(ticker, t))
        side = Side.BID if self._rng.random() < 0.5 else Side.ASK
        size = self._rng.randint(cfg.noise_min_size, cfg.noise_max_size) * 100
        if not x.is_trading(ticker):
            return
        yes_bid, _, yes_ask, _ = x.book_of(ticker).top()
        grid = x.grid_of(ticker)
        slip = _to_price(cfg.noise_slippage)
        if side is Side.BID:
            if yes_ask >= ONE:
                return
            price = grid.round_down(min(yes_ask + slip, grid.max_price))
        else:
            if yes_bid <= 0:
                return
            price = grid.round_up(max(yes_bid - slip, grid.min_price))
        if price is not None:
            self._place(NOISE_USER, ticker, side, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)

    def _informed(self, ticker: str, now: int) -> None:
        if not self._alive(ticker):
            return
        x = self._x
        cfg = self.config
        x.schedule(
            now + self._poisson_gap(cfg.informed_rate_per_minute), lambda t: self._informed(ticker, t)
        )
        if not x.is_trading(ticker) or cfg.informed_size <= 0:
            return
        fair = x.fair_of(ticker)
        yes_bid, _, yes_ask, _ = x.book_of(ticker).top()
        grid = x.grid_of(ticker)
        edge = cfg.informed_edge
        size = cfg.informed_size * 100
        if yes_ask < ONE and yes_ask < _to_price(fair - edge):
            price = grid.round_down(_to_price(fair - edge))
            if price is not None:
                self._place(INFORMED_USER, ticker, Side.BID, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)
        elif yes_bid > 0 and yes_bid > _to_price(fair + edge):
            price = grid.round_up(_to_price(fair + edge))
            if price is not None:
                self._place(INFORMED_USER, ticker, Side.ASK, price, size, TimeInForce.IMMEDIATE_OR_CANCEL)

    def _place(self, user: str, ticker: str, side: Side, price: Price, count: int, tif: TimeInForce) -> None:
        self._x.submit_in_loop(
            user,
            OrderRequest(
                ticker=ticker,
                side=side,
                price=price,
                count=count,
                time_in_force=tif,
                self_trade_prevention_type=SelfTradePrevention.MAKER,
            ),
        )
