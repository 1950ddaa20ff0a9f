"""`Outcomes` against the runtime's real order tracker: an acknowledgement is published once, and a
cancel that waited for it goes out even when a fill already named the order's venue id."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor.outcomes import Outcomes
from mmframe_kalshi.executor.shared import ExecutorOptions, Shared
from mmframe_kalshi.session import KalshiSession

from mmframe.api import BookSide, CancelOrder, CreateOrder, LiveClock, OrderAccepted, OrderFilled, OrderStatus
from tests.kalshi.tracked import TrackedCtx


@pytest.fixture
def parts(rsa_key: rsa.RSAPrivateKey) -> tuple[Outcomes, TrackedCtx, list[CancelOrder]]:
    # A session that is never opened: nothing here talks to a venue.
    session = KalshiSession("http://127.0.0.1:9/trade-api/v2", "ws://127.0.0.1:9/trade-api/ws/v2",
                            KalshiCredentials("k", rsa_key), LiveClock())
    shared = Shared(session, ExecutorOptions())
    shared.ctx = ctx = TrackedCtx()
    queued: list[CancelOrder] = []
    return Outcomes(shared, cancel_later=queued.append, unknown_outcome=lambda: None), ctx, queued


def _create(ctx: TrackedCtx, cid: str) -> None:
    ctx.submitted([CreateOrder(client_order_id=cid, ticker="T-1", side=BookSide.BID, price=4000, size=500)])


def _fill(cid: str, order_id: str, count: int) -> OrderFilled:
    return OrderFilled(ts_ns=1, client_order_id=cid, ticker="T-1", order_id=order_id, trade_id=f"t-{cid}",
                       side=BookSide.BID, price=4000, count=count, fee=0, is_taker=True)


def test_outcomes_when_acknowledged_twice_publish_it_once(parts: tuple[Outcomes, TrackedCtx, list[CancelOrder]]) -> None:
    outcomes, ctx, _ = parts
    _create(ctx, "c-1")
    outcomes.accepted("c-1", "T-1", "o-1", 500, 0)  # the WebSocket's user_order
    outcomes.accepted("c-1", "T-1", "o-1", 500, 0)  # the REST answer

    assert len(ctx.of(OrderAccepted)) == 1
    assert ctx.orders.get("c-1").status is OrderStatus.RESTING


def test_outcomes_when_a_fill_named_the_venue_id_first_the_acknowledgement_still_counts(
    parts: tuple[Outcomes, TrackedCtx, list[CancelOrder]],
) -> None:
    outcomes, ctx, queued = parts
    _create(ctx, "c-2")
    ctx.submitted([CancelOrder(client_order_id="c-2", ticker="T-1")])  # cancelled while in flight
    outcomes._shared.pending.deferred_cancels.add("c-2")
    ctx.publish(_fill("c-2", "o-2", 200))  # the crossing part traded: the tracker now knows o-2
    assert ctx.orders.get("c-2").order_id == "o-2"

    outcomes.accepted("c-2", "T-1", "o-2", 300, 200)

    assert [e.client_order_id for e in ctx.of(OrderAccepted)] == ["c-2"]
    assert queued == [CancelOrder(client_order_id="c-2", ticker="T-1")]  # the cancel follows at once
