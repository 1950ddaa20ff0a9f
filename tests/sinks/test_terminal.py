"""The terminal sink draws markets, quotes, positions, PnL and the risk state."""

from __future__ import annotations

import io

import pytest
from mmframe_sinks.terminal import TerminalSink
from rich.console import Console

from mmframe.api import (
    BookSide,
    BookSnapshotReceived,
    Level,
    OrderFilled,
    PortfolioMarked,
    PositionMark,
    Quote,
    QuoteComputed,
    RunStarted,
    TradingHalted,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_terminal_when_events_arrive_shows_markets_quotes_positions_pnl_and_halt() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    sink = TerminalSink({"refresh_per_second": 30}, "demo", console=console)
    await sink.start()
    await sink.write([
        RunStarted(ts_ns=1, pipeline="demo", markets=("KX-RAIN",)),
        BookSnapshotReceived(ts_ns=1, ticker="KX-RAIN", yes_bids=((4500, 1000),), no_bids=((5000, 1000),)),
        QuoteComputed(ts_ns=2, ticker="KX-RAIN", quote=Quote("KX-RAIN", (Level(4400, 500),), (Level(5100, 500),))),
        OrderFilled(ts_ns=3, client_order_id="c", ticker="KX-RAIN", order_id="o", trade_id="t", side=BookSide.BID,
                    price=4400, count=500, fee=0, is_taker=False),
        PortfolioMarked(ts_ns=4, realised_pnl=0, unrealised_pnl=1750, fees=0, day_start_pnl=-300,
                        positions=(PositionMark("KX-RAIN", 500, 4400, 0, 0, 4750, 1750),)),
        TradingHalted(ts_ns=5, reason="daily-loss: breached"),
    ])
    await sink.close()
    screen = out.getvalue()
    assert "demo" in screen and "HALTED" in screen and "daily-loss: breached" in screen
    assert "KX-RAIN" in screen and "0.4500" in screen and "0.5000" in screen
    assert "5.00 @ 0.4400" in screen and "5.00 @ 0.5100" in screen
    assert "$0.1450" in screen, "today's net: run unrealised 0.1750 plus -0.0300 carried in"
    assert "fill KX-RAIN bid 5.00 @ 0.4400" in screen
