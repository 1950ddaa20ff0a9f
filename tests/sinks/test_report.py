"""``mmframe report``: PnL, fills, spread captured, inventory and exact markouts from a journal."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import click
import pytest
from click.testing import CliRunner
from mmframe_sinks import register_commands
from mmframe_sinks.journal import JournalSink
from mmframe_sinks.journal_db import NANOS_PER_DAY
from mmframe_sinks.report import ReportError, build_report, parse_since

from mmframe.api import (
    NANOS_PER_SECOND,
    BookSide,
    BookSnapshotReceived,
    OrderFilled,
    PortfolioMarked,
    PositionMark,
    RunStarted,
    RunStopped,
)
from tests.research.browser import needs_browser, open_in_chromium

S = NANOS_PER_SECOND
T0 = 20_000 * NANOS_PER_DAY + 3600 * S


def book(ts: int, ticker: str, yes_bid: int, no_bid: int) -> BookSnapshotReceived:
    return BookSnapshotReceived(ts_ns=ts, ticker=ticker, yes_bids=((yes_bid, 1000),), no_bids=((no_bid, 1000),))


def fill(ts: int, ticker: str, side: BookSide, price: int, count: int, trade: str) -> OrderFilled:
    return OrderFilled(ts_ns=ts, client_order_id=f"c-{trade}", ticker=ticker, order_id=f"o-{trade}", trade_id=trade,
                       side=side, price=price, count=count, fee=10, is_taker=False)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite"
    events = [
        RunStarted(ts_ns=T0, pipeline="p", markets=("M", "N")),
        book(T0, "M", 4800, 5000),  # mid 0.49
        book(T0, "N", 4900, 5000),  # mid 0.495
        fill(T0 + 1, "M", BookSide.BID, 4800, 100, "t1"),  # bought 1 at 0.48, 0.01 under the mid
        book(T0 + 3 * S, "M", 4600, 5200),  # mid 0.47
        book(T0 + 20 * S, "M", 4500, 5300),  # mid 0.46
        book(T0 + 200 * S, "M", 4900, 5100),  # mid 0.49
        book(T0 + 201 * S, "M", 5000, 5000),  # mid 0.50
        fill(T0 + 250 * S, "N", BookSide.ASK, 5000, 200, "t2"),  # sold 2 at 0.50, 0.005 over the mid
        PortfolioMarked(ts_ns=T0 + 400 * S, realised_pnl=0, unrealised_pnl=200 - 100, fees=20, positions=(
            PositionMark("M", 100, 4800, 0, 10, 5000, 200), PositionMark("N", -200, 5000, 0, 10, 4950, -100),
        )),
        RunStopped(ts_ns=T0 + 400 * S, reason="done"),
    ]

    async def main() -> None:
        sink = JournalSink({"path": str(path)}, "p")
        await sink.start()
        await sink.write(events)
        await sink.close()

    anyio.run(main, backend="asyncio")
    return path


def test_report_when_fills_have_later_mids_computes_exact_markouts(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        report = build_report(db, now_ns=T0 + 3600 * S)

    market = {m["ticker"]: m for m in report["by_market"]}
    m = market["M"]["markouts"]
    assert m["5s"] == {"contracts": "1.00", "markout_per_contract": "-0.0100", "mid_move_per_contract": "-0.0200"}
    assert m["30s"] == {"contracts": "1.00", "markout_per_contract": "-0.0200", "mid_move_per_contract": "-0.0300"}
    assert m["300s"] == {"contracts": "1.00", "markout_per_contract": "0.0200", "mid_move_per_contract": "0.0100"}
    n = market["N"]["markouts"]
    assert n["5s"]["markout_per_contract"] == "0.0050" and n["5s"]["mid_move_per_contract"] == "0.0000"
    assert n["300s"]["contracts"] == "0.00", "a horizon past the end of the run is not known"
    assert report["markouts"]["5s"]["contracts"] == "3.00"
    assert report["markouts"]["300s"]["contracts"] == "1.00"


def test_report_when_fills_journaled_sums_pnl_fees_spread_and_inventory(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        report = build_report(db, now_ns=T0 + 3600 * S)

    totals = report["totals"]
    # Each fill's $0.0010 trade fee costs the balance a whole cent (its order's balance change is
    # floored to the cent, API.md §9): $0.02 of fees, not $0.002.
    assert totals["net_pnl"] == "0.0100" and totals["fees"] == "0.0200" and totals["fills"] == 2
    assert totals["realised"] == "0.0000" and totals["unrealised"] == "0.0300"
    assert totals["contracts"] == "3.00"
    assert totals["spread_captured"] == "0.0200"  # 0.01 on M + 2 x 0.005 on N
    market = {m["ticker"]: m for m in report["by_market"]}
    assert market["M"]["spread_captured"] == "0.0100" and market["N"]["spread_captured"] == "0.0100"
    assert market["M"]["position"] == "1.00" and market["N"]["max_abs_position"] == "2.00"
    assert market["M"]["bought"] == "1.00" and market["N"]["sold"] == "2.00"
    # M: bought at 0.48, marked at 0.50, a cent of fee; N: sold 2 at 0.50, marked at 0.495.
    assert market["M"]["net_pnl"] == "0.0100" and market["N"]["net_pnl"] == "0.0000"
    assert market["M"]["fees"] == "0.0100" and market["M"]["fill_fees"] == "0.0010"
    assert [d["day"] for d in report["by_day"]] == ["2024-10-04"]
    assert report["by_day"][0]["net_pnl"] == "0.0100" and report["by_day"][0]["fills"] == 2
    assert report["pnl_series"] == [{"ts_ns": T0 + 400 * S, "net_pnl": "0.0100"}]


def test_report_when_since_is_after_everything_is_empty(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        report = build_report(db, since_ns=T0 + 1000 * S, now_ns=T0 + 3600 * S)
    assert report["totals"]["fills"] == 0 and report["by_market"] == [] and report["by_day"] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2024-10-04", 20_000 * NANOS_PER_DAY), ("2024-10-04T01:00", T0), ("1h", T0), ("30m", T0 + 1800 * S)],
)
def test_parse_since_when_date_or_age_gives_the_instant(text: str, expected: int) -> None:
    assert parse_since(text, T0 + 3600 * S) == expected


def test_parse_since_when_nonsense_says_what_is_expected() -> None:
    with pytest.raises(ReportError, match="expected a date"):
        parse_since("yesterday-ish", T0)


def _cli() -> click.Group:
    @click.group()
    def cli() -> None:
        """mmframe (test stand-in for the real group)."""

    register_commands(cli=cli)
    return cli


def test_report_command_when_json_prints_the_report(journal: Path) -> None:
    result = CliRunner().invoke(_cli(), ["report", "--journal", str(journal), "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    assert report["totals"]["fills"] == 2 and len(report["runs"]) == 1


def test_report_command_when_html_writes_a_self_contained_page_with_plots(journal: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(_cli(), ["report", "--journal", str(journal), "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert "Markouts" in result.output and "Per market" in result.output
    page = target.read_text()
    # Self-contained: plotly.js embedded, nothing loaded from elsewhere.
    assert page.count("Plotly.newPlot") >= 4
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", page)


@needs_browser
@pytest.mark.anyio
async def test_report_html_when_opened_in_chromium_draws_the_live_plots(journal: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = CliRunner().invoke(_cli(), ["report", "--journal", str(journal), "--html", str(target)])
    assert result.exit_code == 0, result.output
    seen = await open_in_chromium(target)
    assert seen.console_errors == [] and seen.page_errors == []
    assert seen.plots == ["Net PnL over time", "Net PnL per day", "Net PnL per market", "Markouts by horizon"]


def test_report_command_when_journal_missing_fails_with_the_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["report", "--journal", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1
    assert "no journal at" in result.output and "none.sqlite" in result.output
    assert not (tmp_path / "none.sqlite").exists()


def test_report_command_when_since_is_nonsense_fails_with_the_reason(journal: Path) -> None:
    result = CliRunner().invoke(_cli(), ["report", "--journal", str(journal), "--since", "soon"])
    assert result.exit_code == 1 and "--since 'soon'" in result.output


def _journal_of(path: Path, runs: list[tuple[str, str]]) -> None:
    """One run per ``(mode, trade id)``, each with one fill of M bought at 0.48."""

    async def main() -> None:
        for index, (mode, trade) in enumerate(runs):
            sink = JournalSink({"path": str(path)}, "p", mode=mode)
            await sink.start(T0 + index * S)
            await sink.write([book(T0, "M", 4800, 5000), fill(T0 + index * S + 1, "M", BookSide.BID, 4800, 100, trade),
                              RunStopped(ts_ns=T0 + index * S + 2, reason="done")])
            await sink.close()

    anyio.run(main, backend="asyncio")


def test_report_when_a_journal_has_only_paper_runs_reports_them_by_default(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    _journal_of(path, [("paper", "p1"), ("backtest", "b1")])
    with sqlite3.connect(path) as db:
        report = build_report(db, now_ns=T0 + 3600 * S)
        assert report["mode"] == "paper" and [r["mode"] for r in report["runs"]] == ["paper"]
        assert report["totals"]["fills"] == 1
        assert build_report(db, now_ns=T0 + 3600 * S, mode="backtest")["totals"]["fills"] == 1


def test_report_when_live_and_paper_runs_share_a_journal_keeps_them_apart(tmp_path: Path) -> None:
    path = tmp_path / "mixed.sqlite"
    _journal_of(path, [("live", "l1"), ("paper", "p1"), ("paper", "p2")])
    with sqlite3.connect(path) as db:
        live = build_report(db, now_ns=T0 + 3600 * S)  # auto: the live runs first
        paper = build_report(db, now_ns=T0 + 3600 * S, mode="paper")
        both = build_report(db, now_ns=T0 + 3600 * S, mode="all")
    assert (live["mode"], live["totals"]["fills"]) == ("live", 1)
    assert (paper["mode"], paper["totals"]["fills"]) == ("paper", 2)
    assert paper["by_market"][0]["position"] == "2.00"  # the paper books alone, never the live ones
    assert both["totals"]["fills"] == 3
