"""The Kalshi session, feed and executor against the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.rest import CreateOrderRequest, RetryPolicy
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.ws import Backoff

from mmframe.api import (
    AmendOrder,
    BookInvalidated,
    BookSide,
    BookSnapshotReceived,
    CancelOrder,
    DecreaseOrder,
    FeeType,
    LiveClock,
    MarketInfoReceived,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    PositionReported,
)
from tests.kalshi.sim_pipeline import Pipeline, bid, open_pipeline
from tests.kalshi.tracked import TrackedCtx

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator
pytestmark = pytest.mark.anyio

RAIN, FED = "SIM-RAIN-NYC", "SIM-FED-DEC"


Ctx = TrackedCtx


@pytest.fixture
async def pipeline() -> AsyncIterator[Pipeline]:
    async with open_pipeline() as opened:
        yield opened


_bid = bid


async def test_sim_when_feed_starts_publishes_market_info_with_series_fee_type(pipeline: Pipeline) -> None:
    infos = {e.ticker: e.info for e in pipeline.ctx.of(MarketInfoReceived)}
    assert infos[FED].fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES
    assert infos[RAIN].fee_type is FeeType.QUADRATIC
    assert infos[RAIN].grid is not None and infos[RAIN].grid.is_valid(3500)


async def test_sim_when_order_created_then_cancel_all_leaves_nothing_resting(pipeline: Pipeline) -> None:
    p = pipeline
    await p.execute([_bid("c-1", 500), _bid("c-2", 600, ticker=FED)])
    await p.executor.flush()
    accepted = await p.ctx.wait_for(lambda: len(p.ctx.of(OrderAccepted)) == 2 and p.ctx.of(OrderAccepted))
    assert {a.client_order_id for a in accepted} == {"c-1", "c-2"}
    assert len(p.resting_on_venue()) == 2
    assert {o.client_order_id for o in await p.executor.open_orders()} == {"c-1", "c-2"}

    await p.executor.cancel_all()

    assert p.resting_on_venue() == []
    assert await p.executor.open_orders() == []
    await p.ctx.wait_for(lambda: len(p.ctx.of(OrderCanceled)) == 2)


async def test_sim_when_order_crosses_fill_arrives_once_and_matches_venue_position(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    # A marketable IOC bid lifts the background offers: fills come over the WebSocket.
    await p.execute([_bid("take-1", 9900, size=300, post_only=False, immediate_or_cancel=True)])
    await p.executor.flush()
    fills = await p.ctx.wait_for(lambda: p.ctx.of(OrderFilled))
    await asyncio.sleep(0.2)
    fills = p.ctx.of(OrderFilled)
    assert sum(f.count for f in fills) == 300
    assert all(f.client_order_id == "take-1" and f.is_taker and f.fee > 0 for f in fills)
    assert len({f.trade_id for f in fills}) == len(fills)
    # A REST reconciliation reads the same fills: whatever it publishes again carries the same trade
    # ids under the same client id (the runtime books a trade id once), and nothing new.
    await p.executor.reconcile()
    again = p.ctx.of(OrderFilled)
    assert {f.trade_id for f in again} == {f.trade_id for f in fills}
    assert all(f.client_order_id == "take-1" for f in again)
    positions = {e.ticker: e.position for e in p.ctx.of(PositionReported)}
    assert positions[RAIN] == 300
    truth = [x for x in p.sim.exchange.all_positions(RAIN) if x.user_id in p.sim.server.accounts]
    assert truth[0].position == 300


async def test_sim_when_create_fails_after_placing_no_duplicate_order(pipeline: Pipeline) -> None:
    p = pipeline
    await p.fault("fail_writes", share=1.0, placed=True)
    await p.execute([_bid("dup-1", 700)])
    await p.executor.flush()
    await p.fault("clear")
    accepted = await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    assert accepted[0].client_order_id == "dup-1"
    assert [o.client_order_id for o in p.resting_on_venue()] == ["dup-1"]
    await p.executor.cancel_all()
    assert p.resting_on_venue() == []


async def test_sim_when_seq_skipped_book_invalidated_then_rebuilt_from_snapshot(pipeline: Pipeline) -> None:
    p = pipeline
    before = len(p.ctx.of(BookSnapshotReceived))
    await p.fault("skip_seq", count=1)
    # Book traffic follows from our own order (a delta), which carries the skipped seq.
    await p.execute([_bid("gap-1", 800)])
    invalid = await p.ctx.wait_for(lambda: p.ctx.of(BookInvalidated))
    assert "seq gap" in invalid[0].reason
    await p.ctx.wait_for(lambda: len(p.ctx.of(BookSnapshotReceived)) >= before + len(p.ctx.markets))
    assert p.feed.invalid == set()
    await p.executor.cancel_all()


async def test_sim_when_ws_dropped_reconnects_and_reconciles(pipeline: Pipeline) -> None:
    p = pipeline
    await p.execute([_bid("keep-1", 900)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    connects = p.session.ws.stats.connects
    await p.fault("drop_ws")
    await p.ctx.wait_for(lambda: p.session.ws.stats.connects > connects)
    await p.ctx.wait_for(lambda: any(e.reason == "disconnected" for e in p.ctx.of(BookInvalidated)))
    await p.ctx.wait_for(lambda: p.feed.invalid == set() or None)
    # The order survived the reconnect and is still ours.
    assert [o.client_order_id for o in await p.executor.open_orders()] == ["keep-1"]
    assert not p.ctx.of(OrderCanceled)
    await p.executor.cancel_all()
    assert p.resting_on_venue() == []


async def test_sim_when_order_group_triggered_publishes_halt_event(pipeline: Pipeline) -> None:
    p = pipeline
    await p.execute([_bid("grp-1", 1000)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    assert p.executor.order_group_id is not None
    await p.session.rest.trigger_order_group(p.executor.order_group_id)
    triggered = await p.ctx.wait_for(lambda: p.ctx.of(OrderGroupTriggered))
    assert "triggered" in triggered[0].detail
    await p.ctx.wait_for(lambda: p.ctx.of(OrderCanceled))
    assert p.resting_on_venue() == []
    # Until the group is reset the venue refuses its orders; after a reset it takes them again.
    await p.execute([_bid("grp-2", 1000)])
    rejected = await p.ctx.wait_for(lambda: p.ctx.of(OrderRejected))
    assert rejected[0].client_order_id == "grp-2"
    await p.executor.reset_order_group()
    await p.execute([_bid("grp-3", 1000)])
    await p.ctx.wait_for(lambda: [e for e in p.ctx.of(OrderAccepted) if e.client_order_id == "grp-3"])
    await p.executor.cancel_all()


async def test_sim_when_cancel_queued_with_its_create_neither_is_sent(pipeline: Pipeline) -> None:
    p = pipeline
    sent = p.session.rest.requests_sent
    # One hand-over (a requote that creates and pulls in one go): the pair cancels out unsent. Two
    # separate hand-overs send the create at once; the cancel then follows its acceptance (below).
    await p.execute([_bid("fast-1", 1100), CancelOrder(client_order_id="fast-1", ticker=RAIN)])
    await p.executor.flush()
    (canceled,) = p.ctx.of(OrderCanceled)
    assert canceled.client_order_id == "fast-1" and "before it was sent" in canceled.reason
    assert p.session.rest.requests_sent == sent


async def test_sim_when_cancel_arrives_while_create_in_flight_cancels_after_accept(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    await p.fault("delay", ms=200)
    await p.execute([_bid("slow-1", 1200)])
    await asyncio.sleep(0.05)  # the create is on the wire now
    await p.execute([CancelOrder(client_order_id="slow-1", ticker=RAIN)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderCanceled))
    await p.fault("clear")
    assert [e.client_order_id for e in p.ctx.of(OrderAccepted)] == ["slow-1"]
    assert p.resting_on_venue() == []


async def test_sim_when_429_burst_hits_orders_still_go_through(pipeline: Pipeline) -> None:
    p = pipeline
    await p.fault("burst_429", count=3)
    await p.execute([_bid("burst-1", 1300)])
    await p.executor.flush()
    accepted = await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    assert accepted[0].client_order_id == "burst-1"
    assert p.session.rest.rate_limited == 3
    assert [o.client_order_id for o in p.resting_on_venue()] == ["burst-1"]
    await p.executor.cancel_all()


async def test_sim_when_amended_and_decreased_venue_shows_new_price_and_size(pipeline: Pipeline) -> None:
    p = pipeline
    await p.execute([_bid("a-1", 500, size=1000)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    await p.execute(
        [
            AmendOrder(
                client_order_id="a-1",
                new_client_order_id="a-2",
                ticker=RAIN,
                side=BookSide.BID,
                price=600,
                size=800,
            )
        ]
    )
    amended = await p.ctx.wait_for(lambda: p.ctx.of(OrderAmended))
    assert (amended[0].new_client_order_id, amended[0].price, amended[0].remaining) == ("a-2", 600, 800)
    await p.execute([DecreaseOrder(client_order_id="a-2", ticker=RAIN, size=300)])
    decreased = await p.ctx.wait_for(lambda: p.ctx.of(OrderDecreased))
    assert decreased[0].remaining == 300
    (order,) = p.resting_on_venue()
    assert (order.client_order_id, order.price, order.remaining) == ("a-2", 600, 300)
    await p.executor.cancel_all()
    assert p.resting_on_venue() == []


async def test_sim_when_restarted_with_open_orders_and_position_recovers_them(pipeline: Pipeline) -> None:
    p = pipeline
    p.executor.delete_group_on_stop = False  # a crash leaves the group and its orders behind
    await p.execute(
        [_bid("old-take", 9900, size=200, post_only=False, immediate_or_cancel=True), _bid("old-rest", 400)]
    )
    await p.ctx.wait_for(lambda: sum(f.count for f in p.ctx.of(OrderFilled)) == 200)
    await p.ctx.wait_for(lambda: len(p.ctx.of(OrderAccepted)) == 2)
    await p.executor.stop()
    session2 = KalshiSession(
        p.sim.rest_url, p.sim.ws_url, p.session.credentials, LiveClock(), retry=RetryPolicy(base_s=0.01)
    )
    await session2.open()
    try:
        ctx2 = Ctx((RAIN, FED))
        executor2 = KalshiExecutor(session2)
        snapshot = await executor2.start(ctx2)
        assert snapshot.positions == {RAIN: 200}
        assert [o.client_order_id for o in snapshot.open_orders] == ["old-rest"]
        assert {f.client_order_id for f in snapshot.fills} == {"old-take"}
        assert sum(f.count for f in snapshot.fills) == 200
        assert await executor2.open_orders() == []  # not ours until the runtime adopts it
        for order in snapshot.open_orders:
            ctx2.orders.adopt(order)
        executor2.adopt(["old-rest"])
        assert [o.client_order_id for o in await executor2.open_orders()] == ["old-rest"]
        await executor2.cancel_all()
        assert p.resting_on_venue() == []
        await executor2.stop()
    finally:
        await session2.close()


async def test_sim_rest_when_every_read_called_returns_typed_results(pipeline: Pipeline) -> None:
    rest = pipeline.session.rest
    status = await rest.get_exchange_status()
    assert status.trading_active is True
    books = await rest.get_orderbooks([RAIN, FED])
    assert {b.ticker for b in books} == {RAIN, FED}
    assert all(p > 0 and c > 0 for b in books for p, c in b.yes_bids + b.no_bids)
    single = await rest.get_orderbook(RAIN)
    assert single.ticker == RAIN
    market = await rest.get_market(FED)
    assert market.status == "active" and market.grid is not None
    series = await rest.get_series(await rest.get_event_series_ticker(market.event_ticker))
    assert series.fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES
    everything = await rest.list_markets(limit=2)
    assert {RAIN, FED} <= {m.ticker for m in everything}
    trades = await rest.get_trades(ticker=RAIN, limit=5)
    assert all(t.ticker == RAIN and t.count > 0 for t in trades.items)
    limits = await rest.get_account_limits()
    assert limits.write.refill_rate > 0
    groups = await rest.list_order_groups()
    assert pipeline.executor.order_group_id in {g.order_group_id for g in groups}
    await rest.set_order_group_limit(pipeline.executor.order_group_id or "", 5_000)
    group = await rest.get_order_group(pipeline.executor.order_group_id or "")
    assert group.contracts_limit == 5_000
    balance = await rest.get_balance()
    assert balance.balance > 0


async def test_sim_rest_when_cancel_all_orders_called_clears_the_account(pipeline: Pipeline) -> None:
    p = pipeline
    await p.execute([_bid("x-1", 500), _bid("x-2", 500, ticker=FED)])
    await p.ctx.wait_for(lambda: len(p.ctx.of(OrderAccepted)) == 2)
    placed = await p.session.rest.get_orders(status="resting")
    decreased = await p.session.rest.decrease_order(placed.items[0].order_id, reduce_by=100)
    assert decreased.remaining == 400
    await p.session.rest.cancel_all_orders()
    assert p.resting_on_venue() == []


async def test_sim_when_fill_happens_while_disconnected_reconcile_publishes_it_once(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    book = await p.session.rest.get_orderbook(RAIN)
    best_ask = 10_000 - max(price for price, _ in book.no_bids)
    price = best_ask - 100  # the best bid, below every ask: post-only rests
    await p.execute([_bid("mine-1", price, size=500)])
    await p.ctx.wait_for(lambda: p.ctx.of(OrderAccepted))
    p.session.ws.backoff = Backoff(base_s=1.0, max_s=1.0)  # stay away long enough to miss the fill
    connects = p.session.ws.stats.connects
    await p.fault("drop_ws")
    await p.ctx.wait_for(lambda: p.session.status == "reconnecting")

    other_id, other_pem = p.sim.create_api_key()
    other = KalshiSession(
        p.sim.rest_url, p.sim.ws_url, KalshiCredentials.from_pem(other_id, other_pem), LiveClock()
    )
    try:
        sell = CreateOrderRequest(
            ticker=RAIN,
            side=BookSide.ASK,
            price=price,
            count=200,
            client_order_id="taker-1",
            time_in_force="immediate_or_cancel",
            post_only=False,
        )
        placed = await other.rest.create_order(sell)
        assert placed.filled > 0
    finally:
        await other.close()

    await p.ctx.wait_for(lambda: p.session.ws.stats.connects > connects)
    venue_fills = await p.session.rest.all_fills(ticker=RAIN)
    assert venue_fills and sum(f.count for f in venue_fills) >= 200
    await p.ctx.wait_for(
        lambda: {e.trade_id for e in p.ctx.of(OrderFilled)} == {f.trade_id for f in venue_fills}
    )
    published = p.ctx.of(OrderFilled)
    assert all(e.client_order_id == "mine-1" for e in published)
    booked = {e.trade_id: e.count for e in published}  # the runtime books each trade id once
    assert sum(booked.values()) == sum(f.count for f in venue_fills)
    await p.executor.reconcile()  # again: nothing new
    assert {e.trade_id for e in p.ctx.of(OrderFilled)} == set(booked)
    await p.executor.cancel_all()


async def test_sim_when_create_outcome_unknown_and_absent_settles_as_rejected(pipeline: Pipeline) -> None:
    p = pipeline
    # Every response takes longer than the client waits (the simulator drops such requests unprocessed).
    p.session.rest._http.timeout = httpx.Timeout(0.1)
    fast = p.session.rest.fast
    if fast is not None:  # the synchronous order path has its own timeout
        fast.timeout_s = 0.1
    await p.fault("delay", ms=300)
    await p.execute([_bid("unk-1", 1400)])
    await p.executor.flush()
    assert p.executor.describe()["unknown_outcomes"] == 1
    assert not p.ctx.of(OrderAccepted) and not p.ctx.of(OrderRejected)
    await p.fault("clear")
    p.session.rest._http.timeout = httpx.Timeout(5.0)
    if fast is not None:
        fast.timeout_s = 5.0
    rejected = await p.ctx.wait_for(lambda: p.ctx.of(OrderRejected))
    assert (rejected[0].client_order_id, rejected[0].code) == ("unk-1", "not_placed")
    assert p.resting_on_venue() == []
    assert not p.ctx.of(OrderAccepted)


# --- protocol edge cases: fee overrides and the NO ladder's price convention ---------------------


def _terms(ctx: Ctx, ticker: str) -> list[tuple[FeeType, int]]:
    return [(e.info.fee_type, e.info.fee_multiplier_bps) for e in ctx.of(MarketInfoReceived) if e.ticker == ticker]


async def test_sim_when_event_fee_override_set_while_running_feed_applies_it(pipeline: Pipeline) -> None:
    ctx = pipeline.ctx
    assert _terms(ctx, RAIN) == [(FeeType.QUADRATIC, 10_000)]
    event = pipeline.feed.info[RAIN].event_ticker

    await pipeline.fault("set_fee", event_ticker=event, fee_type="quadratic_with_maker_fees", fee_multiplier=0.5)
    await ctx.wait_for(lambda: len(_terms(ctx, RAIN)) == 2)
    assert _terms(ctx, RAIN)[-1] == (FeeType.QUADRATIC_WITH_MAKER_FEES, 5_000)
    assert pipeline.feed.info[RAIN].fee_multiplier_bps == 5_000
    assert _terms(ctx, FED) == [(FeeType.QUADRATIC_WITH_MAKER_FEES, 10_000)]  # another event: untouched

    await pipeline.fault("set_fee", event_ticker=event)  # cleared: the series' terms again
    await ctx.wait_for(lambda: len(_terms(ctx, RAIN)) == 3)
    assert _terms(ctx, RAIN)[-1] == (FeeType.QUADRATIC, 10_000)


async def test_sim_when_feed_starts_after_a_fee_override_reads_it_from_the_event(pipeline: Pipeline) -> None:
    event = pipeline.feed.info[FED].event_ticker
    await pipeline.fault("set_fee", event_ticker=event, fee_multiplier=2)
    ctx = Ctx((FED,))
    feed = KalshiFeed(pipeline.session)
    task = asyncio.create_task(feed.run(ctx))
    try:
        await ctx.wait_for(lambda: _terms(ctx, FED))
    finally:
        task.cancel()
    # the series' fee type, the event's multiplier
    assert _terms(ctx, FED) == [(FeeType.QUADRATIC_WITH_MAKER_FEES, 20_000)]


@pytest.mark.parametrize("use_yes_price", [True, False], ids=["yes-leg", "no-leg"])
async def test_sim_when_book_subscribed_either_way_feed_book_equals_the_venues(use_yes_price: bool) -> None:
    async with start_simulator(seed=7) as sim:
        async with httpx.AsyncClient() as client:  # synthetic traders stop: the book stays put
            (await client.post(sim.admin_url + "/time", json={"freeze": True})).raise_for_status()
        key_id, pem = sim.create_api_key()
        session = KalshiSession(
            sim.rest_url, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), LiveClock(),
            use_yes_price=use_yes_price,
        )
        await session.open()
        ctx = Ctx((RAIN,))
        task = asyncio.create_task(KalshiFeed(session).run(ctx))
        try:
            snapshot = await ctx.wait_for(lambda: ctx.of(BookSnapshotReceived))
            venue = sim.exchange.orderbook(RAIN)
            assert venue.no and venue.yes
            assert sorted(snapshot[0].no_bids) == sorted(venue.no)  # NO-leg prices either way
            assert sorted(snapshot[0].yes_bids) == sorted(venue.yes)
        finally:
            task.cancel()
            await session.close()
