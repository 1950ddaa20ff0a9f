"""A plugin that raises at run time: named and located in the log, its market quarantined (orders
pulled, a `MarketQuarantined` the alerts sink turns into an alert), the other markets quoting; or,
with ``runtime.plugin_errors: stop``, a `PluginFault` naming it. On exact clocks, no venue."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from mmframe_sinks.alerting.rules import AlertRules, RuleConfig

from mmframe.api import (
    BookSnapshotReceived,
    CancelOrder,
    CreateOrder,
    Event,
    Level,
    MarketQuarantined,
    MarketView,
    OrderAccepted,
    OrderFilled,
    PortfolioView,
    Quote,
    TestClock,
    TradingHalted,
    Verdict,
)
from mmframe.domain.plugin_policy import PluginErrorPolicy
from mmframe.domain.quote import BookSide
from mmframe.runtime.plugin_faults import PluginFault, describe_fault, plugin_location
from mmframe.runtime.quoting import NamedRule, QuotingCore

RAISE_LINE = 0
"""Set below: the line of the ``raise`` in `Flaky.quote`, the location the log must name."""


class Flaky:
    """Quotes 0.45/0.55 everywhere; raises in ``bad`` markets once ``armed``."""

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad
        self.armed = False

    def quote(self, market: MarketView) -> Quote:
        if self.armed and market.ticker in self.bad:
            raise ZeroDivisionError("division by zero")  # RAISE_LINE
        return Quote(market.ticker, (Level(4_500, 100),), (Level(5_500, 100),))

    def on_fill(self, fill: OrderFilled, market: MarketView) -> None:
        if market.ticker in self.bad:
            raise KeyError(market.ticker)

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


RAISE_LINE = next(i for i, line in enumerate(Path(__file__).read_text(encoding="utf-8").splitlines(), 1)
                  if line.endswith("# RAISE_LINE"))


class ObserveFails:
    """A risk rule that passes every quote and cannot observe fills."""

    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        return Verdict.passed()

    def observe(self, event: Event) -> None:
        if isinstance(event, OrderFilled):
            raise RuntimeError("counter overflow")

    def update_params(self, params: Mapping[str, Any]) -> None:
        return None


class CheckFails(ObserveFails):
    def check(self, quote: Quote, market: MarketView, portfolio: PortfolioView) -> Verdict:
        raise ValueError(f"no limit for {market.ticker}")

    def observe(self, event: Event) -> None:
        return None


def _core(strategy: Any, rules: list[NamedRule] | None = None, policy: str = "quarantine",
          emitted: list[Event] | None = None) -> QuotingCore:
    clock = TestClock()
    core = QuotingCore(strategy=strategy, rules=rules or [], now_ns=clock.now_ns, monotonic_ns=clock.monotonic_ns,
                       emit=(emitted if emitted is not None else []).append, strategy_name="flaky",
                       plugin_errors=PluginErrorPolicy(policy))
    for ticker in ("A", "B"):
        core.market(ticker)
        core.apply(BookSnapshotReceived(ts_ns=0, ticker=ticker, yes_bids=((4_800, 1_000),), no_bids=((4_800, 1_000),)))
    return core


def _rest(core: QuotingCore, ticker: str) -> None:
    """Quote ``ticker`` and have the venue accept every create."""
    for action in core.requote(ticker):
        if isinstance(action, CreateOrder):
            core.apply(OrderAccepted(ts_ns=0, client_order_id=action.client_order_id, ticker=ticker,
                                     order_id=f"o-{action.client_order_id}", remaining=action.size))


def test_strategy_when_quote_raises_quarantines_its_market_pulls_its_orders_and_names_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    strategy = Flaky({"A"})
    emitted: list[Event] = []
    core = _core(strategy, emitted=emitted)
    _rest(core, "A")
    _rest(core, "B")
    strategy.armed = True

    with caplog.at_level(logging.ERROR):
        actions = core.requote("A")

    assert sorted(type(a).__name__ for a in actions) == ["CancelOrder", "CancelOrder"]  # both sides pulled
    assert {a.ticker for a in actions} == {"A"}
    assert "A" in core.rejects.quarantined and "B" not in core.rejects.quarantined
    quarantined = [e for e in emitted if isinstance(e, MarketQuarantined)]
    assert [q.ticker for q in quarantined] == ["A"]
    where = f"{__file__}:{RAISE_LINE}"
    assert quarantined[0].reason == (
        f"plugin error: strategy 'flaky' raised in quote(): ZeroDivisionError: division by zero at {where}")
    assert f"plugin error (A): strategy 'flaky' raised in quote(): ZeroDivisionError: division by zero at {where}" in [
        r.getMessage() for r in caplog.records]
    # The alerts sink's own rules turn it into an alert naming the plugin.
    alerts = AlertRules(RuleConfig()).alerts(quarantined)
    assert [a.kind for a in alerts] == ["quarantine"] and "strategy 'flaky'" in alerts[0].message
    # Later passes: A stays pulled (no create), B keeps its quote; the strategy is not called for A.
    assert core.requote("A") == []
    assert core.plan("B") == []  # B's orders still match its quote: nothing to change
    assert core.plugin_faults == 1


def test_strategy_when_quote_raises_under_stop_policy_raises_plugin_fault_naming_it() -> None:
    strategy = Flaky({"A"})
    core = _core(strategy, policy="stop")
    strategy.armed = True
    with pytest.raises(PluginFault, match=r"strategy 'flaky' raised in quote\(\): ZeroDivisionError") as raised:
        core.requote("A")
    assert f"{__file__}:{RAISE_LINE}" in str(raised.value)
    assert "runtime.plugin_errors" in PluginFault.advice


def test_strategy_when_on_fill_raises_books_the_fill_and_quarantines_the_market() -> None:
    core = _core(Flaky({"A"}))
    fill = OrderFilled(ts_ns=0, client_order_id="x", ticker="A", order_id="o", trade_id="t1", side=BookSide.BID,
                       price=4_500, count=100, fee=0, is_taker=False)
    assert core.apply(fill)
    assert core.ledger.positions["A"].position == 100  # money first: booked whatever the plugin does
    assert "A" in core.rejects.quarantined


def test_risk_rule_when_check_raises_quarantines_only_that_market() -> None:
    core = _core(Flaky(set()), rules=[NamedRule("limits", CheckFails())])
    assert core.requote("A") == []
    assert set(core.rejects.quarantined) == {"A"}


def test_risk_rule_when_observe_raises_on_a_market_event_quarantines_that_market() -> None:
    core = _core(Flaky(set()), rules=[NamedRule("counter", ObserveFails())])
    core.apply(OrderFilled(ts_ns=0, client_order_id="x", ticker="B", order_id="o", trade_id="t1", side=BookSide.ASK,
                           price=5_500, count=100, fee=0, is_taker=False))
    assert set(core.rejects.quarantined) == {"B"}
    assert core.ledger.positions["B"].position == -100


def test_risk_rule_when_observe_raises_on_an_event_of_no_market_halts() -> None:
    class FailsOnEverything(ObserveFails):
        def observe(self, event: Event) -> None:
            raise RuntimeError("bad state")

    emitted: list[Event] = []
    core = _core(Flaky(set()), rules=[NamedRule("counter", FailsOnEverything())], emitted=emitted)
    core.apply(TradingHalted(ts_ns=0, reason="x"))  # an event of no market
    assert core.state == "halted"
    assert "risk rule 'counter' raised in observe()" in core.halt_reason


def test_plugin_location_when_raised_in_a_library_names_the_plugins_own_line() -> None:
    class UsesLibrary:
        def quote(self) -> None:
            int("not a number")  # the ValueError is raised inside int(); the plugin's line is this one

    try:
        UsesLibrary().quote()
    except ValueError as exc:
        where = plugin_location(exc, UsesLibrary())
        text = describe_fault("strategy", "lib", "quote()", exc, UsesLibrary())
    assert where.startswith(f"{__file__}:")
    assert text.startswith("strategy 'lib' raised in quote(): ValueError: invalid literal")


def test_cancel_actions_when_quarantined_still_go() -> None:
    strategy = Flaky({"A"})
    core = _core(strategy)
    _rest(core, "A")
    strategy.armed = True
    pulled = core.requote("A")
    assert all(isinstance(a, CancelOrder) for a in pulled) and len(pulled) == 2


def test_risk_rule_when_observe_fails_on_every_event_logs_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = _core(Flaky(set()), rules=[NamedRule("counter", ObserveFails())])
    fill = OrderFilled(ts_ns=0, client_order_id="x", ticker="B", order_id="o", trade_id="", side=BookSide.ASK,
                       price=5_500, count=1, fee=0, is_taker=False)
    with caplog.at_level(logging.ERROR, logger="mmframe.quoting"):
        for _ in range(100):
            core.apply(fill)
    lines = [r for r in caplog.records if r.getMessage().startswith("plugin error (B)")]
    assert len(lines) == 1 and core.plugin_faults == 100
