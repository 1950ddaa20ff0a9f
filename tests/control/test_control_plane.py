"""Every control-plane endpoint against a running engine over a real loopback socket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mmframe.api import BookSide, BookSnapshotReceived, CreateOrder, VenueStatusChanged
from tests.control.harness import TOKEN, auth, build, make_pipeline, quoting_everywhere, running, wait_for
from tests.control.memory_exchange import TICKERS, Exchange

pytestmark = pytest.mark.anyio


def _creates(exchange: Exchange) -> list[CreateOrder]:
    return [a for a in exchange.executed if isinstance(a, CreateOrder)]


# --- reads -----------------------------------------------------------------------------------------


async def test_health_when_running_and_books_valid_is_ready_200(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"live": True, "ready": True, "state": "active", "reasons": [], "gate": {"state": "open", "reason": "", "blocked": 0}}


async def test_health_when_halted_is_503_with_the_reason(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        engine.halt("loss limit hit")
        response = await client.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["live"] is True and body["ready"] is False
        assert body["reasons"] == ["halted: loss limit hit"]


async def test_health_when_venue_reconnecting_is_503_and_names_the_venue(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        exchange.publish(VenueStatusChanged(ts_ns=engine.clock.now_ns(), status="reconnecting"))
        response = await client.get("/health")
        assert response.status_code == 503
        assert "venue reconnecting" in response.json()["reasons"]


async def test_state_when_quoting_shows_positions_orders_quotes_risk_params_venue_and_no_secret(
    exchange: Exchange, registry: Any
) -> None:
    engine = build(make_pipeline(risk=(("daily-loss", {"max_loss": 50}),)), registry)
    async with running(engine) as client:
        bid = next(o for o in engine.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)
        await wait_for(lambda: engine.core.ledger.position("CTL-A").position == 100)
        response = await client.get("/state")

    assert response.status_code == 200
    text = response.text
    assert "must-never-show" not in text and TOKEN not in text
    state = response.json()
    assert state["pipeline"] == "control-test"
    assert state["trading"]["state"] == "active"
    assert state["venue"]["status"] == "connected" and state["venue"]["api_key"] == "***"
    assert state["positions"][0]["ticker"] == "CTL-A" and state["positions"][0]["position"] == "1.00"
    assert {m["ticker"] for m in state["markets"]} == set(TICKERS)
    market_b = next(m for m in state["markets"] if m["ticker"] == "CTL-B")
    assert market_b["last_quote"] == {
        "bids": [{"price": "0.4500", "size": "1.00"}],
        "asks": [{"price": "0.5000", "size": "1.00"}],
    }
    assert {o["ticker"] for o in state["working_orders"]} == set(TICKERS)
    assert state["risk"]["rules"] == ["daily-loss"]
    assert state["components"]["strategy"]["use"] == "mid-quoter"
    assert state["components"]["strategy"]["params"]["spread"] == 0.04
    assert state["components"]["strategy"]["updatable"] == ["size", "spread"]
    assert state["components"]["daily-loss"]["params"]["max_loss"] == 50


async def test_metrics_when_scraped_parse_with_prometheus_parser_and_count_activity(
    exchange: Exchange, registry: Any
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        bid = next(o for o in engine.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id, 40)
        exchange.reject_creates_with = "429"
        exchange.fill(bid.client_order_id)  # the rest: the strategy re-quotes, the exchange throttles
        await wait_for(lambda: engine.stats.rejects > 0)
        exchange.publish(VenueStatusChanged(ts_ns=engine.clock.now_ns(), status="reconnecting"))
        exchange.publish(VenueStatusChanged(ts_ns=engine.clock.now_ns(), status="connected"))
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    def value(name: str, **labels: str) -> float:
        for sample in families[name].samples:
            if sample.name in (name, f"{name}_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        raise AssertionError(f"no sample {name} {labels}")

    assert value("mmframe_order_actions", type="create") >= 4
    assert value("mmframe_fills", market="CTL-A") == 2
    assert value("mmframe_filled_contracts", market="CTL-A") == 1.0
    assert value("mmframe_position_contracts", market="CTL-A") == 1.0
    assert value("mmframe_order_rejects", code="429") >= 1
    assert value("mmframe_rate_limited") >= 1
    assert value("mmframe_ws_reconnects") == 1
    assert value("mmframe_ready") == 1
    assert value("mmframe_trading_state", state="active") == 1
    assert 0 < value("mmframe_fill_ratio") <= 1
    for ticker in TICKERS:
        assert 0 <= value("mmframe_quote_uptime_ratio", market=ticker) <= 1
    assert value("mmframe_quote_uptime_ratio", market="CTL-B") > 0
    latency = families["mmframe_event_to_order_latency_seconds"]
    assert latency.type == "histogram"
    count = next(s.value for s in latency.samples if s.name.endswith("_count"))
    assert count >= 2
    assert {"mmframe_uptime_seconds", "mmframe_pnl_net_dollars", "mmframe_fees_dollars",
            "mmframe_pnl_realised_dollars", "mmframe_pnl_unrealised_dollars", "mmframe_book_invalidations"} <= set(
        families
    )


async def test_openapi_when_fetched_describes_every_endpoint(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine, settle=False) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/health", "/metrics", "/state", "/pause", "/resume", "/flatten", "/params", "/openapi.json", "/"
    }
    assert document["paths"]["/pause"]["post"]["security"] == [{"bearer": []}]


async def test_dashboard_when_fetched_is_one_self_contained_page(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine, settle=False) as client:
        page = await client.get("/")
        script = await client.get("/dashboard.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no external assets


# --- auth ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, auth("wrong-token"), {"Authorization": TOKEN}, {"Authorization": "Basic x"}])
@pytest.mark.parametrize("path", ["/pause", "/resume", "/flatten", "/params"])
async def test_mutation_when_token_missing_or_wrong_is_401_and_nothing_changes(
    exchange: Exchange, registry: Any, path: str, headers: dict[str, str]
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        if path == "/resume":
            engine.pause("test")
            assert await engine.cancel_everything() == 0
        before = (engine.core.state, len(exchange.resting), len(exchange.executed))
        body = {"target": "strategy", "params": {"spread": 0.1}} if path == "/params" else {}
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "error" in response.json()
        assert (engine.core.state, len(exchange.resting), len(exchange.executed)) == before
        assert engine.core.strategy.spread == 400


async def test_mutation_when_no_token_configured_is_403_with_the_reason(
    exchange: Exchange, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MMFRAME_CONTROL_TOKEN", raising=False)
    engine = build(make_pipeline(token=None), registry)
    async with running(engine) as client:
        response = await client.post("/pause", headers=auth())
        assert response.status_code == 403
        assert "no control token configured" in response.json()["error"]
        assert engine.core.state == "active"
        assert (await client.get("/state")).status_code == 200


async def test_token_when_only_in_environment_is_used(
    exchange: Exchange, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMFRAME_CONTROL_TOKEN", "from-the-env")
    engine = build(make_pipeline(token=None), registry)
    async with running(engine) as client:
        assert (await client.post("/pause", headers=auth())).status_code == 401
        assert (await client.post("/pause", headers=auth("from-the-env"))).status_code == 200


async def test_control_when_non_loopback_bind_without_token_refuses_to_start(
    exchange: Exchange, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MMFRAME_CONTROL_TOKEN", raising=False)
    engine = build(make_pipeline(token=None, host="0.0.0.0"), registry)
    code = await engine.run()
    assert code == 1
    assert engine.error is not None and "without a token" in engine.error
    assert exchange.resting == {}, "nothing may rest after a refused start"


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/pause", "/params", "/flatten"])
async def test_mutation_when_json_malformed_is_400_with_the_reason(
    exchange: Exchange, registry: Any, path: str
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        response = await client.post(path, content=b'{"target": "strategy",', headers=auth())
        assert response.status_code == 400
        assert response.json()["error"].startswith("malformed JSON")
        assert engine.core.state == "active"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"target": "strategy", "params": {"spread": 5}}, 400, "spread"),
        ({"target": "strategy", "params": {"spread": "wide"}}, 400, "spread"),
        ({"target": "strategy", "params": {"label": "x"}}, 400, "label cannot change at run time"),
        ({"target": "strategy", "params": {"spread": 0.1, "size": 500}}, 400, "size"),
        ({"target": "nope", "params": {"spread": 0.1}}, 404, "unknown target 'nope'"),
        ({"target": "strategy", "params": {}}, 400, "non-empty"),
        ({"target": "strategy"}, 400, "params must be"),
        ([1, 2], 400, "expected a JSON object"),
        ({"target": "strategy", "params": {"spread": 0.1}, "extra": 1}, 400, "unknown field"),
    ],
)
async def test_params_when_invalid_are_refused_with_the_reason_and_nothing_half_applied(
    exchange: Exchange, registry: Any, body: Any, status: int, fragment: str
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        response = await client.post("/params", content=json.dumps(body), headers=auth())
        assert response.status_code == status
        assert fragment in response.json()["error"]
        strategy = engine.core.strategy
        assert (strategy.spread, strategy.size) == (400, 100)
        state = (await client.get("/state")).json()
        assert state["components"]["strategy"]["params"]["spread"] == 0.04


# --- actions ---------------------------------------------------------------------------------------


async def test_pause_when_authorized_cancels_everything_and_quotes_nothing_until_resume(
    exchange: Exchange, registry: Any
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        response = await client.post("/pause", headers=auth())
        assert response.status_code == 200
        assert response.json()["state"] == "paused" and response.json()["orders_left"] == 0
        assert exchange.resting == {}
        creates = len(_creates(exchange))
        exchange.move_book("CTL-A", 4000, 5500)  # a market move would normally re-quote
        await wait_for(lambda: engine.core.markets["CTL-A"].book.best_bid() == 4000)
        state = (await client.get("/state")).json()
        assert state["trading"]["state"] == "paused" and state["working_orders"] == []
        assert len(_creates(exchange)) == creates and exchange.resting == {}

        response = await client.post("/resume", headers=auth())
        assert response.json() == {"state": "active", "previous": "paused", "resumed": True, "released": []}
        await wait_for(lambda: quoting_everywhere(engine))
        assert len(exchange.resting) == 4


async def test_params_when_valid_change_the_live_quote(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        response = await client.post(
            "/params", json={"target": "strategy", "params": {"spread": 0.1, "size": 2}}, headers=auth()
        )
        assert response.status_code == 200, response.text
        assert response.json()["params"]["spread"] == 0.1

        def requoted() -> bool:
            prices = sorted((o.side.value, o.price, o.remaining) for o in exchange.resting.values() if o.ticker == "CTL-A")
            return prices == [("ask", 5300, 200), ("bid", 4200, 200)]

        await wait_for(requoted)
        state = (await client.get("/state")).json()
        assert state["components"]["strategy"]["params"]["spread"] == 0.1


async def test_params_when_targeting_a_rule_update_that_rule(exchange: Exchange, registry: Any) -> None:
    engine = build(make_pipeline(risk=(("daily-loss", {"max_loss": 50}),)), registry)
    async with running(engine) as client:
        response = await client.post(
            "/params", json={"target": "daily-loss", "params": {"max_loss": 20}}, headers=auth()
        )
        assert response.status_code == 200, response.text
        assert engine.core.rules[0].rule.params.max_loss == 200_000
        bad = await client.post("/params", json={"target": "daily-loss", "params": {"max_loss": -1}}, headers=auth())
        assert bad.status_code == 400 and "max_loss" in bad.json()["error"]
        assert engine.core.rules[0].rule.params.max_loss == 200_000


async def test_flatten_when_holding_positions_leaves_no_orders_no_position_and_stays_paused(
    exchange: Exchange, registry: Any
) -> None:
    engine = build(make_pipeline(flatten_max_slippage=300), registry)
    async with running(engine) as client:
        bid = next(o for o in engine.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        ask = next(o for o in engine.core.tracker.working("CTL-B") if o.side is BookSide.ASK)
        exchange.fill(bid.client_order_id)
        exchange.fill(ask.client_order_id)
        await wait_for(lambda: engine.core.ledger.position("CTL-B").position == -100)

        response = await client.post("/flatten", headers=auth())
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["flat"] is True and report["paused"] is True and report["orders_left"] == 0
        assert report["max_slippage"] == "0.0300"
        closes = {c["ticker"]: c for c in report["closes"]}
        assert closes["CTL-A"]["side"] == "ask" and closes["CTL-A"]["limit_price"] == "0.4200"
        assert closes["CTL-B"]["side"] == "bid" and closes["CTL-B"]["limit_price"] == "0.5300"
        assert exchange.resting == {}
        assert all(exchange.positions[t] == 0 for t in TICKERS)
        iocs = [a for a in _creates(exchange) if a.immediate_or_cancel]
        assert len(iocs) == 2 and all(not a.post_only and a.reduce_only for a in iocs)

        again = (await client.post("/flatten", headers=auth())).json()
        assert again["closes"] == [] and again["canceled"] == 0 and again["flat"] is True
        assert engine.core.state == "paused"
        assert len([a for a in _creates(exchange) if a.immediate_or_cancel]) == 2


async def test_flatten_when_no_bid_to_sell_into_reports_the_position_as_skipped(
    exchange: Exchange, registry: Any
) -> None:
    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        bid = next(o for o in engine.core.tracker.working("CTL-A") if o.side is BookSide.BID)
        exchange.fill(bid.client_order_id)
        exchange.books["CTL-A"] = ((), ((5000, 100),))
        exchange.publish(
            BookSnapshotReceived(ts_ns=engine.clock.now_ns(), ticker="CTL-A", yes_bids=(), no_bids=((5000, 100),))
        )
        await wait_for(lambda: engine.core.markets["CTL-A"].book.best_bid() is None)
        report = (await client.post("/flatten", headers=auth())).json()
        assert report["flat"] is False
        assert report["skipped"] == [{"ticker": "CTL-A", "position": "1.00", "reason": "no bid to sell into"}]
        assert report["positions_after"] == {"CTL-A": "1.00"}
        assert exchange.resting == {}


async def test_quarantine_when_a_market_draws_a_reject_storm_shows_in_state_and_metrics_until_released(
    exchange: Exchange, registry: Any
) -> None:
    from mmframe.api import OrderRejected

    engine = build(make_pipeline(), registry)
    async with running(engine) as client:
        for i in range(5):  # the venue refuses five creates in CTL-A
            exchange.publish(OrderRejected(ts_ns=engine.clock.now_ns(), client_order_id=f"gone-{i}", ticker="CTL-A",
                                           code="invalid_price", message="price is not on the grid"))
        # Quarantined: CTL-A's orders are pulled, the other markets quote on.
        await wait_for(lambda: not [o for o in exchange.resting.values() if o.ticker == "CTL-A"], what="CTL-A pulled")
        state = (await client.get("/state")).json()
        assert set(state["rejects"]["quarantined"]) == {"CTL-A"}
        assert 295 <= state["rejects"]["quarantined"]["CTL-A"] <= 300
        assert "CTL-A" in state["rejects"]["backing_off"] and state["rejects"]["rejects_counted"] == 5
        families = {f.name: f for f in text_string_to_metric_families((await client.get("/metrics")).text)}
        assert families["mmframe_quarantined_markets"].samples[0].value == 1
        assert families["mmframe_quarantines"].samples[0].value == 1
        assert families["mmframe_rejects_counted"].samples[0].value == 5
        assert "mmframe_post_only_dropped" in families and "mmframe_balance_blocked" in families
        assert quoting_everywhere_but(engine, "CTL-A")

        refused = await client.post("/resume", json={"ticker": 7}, headers=auth())
        assert refused.status_code == 400
        response = await client.post("/resume", json={"ticker": "CTL-A", "reason": "fixed the grid"}, headers=auth())
        assert response.json() == {"state": "active", "previous": "active", "resumed": False, "released": ["CTL-A"]}
        await wait_for(lambda: quoting_everywhere(engine), what="CTL-A quoted again")
        state = (await client.get("/state")).json()
        assert state["rejects"]["quarantined"] == {} and state["trading"]["state"] == "active"


def quoting_everywhere_but(engine: Any, ticker: str) -> bool:
    return all(
        {o.side.value for o in engine.core.tracker.working(t) if o.status.value == "resting"} == {"bid", "ask"}
        for t in engine.markets
        if t != ticker
    )
