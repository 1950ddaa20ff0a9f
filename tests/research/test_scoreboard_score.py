"""`bench.trading.score`: the scoreboard's split of a run's PnL, on a hand-made truth record."""

from __future__ import annotations

from typing import Any

import pytest

from bench.trading import interval, score, t95

S = 1_000_000_000
START = 1_000 * S
ME = "me"


def _fill(ts_s: float, side: str, price: str, count: str, fair: float, cp: str = "sim-noise",
          cls: str = "noise", ticker: str = "M") -> dict[str, Any]:
    return {"ticker": ticker, "ts_ns": START + int(ts_s * S), "side": side, "yes_price_dollars": price,
            "count_fp": count, "fair_value": fair, "counterparty": cp, "counterparty_class": cls,
            "user_id": ME}


def _truth(fills: list[dict[str, Any]], *, series: list[list[float]], result: str = "",
           close_s: float | None = None, fees: str = "0.10", news: list[dict[str, Any]] | None = None,
           rejects: list[dict[str, Any]] | None = None, duration_s: int = 600) -> dict[str, Any]:
    return {
        "time_ns": START + duration_s * S,
        "accounts": [ME],
        "fills": fills,
        "fair": {"series": {"M": series}, "news": news or []},
        "markets": [{"ticker": "M", "status": "settled" if result else "active", "result": result,
                     "open_ts_ns": START, "close_ts_ns": None if close_s is None else START + int(close_s * S)}],
        "orders": {ME: [
            {"ticker": "M", "side": "bid", "price": 4000, "status": "canceled", "created_ns": START,
             "last_update_ns": START + 300 * S},
            {"ticker": "M", "side": "ask", "price": 6000, "status": "resting", "created_ns": START + 150 * S,
             "last_update_ns": START + 150 * S},
        ]},
        "positions": [{"user_id": ME, "ticker": "M", "fees_charged_dollars": fees},
                      {"user_id": "sim-noise", "ticker": "M", "fees_charged_dollars": "9.00"}],
        "rejects": rejects or [],
    }


def test_score_when_the_position_is_open_marks_it_at_the_last_fair_value() -> None:
    # fair 0.50 until t=100 s, then 0.45; we buy 10 at 0.48 at t=10 s, sell 4 at 0.47 at t=200 s
    series = [[START, 0.50], [START + 100 * S, 0.45]]
    fills = [_fill(10, "bid", "0.4800", "10.00", 0.50), _fill(200, "ask", "0.4700", "4.00", 0.45)]
    r = score(_truth(fills, series=series), 600)
    assert r.contracts == 14
    assert r.spread == pytest.approx(10 * (0.50 - 0.48) - 4 * (0.45 - 0.47))  # 0.20 + 0.08
    assert r.adverse == pytest.approx(10 * (0.50 - 0.50) - 4 * (0.45 - 0.45))  # fair at +60 s unchanged
    assert r.inventory == pytest.approx(10 * (0.45 - 0.50) - 4 * (0.45 - 0.45))
    assert r.settlement == 0
    assert r.fees == pytest.approx(0.10)  # ours only, from the exchange
    # net = realised + open position at fair: cash −4.80 + 1.88, 6 contracts at 0.45, − fees
    assert r.net == pytest.approx(-4.80 + 1.88 + 6 * 0.45 - 0.10)
    # uptime: both sides rested from 150 s to 300 s of the 600 s run
    assert r.uptime == pytest.approx(150 / 600)


def test_score_when_the_market_settles_counts_the_outcome_against_its_last_fair_value() -> None:
    series = [[START, 0.60], [START + 300 * S, 1.0]]  # the outcome published at the close
    fills = [_fill(10, "bid", "0.5500", "10.00", 0.60)]
    r = score(_truth(fills, series=series, result="yes", close_s=300, fees="0"), 600)
    assert r.spread == pytest.approx(0.50)
    assert r.inventory == pytest.approx(0.0)
    assert r.settlement == pytest.approx(10 * (1.0 - 0.60))
    assert r.net == pytest.approx(10 * (1.0 - 0.55))


def test_score_when_news_sweepers_take_us_counts_them_per_jump_and_post_only_rejects() -> None:
    series = [[START, 0.50], [START + 50 * S, 0.60]]
    fills = [_fill(50.2, "ask", "0.5200", "10.00", 0.60, cp="sim-news", cls="informed")]
    news = [{"ticker": "M", "ts_ns": START + 50 * S, "before": 0.5, "after": 0.6},
            {"ticker": "OTHER", "ts_ns": START + 60 * S, "before": 0.5, "after": 0.6}]
    rejects = [{"user_id": ME, "action": "amend", "code": "invalid_order", "details": "post only cross", "count": 3},
               {"user_id": ME, "action": "create", "code": "invalid_order", "details": "status executed", "count": 2},
               {"user_id": "else", "action": "create", "code": "invalid_order", "details": "post only cross", "count": 7}]
    r = score(_truth(fills, series=series, news=news, rejects=rejects), 600)
    assert r.jumps == 1  # only the jump in a market we quoted
    assert r.picked_contracts == 10
    assert r.picked_dollars == pytest.approx(-10 * (0.60 - 0.52))
    assert r.markout_num[("informed", 1)] == pytest.approx(-10 * (0.60 - 0.52))
    assert (r.rejects, r.po_cross) == (5, 3)


def test_interval_when_given_seeds_uses_student_t() -> None:
    mean, lo, hi = interval([1.0, 2.0, 3.0])
    assert mean - lo == pytest.approx(hi - mean)
    assert mean == 2.0
    assert hi - mean == pytest.approx(t95(2) * 1.0 / 3**0.5)
    assert interval([5.0]) == (5.0, 5.0, 5.0)
    assert t95(100) == 1.96
