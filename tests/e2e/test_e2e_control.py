"""Issue 6's must-shows on the simulator: the control plane of a running pipeline, over real sockets.

Each test loads pipelines/symmetric.yaml pointed at the in-process simulator, starts the control
plane the way ``mmframe run`` does (``build_engine(..., control=serve_control)``) on a free loopback
port with a bearer token, and drives it with httpx; the simulator's ground truth (``/_sim/truth``)
judges what happened to our orders and positions. A second simulator account, with the independent
test client, trades against our quotes when a test needs a position.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mmframe.api import format_count, format_price, parse_count, parse_price
from mmframe.control import serve_control
from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from tests.e2e.harness import (
    MARKETS,
    SYMMETRIC,
    Account,
    Admin,
    Daemon,
    new_account,
    until,
    until_async,
    venue_overrides,
)
from tests.sim.kalshi_test_client import KalshiTestClient

pytestmark = pytest.mark.anyio

TOKEN = secrets.token_urlsafe(24)
MUTATIONS = ("/pause", "/resume", "/flatten", "/params")
DAILY_LOSS_RULE = 6
"""Index of ``daily-loss`` in symmetric.yaml's ``risk:`` list (for ``--set risk.5.with...``)."""


# --- running a pipeline with its control plane --------------------------------------------------


@asynccontextmanager
async def controlled(
    sim: Any, account: Account, overrides: Sequence[str] = ()
) -> AsyncIterator[tuple[Daemon, httpx.AsyncClient]]:
    """symmetric.yaml on ``sim`` as ``account`` with its control plane on a free port; yields the daemon
    and an HTTP client on the control plane. The engine is stopped (orders cancelled) on exit."""
    registry = load_registry()
    control = ["control.enabled=true", "control.port=0", f"control.token={TOKEN}"]
    pipeline = load_pipeline(SYMMETRIC, registry, [*venue_overrides(sim, account), *control, *overrides])
    serve = functools.partial(serve_control, config=pipeline.control)
    engine = build_engine(pipeline, registry, control=serve)
    task = asyncio.create_task(engine.run(None), name="e2e-control-engine")
    running = Daemon(engine, task)
    try:
        await until(lambda: engine.control_url or task.done(), what="the control plane to listen")
        if task.done():
            raise AssertionError(f"the engine stopped at startup: {engine.error} ({engine.stop_reason})")
        assert engine.control_url is not None and engine.control_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=engine.control_url, timeout=15) as client:
            yield running, client
    finally:
        if not task.done():
            await running.stop()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- ground truth -------------------------------------------------------------------------------


async def quoting_everywhere(admin: Admin, user_id: str) -> bool:
    """A bid and an ask of ours rest on the simulator in every market."""
    sides = {(o["ticker"], o["book_side"]) for o in await admin.resting(user_id)}
    return sides == {(t, s) for t in MARKETS for s in ("bid", "ask")}


async def nothing_resting(admin: Admin, user_id: str) -> bool:
    return not await admin.resting(user_id)


