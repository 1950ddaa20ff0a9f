"""The ``paper`` venue's parts against the simulator over real sockets: the read-only session that
cannot write, the simulator's read-only keys, the paper executor's local fills, and the pipeline
forms (and refusals) of ``venue: {paper: ...}``."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import PermissionDeniedError
from mmframe_kalshi.paper import PaperExecutor, PaperVenue
from mmframe_kalshi.readonly import ReadOnlyViolation
from mmframe_kalshi.rest import CreateOrderRequest
from mmframe_kalshi.session import KalshiSession

from mmframe.api import (
    BookSide,
    BookSnapshotReceived,
    BurstContext,
    ComponentContext,
    CreateOrder,
    Event,
    FeeType,
    LiveClock,
    MarketInfo,
    MarketInfoReceived,
    OrderAccepted,
    OrderFilled,
    PipelineError,
    TradeReported,
    load_pipeline,
    trade_fee,
)
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine, check_pipeline

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator
pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "pipelines" / "paper.yaml"
RAIN = "SIM-RAIN-NYC"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with start_simulator(seed=11) as running:
        yield running


async def _writes(sim: Any) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{sim.admin_url}/requests")).json()
    return list(body["requests"])


# --- the read-only session ------------------------------------------------------------------------


async def test_read_only_session_when_asked_to_write_refuses_before_anything_is_sent(sim: Any) -> None:
    key_id, pem = sim.create_api_key()  # a key that COULD write: the session itself must not
    session = KalshiSession(sim.rest_url, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), LiveClock(),
                            read_only=True)
    async with session:
        markets = await session.rest.list_markets(tickers=[RAIN], limit=1)  # reads work
        assert [m.ticker for m in markets] == [RAIN]
        order = CreateOrderRequest(RAIN, BookSide.BID, 100, 100, "paper-test-1")
        with pytest.raises(ReadOnlyViolation):
            await session.rest.create_order(order)
        with pytest.raises(ReadOnlyViolation):
            await session.rest.batch_cancel_orders([("some-order", RAIN)])
        assert session.rest.read_only is not None and session.rest.read_only.refused == 2
        assert session.rest.fast is None and session.presigner is None
    assert await _writes(sim) == []  # the venue's ground truth: nothing reached it


async def test_sim_read_only_key_when_used_to_write_is_refused_403_and_logged(sim: Any) -> None:
    key_id, pem = sim.create_api_key(read_only=True)
    session = KalshiSession(sim.rest_url, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), LiveClock(),
                            presign=False, fast_order_path=False)
    async with session:
        await session.rest.get_balance()  # reads are allowed
        with pytest.raises(PermissionDeniedError):
            await session.rest.create_order(CreateOrderRequest(RAIN, BookSide.BID, 100, 100, "ro-1"))
    writes = await _writes(sim)
    assert [(w["method"], w["status"]) for w in writes] == [("POST", 403)]


# --- the paper executor ---------------------------------------------------------------------------


class _Ctx:
    """A FeedContext that records what is published."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.clock = LiveClock()
        self.markets = (RAIN,)

    def publish(self, event: Event) -> None:
        self.events.append(event)


def _paper_venue(tmp_path: Path, sim: Any, config: dict[str, Any] | None = None) -> PaperVenue:
    key_id, pem = sim.create_api_key(read_only=True)
    key_path = tmp_path / "ro.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    source = {"rest_url": sim.rest_url, "ws_url": sim.ws_url, "key_id": key_id, "private_key_path": str(key_path)}
    ctx = ComponentContext(pipeline="t", markets=(RAIN,), clock=LiveClock(), logger=logging.getLogger("test"))
    return PaperVenue({"kalshi": source, **(config or {})}, ctx)


