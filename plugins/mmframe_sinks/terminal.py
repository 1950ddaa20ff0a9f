"""``terminal``: a live status screen (rich) — markets, our quotes, positions, PnL, risk state and the
latest notable events — redrawn in place, at most ``refresh_per_second`` times a second."""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mmframe.api import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    ComponentContext,
    ComponentSpec,
    Event,
    Kind,
    OrderBook,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    PortfolioMarked,
    PositionMark,
    Quote,
    QuoteComputed,
    RiskVerdictIssued,
    RunStarted,
    RunStopped,
    TradingHalted,
    TradingPaused,
    TradingResumed,
    VenueStatusChanged,
    format_count,
    format_price,
)

NAME = "terminal"
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "refresh_per_second": {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "default": 4,
                               "description": "Redraws per second at most."},
        "max_markets": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 20,
                        "description": "Market rows shown (positions first)."},
        "recent_events": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 8,
                          "description": "Notable events listed under the table."},
    },
}
EXAMPLE = {"refresh_per_second": 4, "max_markets": 20}
_STATE_AFTER = {"TradingHalted": "halted", "TradingPaused": "paused", "TradingResumed": "active"}
_STATE_STYLE = {"active": "bold green", "paused": "bold yellow", "halted": "bold white on red"}


@dataclass
class StatusModel:
    """What the screen shows, kept up to date from events."""

    pipeline: str = ""
    state: str = "starting"
    reason: str = ""
    venue: str = "starting"
    books: dict[str, OrderBook] = field(default_factory=dict)
    quotes: dict[str, Quote] = field(default_factory=dict)
    positions: dict[str, PositionMark] = field(default_factory=dict)
    pnl: PortfolioMarked | None = None
    fills: int = 0
    recent: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=8))

    def apply(self, event: Event) -> None:
        if isinstance(event, BookDeltaReceived | BookSnapshotReceived):
            book = self.books.get(event.ticker) or self.books.setdefault(event.ticker, OrderBook(event.ticker))
            book.apply(event)
        elif isinstance(event, BookInvalidated):
            if event.ticker in self.books:
                self.books[event.ticker].invalidate()
        elif isinstance(event, QuoteComputed):
            self.quotes[event.ticker] = event.quote
        elif isinstance(event, PortfolioMarked):
            self.pnl = event
            self.positions = {mark.ticker: mark for mark in event.positions}
        elif isinstance(event, OrderFilled):
            self.fills += 1
            self._note(event, f"fill {event.ticker} {event.side.value} {format_count(event.count)} @ "
                              f"{format_price(event.price)}")
        elif isinstance(event, TradingHalted | TradingPaused | TradingResumed):
            self.state = _STATE_AFTER[event.kind]
            self.reason = "" if isinstance(event, TradingResumed) else event.reason
            self._note(event, f"{self.state}: {event.reason}")
        elif isinstance(event, RiskVerdictIssued):
            self._note(event, f"{event.rule} {event.verdict.kind.value} {event.ticker}: {event.verdict.reason}")
        elif isinstance(event, OrderRejected):
            self._note(event, f"rejected {event.action} {event.ticker}: {event.code} {event.message}")
        elif isinstance(event, OrderGroupTriggered):
            self._note(event, f"order group {event.order_group_id} triggered {event.detail}")
        elif isinstance(event, VenueStatusChanged):
            self.venue = event.status
            self._note(event, f"venue {event.status} {event.detail}")
        elif isinstance(event, RunStarted):
            self.pipeline, self.state, self.venue = event.pipeline, "active", "connected"
        elif isinstance(event, RunStopped):
            self.state, self.reason = "stopped", event.reason

    def _note(self, event: Event, text: str) -> None:
        self.recent.appendleft(f"{time.strftime('%H:%M:%S', time.gmtime(event.ts_ns / 1e9))} {text.strip()}")


def _price(value: int | None) -> str:
    return "-" if value is None else format_price(value)