async def holds(predicate: Callable[[], Awaitable[bool]], *, seconds: float, what: str) -> None:
    """Poll ``predicate`` for ``seconds``; fail the moment it is false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await predicate(), f"{what} stopped holding"
        await asyncio.sleep(0.05)


def taker_client(sim: Any, account: Account) -> KalshiTestClient:
    return KalshiTestClient(sim.rest_url, sim.ws_url, account.key_id, account.key_path.read_bytes())


async def trade_against_our_quote(
    d: Daemon, admin: Admin, taker: KalshiTestClient, user_id: str, ticker: str, side: str
) -> int:
    """Hit our resting ``side`` ("bid": sell into it, "ask": buy from it) on ``ticker`` with the taker's
    IOC order, sized to clear everything ahead of and at our price; returns our new position there."""
    before = d.engine.core.ledger.position(ticker).position

    async def filled() -> bool:
        if d.engine.core.ledger.position(ticker).position != before:
            return True
        book = [o for o in (await admin.truth())["resting_orders"] if o["ticker"] == ticker and o["book_side"] == side]
        ours = [o for o in book if o["user_id"] == user_id]
        if not ours:
            return False
        price = parse_price(ours[0]["yes_price_dollars"])
        at_or_better = [
            o for o in book
            if (parse_price(o["yes_price_dollars"]) >= price if side == "bid" else parse_price(o["yes_price_dollars"]) <= price)
        ]
        count = sum(parse_count(o["remaining_count_fp"]) for o in at_or_better)
        order = {
            "ticker": ticker, "side": "ask" if side == "bid" else "bid", "price": format_price(price),
            "count": format_count(count), "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        }
        response = await taker.post("/portfolio/events/orders", json=order)
        assert response.status_code in (200, 201), response.text
        return False

    await until_async(filled, timeout=10, what=f"a fill of our {side} on {ticker}")
    # The ledger follows the venue: wait until both agree on the new position.
    await until_async(
        lambda: _ledger_matches_truth(d, admin, user_id, ticker), what=f"ledger == venue position on {ticker}"
    )
    return d.engine.core.ledger.position(ticker).position


async def _ledger_matches_truth(d: Daemon, admin: Admin, user_id: str, ticker: str) -> bool:
    venue = (await admin.positions(user_id)).get(ticker, 0)
    return bool(venue) and d.engine.core.ledger.position(ticker).position == venue


def secrets_of(account: Account) -> list[str]:
    """What must never appear in a response: the token, the full key id, any line of the private key."""
    pem_lines = [line for line in account.key_path.read_text().splitlines() if line and not line.startswith("-----")]
    return [TOKEN, account.key_id, *pem_lines]


def assert_no_secret(text: str, account: Account) -> None:
    leaked = [i for i, secret in enumerate(secrets_of(account)) if secret in text]
    assert not leaked, f"secret #{leaked[0]} appears in a response body"  # never print the secret itself


# --- every endpoint -----------------------------------------------------------------------------


async def test_control_plane_when_quoting_the_simulator_answers_every_endpoint_without_secrets(
    sim: Any, tmp_path: Path
) -> None:
    account, taker_account = new_account(sim, tmp_path), new_account(sim, tmp_path, name="taker")
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client), taker_client(sim, taker_account) as taker:
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        held = await trade_against_our_quote(d, admin, taker, account.user_id, MARKETS[0], "bid")
        assert held > 0

        async def ready() -> bool:
            return (await client.get("/health")).status_code == 200

        await until_async(ready, what="/health ready")
        responses = {
            path: await client.get(path) for path in ("/health", "/metrics", "/state", "/history", "/openapi.json", "/")
        }

    for path, response in responses.items():
        assert response.status_code == 200, (path, response.text)
        assert_no_secret(response.text, account)

    assert responses["/health"].json() == {"live": True, "ready": True, "state": "active", "reasons": [], "gate": {"state": "open", "reason": "", "blocked": 0}}

    metrics = responses["/metrics"]
    assert metrics.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    assert {
        "mmframe_uptime_seconds", "mmframe_ready", "mmframe_trading_state", "mmframe_pnl_net_dollars",
        "mmframe_pnl_realised_dollars", "mmframe_pnl_unrealised_dollars", "mmframe_fees_dollars",
        "mmframe_position_contracts", "mmframe_fills", "mmframe_filled_contracts", "mmframe_fill_ratio",
        "mmframe_quote_uptime_ratio", "mmframe_order_actions", "mmframe_order_rejects", "mmframe_rate_limited",
        "mmframe_ws_reconnects", "mmframe_book_invalidations", "mmframe_venue_connected",
        "mmframe_event_to_order_latency_seconds",
    } <= set(families)

    def sample(name: str, **labels: str) -> float:
        for s in families[name].samples:
            if s.name in (name, f"{name}_total") and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
        raise AssertionError(f"no sample {name} {labels}")

    assert sample("mmframe_ready") == 1 and sample("mmframe_venue_connected") == 1
    assert sample("mmframe_trading_state", state="active") == 1
    assert sample("mmframe_order_actions", type="create") >= 2 * len(MARKETS)
    assert sample("mmframe_fills", market=MARKETS[0]) >= 1
    for ticker in MARKETS:
        assert 0 <= sample("mmframe_quote_uptime_ratio", market=ticker) <= 1
    assert families["mmframe_event_to_order_latency_seconds"].type == "histogram"

    state = responses["/state"].json()
    assert state["pipeline"] == "symmetric" and state["trading"]["state"] == "active"
    assert state["venue"]["status"] == "connected"
    positions = {p["ticker"]: parse_count(p["position"]) for p in state["positions"] if parse_count(p["position"])}
    assert positions[MARKETS[0]] > 0 and set(positions) <= set(MARKETS)
    assert {o["ticker"] for o in state["working_orders"]} == set(MARKETS)
    for market in state["markets"]:
        assert market["book"]["valid"] is True, market["ticker"]
        assert market["last_quote"]["bids"] and market["last_quote"]["asks"], market["ticker"]
    assert "daily-loss" in state["risk"]["rules"]
    assert state["components"]["strategy"]["params"]["spread"] == 0.04

    history = responses["/history"].json()
    assert isinstance(history["points"], list) and set(history["now"]) >= {"net", "realised", "fees"}
    document = responses["/openapi.json"].json()
    assert set(document["paths"]) >= {"/health", "/metrics", "/state", *MUTATIONS}
    assert responses["/"].headers["content-type"].startswith("text/html")
    assert d.task.result() == 0


# --- pause / resume -----------------------------------------------------------------------------


async def test_pause_when_authorized_on_simulator_leaves_no_resting_order_and_places_none_until_resume(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client):
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        response = await client.post("/pause", headers=auth())
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "paused" and response.json()["orders_left"] == 0
        assert await admin.resting(account.user_id) == []

        creates = d.engine.stats.actions["create"]
        deltas = d.event_count("BookDeltaReceived")

        async def still_paused_and_empty() -> bool:
            d.engine.core.mark_all_dirty()  # every market asks to be requoted: a pause must refuse
            return d.engine.stats.actions["create"] == creates and not await admin.resting(account.user_id)

        await holds(still_paused_and_empty, seconds=2.5, what="no order while paused")
        assert d.event_count("BookDeltaReceived") > deltas, "the market moved while paused (else the check is moot)"
        state = (await client.get("/state")).json()
        assert state["trading"]["state"] == "paused" and state["working_orders"] == []

        resumed = await client.post("/resume", headers=auth())
        assert resumed.status_code == 200
        assert resumed.json() == {"state": "active", "previous": "paused", "resumed": True, "released": []}
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes again after /resume")
        assert d.engine.stats.actions["create"] > creates
    assert d.task.result() == 0


# --- flatten ------------------------------------------------------------------------------------


async def test_flatten_when_holding_positions_on_simulator_leaves_no_order_no_position_and_repeats_harmlessly(
    sim: Any, tmp_path: Path
) -> None:
    account, taker_account = new_account(sim, tmp_path), new_account(sim, tmp_path, name="taker")
    admin = Admin(sim)
    overrides = ["control.flatten_max_slippage=0.20"]
    async with controlled(sim, account, overrides) as (d, client), taker_client(sim, taker_account) as taker:
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        assert await trade_against_our_quote(d, admin, taker, account.user_id, MARKETS[0], "bid") > 0
        assert await trade_against_our_quote(d, admin, taker, account.user_id, MARKETS[1], "ask") < 0

        response = await client.post("/flatten", headers=auth())
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["flat"] is True and report["paused"] is True and report["orders_left"] == 0, json.dumps(report)
        closed = {c["ticker"]: c["side"] for c in report["closes"]}
        assert closed[MARKETS[0]] == "ask" and closed[MARKETS[1]] == "bid"
        assert await admin.resting(account.user_id) == []
        assert await admin.positions(account.user_id) == {}
        assert d.positions() == {}

        creates = d.engine.stats.actions["create"]
        again = await client.post("/flatten", headers=auth())
        assert again.status_code == 200
        repeat = again.json()
        assert (repeat["closes"], repeat["canceled"], repeat["flat"]) == ([], 0, True)
        assert d.engine.stats.actions["create"] == creates
        assert await admin.resting(account.user_id) == []
        assert await admin.positions(account.user_id) == {}
        assert d.engine.core.state == "paused"
    assert d.task.result() == 0


# --- params -------------------------------------------------------------------------------------


def _widths(orders: list[dict[str, Any]]) -> dict[str, int] | None:
    """Ask minus bid of our quote in each market quoted on both sides; None while any market has more
    than one order on a side (a requote under way)."""
    by_market: dict[str, dict[str, list[int]]] = {}
    for o in orders:
        prices = by_market.setdefault(o["ticker"], {}).setdefault(o["book_side"], [])
        prices.append(parse_price(o["yes_price_dollars"]))
    if any(len(prices) > 1 for sides in by_market.values() for prices in sides.values()):
        return None
    return {t: s["ask"][0] - s["bid"][0] for t, s in by_market.items() if set(s) == {"bid", "ask"}}


async def test_params_when_spread_widened_on_simulator_moves_the_resting_prices_apart(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client):
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        before = await until_async(lambda: _widths_everywhere(admin, account.user_id), what="one quote per market")
        assert all(width < 1200 for width in before.values()), before

        response = await client.post("/params", json={"target": "strategy", "params": {"spread": 0.12}}, headers=auth())
        assert response.status_code == 200, response.text
        assert response.json()["params"]["spread"] == 0.12

        seen: list[dict[str, Any]] = []

        async def widened() -> bool:
            seen[:] = await admin.resting(account.user_id)
            widths = _widths(seen)
            # A market near 0 or 1 may lose the side the price band refuses; the others must all widen.
            return widths is not None and len(widths) >= 2 and all(width >= 1200 for width in widths.values())

        try:
            await until_async(widened, what="every resting quote $0.12 wide on the simulator")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_orders_report(d, seen)}") from None
        state = (await client.get("/state")).json()
        assert state["components"]["strategy"]["params"]["spread"] == 0.12
        assert d.engine.core.state == "active"
    assert d.task.result() == 0


def _orders_report(d: Daemon, resting: list[dict[str, Any]]) -> str:
    """Our resting orders on the simulator next to what the engine's tracker says of each (diagnostics)."""
    tracker = d.engine.core.tracker
    lines = []
    for o in sorted(resting, key=lambda o: (o["ticker"], o["book_side"])):
        mine = tracker.get(o["client_order_id"])
        known = "unknown" if mine is None else f"{mine.status.value} {format_price(mine.price)} {mine.client_order_id}"
        lines.append(
            f"{o['ticker']} {o['book_side']} {o['yes_price_dollars']} {o['client_order_id']} "
            f"(venue: remaining {o['remaining_count_fp']}, filled {o['fill_count_fp']}): tracker {known}"
        )
    live = sorted(f"{o.ticker} {o.side.value} {format_price(o.price)} {o.status.value}" for o in tracker.live())
    return "\n".join([*lines, f"tracker live: {live}", f"engine {d.engine.core.state}"])