async def test_paper_executor_when_the_market_trades_through_our_queue_fills_us_with_fees(
    tmp_path: Path, sim: Any,
) -> None:
    venue = _paper_venue(tmp_path, sim)
    executor = venue.executor()
    assert isinstance(executor, PaperExecutor) and executor.local_account
    ctx = _Ctx()
    await executor.start(ctx)  # type: ignore[arg-type]
    maker_fees = FeeType.QUADRATIC_WITH_MAKER_FEES  # the series charges makers too
    executor.on_market_event(MarketInfoReceived(ts_ns=0, ticker=RAIN, info=MarketInfo(RAIN, fee_type=maker_fees)))
    executor.on_market_event(BookSnapshotReceived(ts_ns=1, ticker=RAIN, yes_bids=((4000, 1000),),
                                                  no_bids=((5500, 1000),)))
    await executor.execute([CreateOrder(client_order_id="c1", ticker=RAIN, side=BookSide.BID, price=4000,
                                        size=500)])
    assert isinstance(ctx.events[0], OrderAccepted)
    # 10 contracts rest ahead of us at 0.40: a trade of 12 there leaves 2 for us
    executor.on_market_event(TradeReported(ts_ns=2, ticker=RAIN, price=4000, count=1200,
                                           taker_side=BookSide.ASK))
    fills = [e for e in ctx.events if isinstance(e, OrderFilled)]
    assert [(f.count, f.price, f.is_taker) for f in fills] == [(200, 4000, False)]
    # Kalshi's maker trade fee, as the venue reports fee_cost; the ledger charges it per order (API.md §9)
    assert fills[0].fee == trade_fee(4000, 200, is_taker=False, fee_type=maker_fees) > 0
    assert fills[0].trade_id.startswith("paper-")  # unique per run, never a venue's
    assert [(o.client_order_id, o.remaining) for o in await executor.open_orders()] == [("c1", 300)]
    await executor.cancel_all()
    assert await executor.open_orders() == []
    assert executor.describe()["fills"] == 1


async def test_paper_feed_context_when_the_feed_reports_account_events_drops_them(tmp_path: Path, sim: Any) -> None:
    from mmframe_kalshi.paper import _PaperFeedContext

    venue = _paper_venue(tmp_path, sim)
    ctx = _Ctx()
    await venue.executor().start(ctx)  # type: ignore[arg-type]
    feed_ctx = _PaperFeedContext(ctx, venue.executor())  # type: ignore[arg-type]
    feed_ctx.publish(OrderFilled(ts_ns=1, client_order_id="x", ticker=RAIN, order_id="o", trade_id="t",
                                 side=BookSide.BID, price=4000, count=100, fee=0, is_taker=False))
    feed_ctx.publish(BookSnapshotReceived(ts_ns=1, ticker=RAIN, yes_bids=((4000, 100),), no_bids=()))
    assert [type(e).__name__ for e in ctx.events] == ["BookSnapshotReceived"]
    assert venue.executor().dropped_account_events == 1
    assert venue.model.books[RAIN].size_at(BookSide.BID, 4000) == 100  # the model saw the market's book


async def test_paper_feed_context_when_the_feed_ends_a_burst_passes_it_on_to_the_runtime(
    tmp_path: Path, sim: Any,
) -> None:
    from mmframe_kalshi.paper import _PaperFeedContext

    class _BurstCtx(_Ctx):
        bursts = 0

        def burst_done(self) -> None:
            self.bursts += 1

    venue = _paper_venue(tmp_path, sim)
    runtime_ctx = _BurstCtx()
    feed_ctx = _PaperFeedContext(runtime_ctx, venue.executor())  # type: ignore[arg-type]
    assert isinstance(feed_ctx, BurstContext)  # the Kalshi feed hands the reader's burst ends to it
    feed_ctx.burst_done()
    assert runtime_ctx.bursts == 1
    _PaperFeedContext(_Ctx(), venue.executor()).burst_done()  # type: ignore[arg-type]  # a context without it: nothing


