"""The control plane's parts on their own: auth, the latency histogram, quote up-time, close prices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.api import BookSide, OrderStatus, TestClock, WorkingOrder
from mmframe.control.auth import BearerAuth, ControlConfigError, check_bind, is_loopback, resolve_token
from mmframe.control.flatten import close_price
from mmframe.control.monitor import LatencyHistogram, QuoteUptime
from mmframe.domain.ledger import Position
from mmframe.runtime.market_state import MarketState


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False),
])
def test_is_loopback_when_host_given_tells_local_only_binds(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_check_bind_when_public_without_token_refuses_with_what_to_do() -> None:
    with pytest.raises(ControlConfigError, match=r"set control\.token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "t")
    check_bind("127.0.0.1", None)


def test_resolve_token_when_config_blank_falls_back_to_the_environment() -> None:
    assert resolve_token("cfg", {"MMFRAME_CONTROL_TOKEN": "env"}) == "cfg"
    assert resolve_token(None, {"MMFRAME_CONTROL_TOKEN": "env"}) == "env"
    assert resolve_token(None, {"MMFRAME_CONTROL_TOKEN": "  "}) is None
    assert resolve_token(None, {}) is None


@pytest.mark.parametrize(("header", "status"), [
    (None, 401), ("", 401), ("Bearer", 401), ("Bearer wrong", 401), ("Basic s3cret", 401), ("bearer s3cret", None),
    ("Bearer s3cret", None), ("Bearer  s3cret ", None),
])
def test_bearer_auth_when_header_given_accepts_only_the_token(header: str | None, status: int | None) -> None:
    denied = BearerAuth("s3cret").check(header)
    assert (denied.status if denied else None) == status
    if denied is not None:
        assert "s3cret" not in denied.reason


def test_bearer_auth_when_no_token_configured_refuses_everything_with_403() -> None:
    denied = BearerAuth(None).check("Bearer anything")
    assert denied is not None and denied.status == 403


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=1, max_value=2_000_000_000), max_size=30), max_size=20),
       st.integers(min_value=1, max_value=25))
def test_latency_histogram_when_owner_trims_samples_counts_each_exactly_once(
    batches: list[list[int]], keep: int
) -> None:
    samples: list[int] = []
    dropped = 0
    histogram = LatencyHistogram()
    everything: list[int] = []
    for batch in batches:
        samples.extend(batch)
        everything.extend(batch)
        histogram.consume(samples, dropped)  # a scrape
        excess = len(samples) - keep  # the engine's housekeeping trim
        if excess > 0:
            dropped += excess
            del samples[:excess]
    histogram.consume(samples, dropped)
    assert histogram.count == len(everything) and histogram.sum_ns == sum(everything)
    cumulative = histogram.cumulative()
    assert cumulative[-1] == ("+Inf", len(everything))
    for (bound, count) in cumulative[:-1]:
        assert count == sum(1 for s in everything if s <= float(bound) * 1e9 + 0.5)


def test_quote_uptime_when_two_sided_part_of_the_time_reports_that_share_exactly() -> None:
    clock = TestClock()
    orders: list[WorkingOrder] = []
    uptime = QuoteUptime(clock.monotonic_ns, lambda ticker: orders)
    uptime.track("M")
    clock.advance(1)
    orders.append(WorkingOrder("b", "M", BookSide.BID, 4500, 100, OrderStatus.RESTING))
    uptime.changed("M")
    clock.advance(1)
    orders.append(WorkingOrder("a", "M", BookSide.ASK, 5500, 100, OrderStatus.RESTING))
    uptime.changed("M")
    clock.advance(3)  # two-sided for 3 s
    orders[1].status = OrderStatus.PENDING_NEW
    uptime.changed("M")
    clock.advance(3)
    uptime.flush()
    assert uptime.ratio("M") == 3 / 8


def _market(yes_bids: tuple[tuple[int, int], ...], no_bids: tuple[tuple[int, int], ...]) -> MarketState:
    state = MarketState("M", Position("M"), lambda: 0, lambda ticker: [])
    state.book.apply_snapshot(yes_bids, no_bids)
    return state


def test_close_price_when_selling_goes_down_to_the_slippage_bound_on_the_grid() -> None:
    market = _market(((4500, 100),), ((5000, 100),))
    assert close_price(market, BookSide.ASK, 250) == 4300  # 0.45 - 0.025 = 0.425, rounded up to the cent
    assert close_price(market, BookSide.BID, 250) == 5200  # 0.50 + 0.025 = 0.525, rounded down
    assert close_price(market, BookSide.ASK, 10_000) == 100  # never below the grid's lowest price


def test_close_price_when_no_one_to_trade_with_says_why() -> None:
    assert close_price(_market((), ((5000, 100),)), BookSide.ASK, 500) == "no bid to sell into"
    assert close_price(_market(((4500, 100),), ()), BookSide.BID, 500) == "no ask to buy from"
    invalid = _market(((4500, 100),), ((5000, 100),))
    invalid.book.invalidate()
    assert close_price(invalid, BookSide.ASK, 500) == "book not valid (waiting for a snapshot)"


def test_resolve_token_when_only_a_token_file_is_named_reads_it(tmp_path: Path) -> None:
    secret = tmp_path / "control-token"
    secret.write_text("file-token-123\n", encoding="utf-8")
    assert resolve_token(None, {"MMFRAME_CONTROL_TOKEN_FILE": str(secret)}) == "file-token-123"
    # the variable wins over the file, the configured value over both
    assert resolve_token(None, {"MMFRAME_CONTROL_TOKEN": "env", "MMFRAME_CONTROL_TOKEN_FILE": str(secret)}) == "env"
    assert resolve_token("cfg", {"MMFRAME_CONTROL_TOKEN_FILE": str(secret)}) == "cfg"


def test_resolve_token_when_token_file_missing_says_which_variable_and_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ControlConfigError, match=r"MMFRAME_CONTROL_TOKEN_FILE \(.*nope\): No such file"):
        resolve_token(None, {"MMFRAME_CONTROL_TOKEN_FILE": str(missing)})


def _verdict(ts: int, ticker: str, rule: str, reason: str) -> Any:
    from mmframe.api import Quote, RiskVerdictIssued, Verdict

    return RiskVerdictIssued(ts_ns=ts, ticker=ticker, rule=rule, verdict=Verdict.adjust(Quote.empty(ticker), reason))


def test_verdict_groups_when_a_rule_repeats_folds_by_market_rule_and_kind_keeping_the_latest_reason() -> None:
    from mmframe.control.monitor import VerdictGroups

    groups = VerdictGroups(limit=2)
    groups.add(_verdict(1, "A", "max-position", "at 10"))
    groups.add(_verdict(2, "B", "max-position", "at 3"))
    groups.add(_verdict(3, "A", "max-position", "at 11"))
    [a, b] = groups.latest(5)
    assert (a.ticker, a.count, a.first_ns, a.last_ns, a.reason) == ("A", 2, 1, 3, "at 11")
    assert (b.ticker, b.count) == ("B", 1)
    groups.add(_verdict(4, "C", "price-band", "far"))  # over the limit: the least recently seen goes
    assert [g.ticker for g in groups.latest(5)] == ["C", "A"]