async def _widths_everywhere(admin: Admin, user_id: str) -> dict[str, int] | None:
    """Our quote's width in every market, once each has exactly one bid and one ask of ours."""
    widths = _widths(await admin.resting(user_id))
    return widths if widths is not None and len(widths) == len(MARKETS) else None


# --- refused requests ---------------------------------------------------------------------------


async def _unchanged(d: Daemon, client: httpx.AsyncClient, admin: Admin, user_id: str) -> None:
    """Still active and quoting everywhere, the strategy's params as the file set them."""
    assert d.engine.core.state == "active"
    assert d.engine.core.strategy.params.spread == 400
    state = (await client.get("/state")).json()
    assert state["trading"]["state"] == "active"
    assert state["components"]["strategy"]["params"]["spread"] == 0.04
    await until_async(lambda: quoting_everywhere(admin, user_id), what="still quoting everywhere")


async def test_mutations_when_token_missing_or_wrong_on_simulator_are_401_and_change_nothing(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client):
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        bodies = {"/params": {"target": "strategy", "params": {"spread": 0.2}}, "/pause": {"reason": "x"}}
        refusals = []
        for path in MUTATIONS:
            for headers in ({}, auth("not-" + TOKEN), {"Authorization": TOKEN}):
                response = await client.post(path, json=bodies.get(path, {}), headers=headers)
                refusals.append((path, response.status_code, response.headers.get("www-authenticate")))
                assert "error" in response.json()
                assert_no_secret(response.text, account)
        assert all(status == 401 and challenge == "Bearer" for _, status, challenge in refusals), refusals
        await _unchanged(d, client, admin, account.user_id)
        assert d.event_count("ParamsUpdated") == 0
    assert d.task.result() == 0