def _signed(value: int) -> Text:
    return Text(f"${format_price(value)}", style="green" if value > 0 else "red" if value < 0 else "")


def render(model: StatusModel, max_markets: int) -> Group:
    """The screen for ``model``."""
    header = Text.assemble(
        (model.pipeline or "mmframe", "bold"), "  ",
        (f" {model.state.upper()} ", _STATE_STYLE.get(model.state, "bold")),
        (f" {model.reason}" if model.reason else "", "yellow"),
        f"  venue {model.venue}  fills {model.fills}",
    )
    pnl = model.pnl
    money = Text("PnL: waiting for the first valuation", style="dim")
    if pnl is not None:
        money = Text.assemble(
            "net ", _signed(pnl.day_net_pnl), "  realised ", _signed(pnl.realised_pnl),
            "  unrealised ", _signed(pnl.unrealised_pnl), f"  fees ${format_price(pnl.fees)}",
            f"  carried in ${format_price(pnl.day_start_pnl)}" if pnl.day_start_pnl else "",
        )
    table = Table(expand=False, header_style="bold", pad_edge=False)
    for name, justify in (("market", "left"), ("bid", "right"), ("ask", "right"), ("our bid", "right"),
                          ("our ask", "right"), ("position", "right"), ("unrealised", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    tickers = sorted(set(model.books) | set(model.quotes) | set(model.positions),
                     key=lambda t: (-abs(model.positions[t].position) if t in model.positions else 0, t))
    for ticker in tickers[:max_markets]:
        book, quote, mark = model.books.get(ticker), model.quotes.get(ticker), model.positions.get(ticker)
        valid = book is not None and book.valid
        table.add_row(
            ticker,
            _price(book.best_bid()) if valid and book else "-",
            _price(book.best_ask()) if valid and book else "-",
            f"{format_count(quote.bids[0].size)} @ {format_price(quote.bids[0].price)}" if quote and quote.bids else "-",
            f"{format_count(quote.asks[0].size)} @ {format_price(quote.asks[0].price)}" if quote and quote.asks else "-",
            format_count(mark.position) if mark else "0.00",
            _signed(mark.unrealised_pnl) if mark else Text("-"),
        )
    if len(tickers) > max_markets:
        table.caption = f"{len(tickers) - max_markets} more markets"
    recent = Text("\n".join(model.recent), style="dim") if model.recent else Text("")
    return Group(header, money, table, recent)


class TerminalSink:
    """Draws `StatusModel` with rich's Live display; writes never wait on the terminal for long."""

    def __init__(self, config: Mapping[str, Any], pipeline: str = "", console: Console | None = None) -> None:
        self.model = StatusModel(pipeline=pipeline)
        self.model.recent = collections.deque(maxlen=int(config.get("recent_events", 8)))
        self._interval = 1.0 / float(config.get("refresh_per_second", 4))
        self._max_markets = int(config.get("max_markets", 20))
        self._console = console or Console(stderr=True)
        self._live: Live | None = None
        self._drawn_at = 0.0

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> TerminalSink:
        return cls(config, ctx.pipeline)

    async def start(self) -> None:
        self._live = Live(render(self.model, self._max_markets), console=self._console, auto_refresh=False,
                          transient=False, redirect_stdout=False, redirect_stderr=False)
        self._live.start(refresh=True)

    async def write(self, events: Sequence[Event]) -> None:
        for event in events:
            self.model.apply(event)
        now = time.monotonic()
        if self._live is not None and now - self._drawn_at >= self._interval:
            self._drawn_at = now
            self._live.update(render(self.model, self._max_markets), refresh=True)

    async def close(self) -> None:
        if self._live is not None:
            self._live.update(render(self.model, self._max_markets), refresh=True)
            self._live.stop()
            self._live = None


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="Live terminal status: markets, quotes, positions, PnL and risk state, redrawn in place.",
    factory=TerminalSink.build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(TerminalSink.__doc__ or "").strip(),
)
