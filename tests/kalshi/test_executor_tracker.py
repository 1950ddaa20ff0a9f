"""The executor keeps no order state: after an amend renamed an order, fills that name the old client
id (or none: REST fills) reach the runtime's tracker under the order's current id, because the
executor asks the tracker, not an index of its own. Judged against the simulator's own order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.rest import CreateOrderRequest
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.ws import Backoff

from mmframe.api import AmendOrder, BookSide, LiveClock, OrderAccepted, OrderAmended, OrderFilled
from tests.kalshi.sim_pipeline import RAIN, Pipeline, bid, open_pipeline

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    async with open_pipeline() as opened:
        yield opened


async def _rest_then_rename(p: Pipeline, price: int) -> str:
    """An order placed as r-1 and amended to r-2 (same venue order); returns its venue id."""
    await p.execute([bid("r-1", price, size=500)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    await p.execute([AmendOrder(client_order_id="r-1", new_client_order_id="r-2", ticker=RAIN,
                                side=BookSide.BID, price=price, size=400)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAmended))
    order = p.ctx.orders.get("r-2")
    assert order is not None and order.order_id is not None and p.ctx.orders.get("r-1") is order
    return order.order_id


async def test_tracker_when_a_fill_names_the_id_before_an_amend_it_lands_on_the_renamed_order(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    order_id = await _rest_then_rename(p, 500)
    # Kalshi's fill message still naming the client id the order had before the amend.
    msg = {"trade_id": "t-old", "order_id": order_id, "client_order_id": "r-1", "market_ticker": RAIN,
           "is_taker": False, "outcome_side": "yes", "book_side": "bid", "side": "yes", "action": "buy",
           "yes_price_dollars": "0.0500", "count_fp": "1.50", "fee_cost": "0.000000", "ts": 1, "subaccount": 0}

    p.executor.account.on_frame(Frame("fill", 5, None, msg), time.time_ns())

    (fill,) = [f for f in p.ctx.of(OrderFilled) if f.trade_id == "t-old"]
    assert fill.client_order_id == "r-2"
    order = p.ctx.orders.get("r-2")
    assert order is not None and (order.filled, order.remaining) == (150, 250)


async def test_tracker_when_a_renamed_order_fills_while_disconnected_rest_fills_reach_it_by_venue_id(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    book = await p.session.rest.get_orderbook(RAIN)
    best_ask = 10_000 - max(price for price, _ in book.no_bids)
    price = best_ask - 100  # the best bid, below every ask: post-only rests
    order_id = await _rest_then_rename(p, price)
    p.session.ws.backoff = Backoff(base_s=1.0, max_s=1.0)  # stay away long enough to miss the fill
    connects = p.session.ws.stats.connects
    await p.fault("drop_ws")
    await p.ctx.wait_for(lambda: p.session.status == "reconnecting")
    other_id, other_pem = p.sim.create_api_key()
    other = KalshiSession(p.sim.rest_url, p.sim.ws_url, KalshiCredentials.from_pem(other_id, other_pem), LiveClock())
    try:
        sell = CreateOrderRequest(ticker=RAIN, side=BookSide.ASK, price=price, count=200, client_order_id="taker-1",
                                  time_in_force="immediate_or_cancel", post_only=False)
        assert (await other.rest.create_order(sell)).filled > 0
    finally:
        await other.close()

    await p.ctx.wait_for(lambda: p.session.ws.stats.connects > connects)
    (venue,) = [o for a in p.sim.server.accounts for o in p.sim.exchange.orders(a) if o.order_id == order_id]
    assert venue.client_order_id == "r-2" and venue.filled > 0
    order = p.ctx.orders.get("r-2")
    assert order is not None
    await p.ctx.wait_for(lambda: order.filled == venue.filled)
    assert {f.client_order_id for f in p.ctx.of(OrderFilled)} == {"r-2"}
    assert order.remaining == venue.remaining
    await asyncio.wait_for(p.executor.cancel_all(), 30)