OUT_OF_SCHEMA: list[tuple[dict[str, Any], str]] = [
    ({"target": "strategy", "params": {"spread": "wide"}}, "spread"),  # wrong type
    ({"target": "strategy", "params": {"spread": -0.01}}, "spread"),  # below the minimum
    ({"target": "strategy", "params": {"spread": 0.2, "levels": 50}}, "levels"),  # one bad field spoils the lot
    ({"target": "strategy", "params": {"size_increment": 5}}, "cannot change at run time"),
    ({"target": "daily-loss", "params": {"max_loss": -1}}, "max_loss"),
    ({"target": "strategy", "params": {}}, "non-empty"),
]


async def test_params_when_out_of_schema_on_simulator_are_400_with_the_reason_and_change_nothing(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client):
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        for body, fragment in OUT_OF_SCHEMA:
            response = await client.post("/params", content=json.dumps(body), headers=auth())
            assert response.status_code == 400, (body, response.text)
            assert fragment in response.json()["error"], (body, response.text)
        await _unchanged(d, client, admin, account.user_id)
        assert d.engine.core.rules[DAILY_LOSS_RULE].rule.params.max_loss == 2_500_000
        assert d.event_count("ParamsUpdated") == 0
    assert d.task.result() == 0


async def test_mutations_when_json_malformed_on_simulator_are_400_with_the_reason_and_change_nothing(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with controlled(sim, account) as (d, client):
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        for path in MUTATIONS:
            response = await client.post(path, content=b'{"target": "strategy",', headers=auth())
            assert response.status_code == 400, (path, response.text)
            assert response.json()["error"].startswith("malformed JSON"), path
        await _unchanged(d, client, admin, account.user_id)
    assert d.task.result() == 0


# --- restart after losses -----------------------------------------------------------------------


async def test_daily_loss_when_restarted_on_simulator_after_losses_halts_from_the_journal_and_places_nothing(
    sim: Any, tmp_path: Path
) -> None:
    account, taker_account = new_account(sim, tmp_path), new_account(sim, tmp_path, name="taker")
    admin = Admin(sim)
    journal = [f"sinks=[{{use: journal, with: {{path: {tmp_path / 'journal.sqlite'}}}}}]"]
    # Frozen: no synthetic trader re-bids above our buy, so selling the position back loses for sure.
    async with httpx.AsyncClient() as http:
        (await http.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
    flatten = ["control.flatten_max_slippage=0.30"]
    async with controlled(sim, account, [*journal, *flatten]) as (first, client), taker_client(
        sim, taker_account
    ) as taker:
        await until_async(lambda: quoting_everywhere(admin, account.user_id), what="quotes in every market")
        assert await trade_against_our_quote(first, admin, taker, account.user_id, MARKETS[0], "bid") > 0
        report = (await client.post("/flatten", headers=auth())).json()
        assert report["flat"] is True, report
        loss = -first.engine.core.portfolio.net_pnl()
        assert loss > 0, "selling below our buy price must lose"
    assert first.task.result() == 0
    assert await admin.positions(account.user_id) == {}

    async with httpx.AsyncClient() as http:
        (await http.post(f"{admin.url}/time", json={"resume": True})).raise_for_status()
    # The same limit would not have halted the first run; half the loss must halt the second at once.
    limit = [f"risk.{DAILY_LOSS_RULE}.with.max_loss={format_price(max(loss // 2, 1))}"]
    async with controlled(sim, account, [*journal, *limit]) as (second, client):
        assert second.engine.core.portfolio.day_start_pnl == -loss
        await until(lambda: second.engine.core.state == "halted", what="the daily-loss halt")
        assert "daily-loss" in second.engine.core.halt_reason
        health = await client.get("/health")
        assert health.status_code == 503 and any("daily-loss" in r for r in health.json()["reasons"])
        state = (await client.get("/state")).json()
        assert state["pnl"]["day_start"] == format_price(-loss)

        async def nothing_placed() -> bool:
            second.engine.core.mark_all_dirty()
            return second.engine.stats.actions["create"] == 0 and await nothing_resting(admin, account.user_id)

        await holds(nothing_placed, seconds=2.0, what="no order past the daily loss")
    assert second.task.result() == 0