async def test_paper_venue_when_opened_reads_only_and_meters_writes_with_the_account_limits(
    tmp_path: Path, sim: Any,
) -> None:
    venue = _paper_venue(tmp_path, sim)
    await venue.open()
    try:
        assert venue.markets() == (RAIN,)
        assert venue.describe()["venue"] == "paper"
        assert venue.executor().write_budget.refill_per_second > 0
        assert venue.writes_refused() == 0
    finally:
        await venue.close()
    assert await _writes(sim) == []


# --- pipeline forms and refusals ------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_registry()


def _load(registry: Any, *overrides: str) -> Any:
    return load_pipeline(PAPER, registry, list(overrides))


def test_paper_pipeline_when_shorthand_used_names_the_source_venue(registry: Any) -> None:
    pipeline = _load(registry)
    assert pipeline.venue.name == "paper"
    assert "kalshi" in pipeline.venue.config and pipeline.venue.config["trade_match_ms"] == 500
    overridden = _load(registry, "venue.paper.kalshi.rest_url=http://127.0.0.1:9/trade-api/v2")
    assert overridden.venue.config["kalshi"]["rest_url"] == "http://127.0.0.1:9/trade-api/v2"
    demo = _load(registry, "venue={paper: kalshi-demo}")
    assert set(demo.venue.config) >= {"kalshi-demo"} and "kalshi" not in demo.venue.config


@pytest.mark.parametrize(("override", "message"), [
    ("venue={paper: kalshix}", "unknown key 'kalshix' (did you mean 'kalshi'?)"),
    ("venue={paper: sim}", "unknown key 'sim'"),
    ("venue.paper.kalshi.bogus=1", "unknown key 'bogus'"),
    ("venue.paper.kalshi.ws_url=http://x", "ws_url"),
])
def test_paper_pipeline_when_source_is_not_a_known_kalshi_venue_is_refused(
    registry: Any, override: str, message: str,
) -> None:
    with pytest.raises(PipelineError) as caught:
        _load(registry, override)
    assert message in str(caught.value)


def test_paper_venue_when_it_names_no_source_or_two_is_refused_at_build(
    registry: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KALSHI_API_KEY", "k")
    none = _load(registry, "venue={paper: {fees: true}}")
    with pytest.raises(PipelineError, match="name exactly one venue to take market data from"):
        check_pipeline(none, registry, credentials=False)
    two = _load(registry, "venue.paper.kalshi-demo.key_id=k")
    with pytest.raises(PipelineError, match="got kalshi and kalshi-demo"):
        check_pipeline(two, registry, credentials=False)


def test_paper_venue_when_the_read_key_is_missing_names_the_key(
    registry: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for name in ("KALSHI_API_KEY", "KALSHI_PRIVATE_KEY", "KALSHI_PRIVATE_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PipelineError) as caught:
        check_pipeline(_load(registry), registry)
    text = str(caught.value)
    assert "paper.yaml:" in text and "venue.paper.kalshi.key_id" in text and "venue paper (kalshi)" in text
    missing = _load(registry, "venue.paper.kalshi.key_id=abc",
                    f"venue.paper.kalshi.private_key_path={tmp_path / 'absent.pem'}")
    with pytest.raises(PipelineError, match=r"venue\.paper\.kalshi\.private_key_path"):
        check_pipeline(missing, registry)
    # without credentials (`mmframe check --no-credentials`) the same file is fine
    check_pipeline(_load(registry), registry, credentials=False)


def test_paper_pipeline_when_built_journals_as_mode_paper(registry: Any, tmp_path: Path) -> None:
    pipeline = _load(registry, f"sinks.0.with.path={tmp_path / 'j.sqlite'}")
    engine = build_engine(pipeline, registry, credentials=False)
    journal = engine.parts.sinks[0][1]
    assert journal.mode == "paper"
    assert isinstance(engine.parts.executor, PaperExecutor)
    assert not hasattr(engine.parts.executor, "rest") and not hasattr(engine.parts.executor, "session")
