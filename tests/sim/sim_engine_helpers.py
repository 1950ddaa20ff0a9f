"""Shared builders for the simulator engine tests: an exchange on a TestClock without synthetic
traders, a few markets, funded accounts, and short-hand order requests."""

from __future__ import annotations

from mmframe_sim.engine import (
    EventSpec,
    Exchange,
    MarketSpec,
    OrderRequest,
    SelfTradePrevention,
    SeriesSpec,
    Side,
    SimEvent,
    TimeInForce,
)
from mmframe_sim.fees import FeeType

from mmframe.api import TestClock

DOLLAR = 10_000
"""$1 in price units."""
MICRO_DOLLAR = 1_000_000
"""$1 in micros (costs, PnL, position fees)."""
CONTRACT = 100
GTC = TimeInForce.GOOD_TILL_CANCELED
IOC = TimeInForce.IMMEDIATE_OR_CANCEL
FOK = TimeInForce.FILL_OR_KILL


def build_exchange(
    *, balance_dollars: int = 1_000, users: tuple[str, ...] = ("alice", "bob", "carol")
) -> tuple[Exchange, TestClock, list[SimEvent]]:
    """Markets: ``M`` (linear cent, quadratic), ``MF`` (maker fees), ``D`` (deci-cent, fractional),
    ``T`` (tapered deci-cent). Returns the exchange, its clock and the list collecting its events."""
    clock = TestClock()
    x = Exchange(clock, seed=1, participants=False)
    x.add_series(SeriesSpec("SER", fee_type=FeeType.QUADRATIC))
    x.add_series(SeriesSpec("SERF", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES))
    x.add_event(EventSpec("EV", "SER"))
    x.add_event(EventSpec("EVF", "SERF"))
    x.add_market(MarketSpec("M", "EV"))
    x.add_market(MarketSpec("MF", "EVF"))
    x.add_market(MarketSpec("D", "EV", price_level_structure="deci_cent", fractional_trading_enabled=True))
    x.add_market(MarketSpec("T", "EV", price_level_structure="tapered_deci_cent"))
    for user in users:
        x.open_account(user, balance=balance_dollars * DOLLAR)
    events: list[SimEvent] = []
    x.subscribe(events.extend)
    return x, clock, events


def bid(ticker: str, price_cents: float, contracts: float, **kw: object) -> OrderRequest:
    """A YES bid at ``price_cents`` (may be fractional cents) for ``contracts``."""
    return OrderRequest(ticker, Side.BID, round(price_cents * 100), round(contracts * CONTRACT), **kw)  # type: ignore[arg-type]


def ask(ticker: str, price_cents: float, contracts: float, **kw: object) -> OrderRequest:
    """A YES ask at ``price_cents`` for ``contracts``."""
    return OrderRequest(ticker, Side.ASK, round(price_cents * 100), round(contracts * CONTRACT), **kw)  # type: ignore[arg-type]


def of_type(events: list[SimEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


__all__ = [
    "CONTRACT",
    "DOLLAR",
    "FOK",
    "GTC",
    "IOC",
    "SelfTradePrevention",
    "ask",
    "bid",
    "build_exchange",
    "of_type",
]
