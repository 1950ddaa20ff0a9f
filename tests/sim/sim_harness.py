"""Test harness for the simulator's server: a small quiet exchange, running servers and signed clients.

The server side comes from mmframe_sim; the client side is the independent `KalshiTestClient`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mmframe_sim.auth import generate_rsa_key_pair
from mmframe_sim.engine import EventSpec, Exchange, MarketSpec, SeriesSpec
from mmframe_sim.fees import FeeType
from mmframe_sim.serve import RunningSimulator, start_simulator

from mmframe.api import Clock
from tests.sim.kalshi_test_client import KalshiTestClient

SERIES = "SIMT"
EVENT = "SIMT-26NOV"
MARKET_A = "SIMT-26NOV-A"
MARKET_B = "SIMT-26NOV-B"
MAKER_SERIES = "SIMF"
MAKER_EVENT = "SIMF-26DEC"
MARKET_F = "SIMF-26DEC-T1"


def quiet_exchange(clock: Clock) -> Exchange:
    """Three open markets, no synthetic traders: every order and message in a test is the test's own."""
    ex = Exchange(clock, seed=7, participants=False)
    ex.add_series(SeriesSpec(SERIES, "Test series", FeeType.QUADRATIC, category="Test"))
    ex.add_series(SeriesSpec(MAKER_SERIES, "Maker-fee series", FeeType.QUADRATIC_WITH_MAKER_FEES))
    ex.add_event(EventSpec(EVENT, SERIES, "Test event"))
    ex.add_event(EventSpec(MAKER_EVENT, MAKER_SERIES, "Maker-fee event"))
    ex.add_market(MarketSpec(MARKET_A, EVENT, "Market A"))
    ex.add_market(MarketSpec(MARKET_B, EVENT, "Market B", price_level_structure="tapered_deci_cent"))
    ex.add_market(MarketSpec(MARKET_F, MAKER_EVENT, "Market F"))
    return ex


def order(ticker: str = MARKET_A, side: str = "bid", price: str = "0.4500", count: str = "10.00",
          tif: str = "good_till_canceled", **extra: Any) -> dict[str, Any]:
    """A CreateOrderV2 body."""
    return {"ticker": ticker, "side": side, "price": price, "count": count, "time_in_force": tif,
            "self_trade_prevention_type": "taker_at_cross", **extra}


@functools.cache
def key_pair(index: int) -> tuple[bytes, bytes]:
    """RSA-2048 key pairs made once per test process (generating one costs up to a second here)."""
    return generate_rsa_key_pair()


@dataclass
class Session:
    sim: RunningSimulator
    alice: KalshiTestClient
    bob: KalshiTestClient


def client_for(sim: RunningSimulator, key_id: str, pem: bytes, **kw: Any) -> KalshiTestClient:
    return KalshiTestClient(sim.rest_url, sim.ws_url, key_id, pem, **kw)


@contextlib.asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[Session]:
    """A quiet simulator with two funded accounts, alice and bob ("unlimited" tier unless told)."""
    kwargs.setdefault("exchange_factory", quiet_exchange)
    tier = kwargs.pop("tier", "unlimited")
    now_ms = kwargs.pop("now_ms", None)
    async with start_simulator(**kwargs) as sim:
        (a_pem, a_public), (b_pem, b_public) = key_pair(0), key_pair(1)
        a_key = sim.register_public_key(a_public, tier=tier)
        b_key = sim.register_public_key(b_public, tier=tier)
        async with client_for(sim, a_key, a_pem, now_ms=now_ms) as alice, \
                client_for(sim, b_key, b_pem, now_ms=now_ms) as bob:
            yield Session(sim, alice, bob)
