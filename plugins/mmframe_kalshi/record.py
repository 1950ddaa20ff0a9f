"""``mmframe record PIPELINE_OR_MARKETS --out FILE [--duration S]``: capture a venue's market data in the
replay format (docs/replay-format.md) so the session can be replayed through ``mmframe backtest``.

What is written, one JSON object per line, ``t`` = receive time (Unix ns, never decreasing):

- ``market`` records: each market's ``GET /markets/{ticker}`` object and its series (fee type);
- ``rest`` records: ``GET /markets/orderbooks`` for every market, read just before subscribing, so a
  replay has a book even before the first WebSocket snapshot;
- a ``ws_options`` record: how the WebSocket subscription was made (``use_yes_price``: which prices
  the NO ladder of the book frames is in), written before subscribing;
- ``ws`` records: every market-data frame (``orderbook_snapshot``, ``orderbook_delta``, ``trade``,
  ``ticker``, ``market_lifecycle_v2``, ``event_fee_update``) as ``{"type", "sid", "seq", "msg"}``, in
  arrival order.

After a reconnect or a sequence gap the client resubscribes or asks for ``get_snapshot``; the
WebSocket snapshot that follows is recorded like any frame (a REST read at that moment would race the
delta stream and could put a stale book after newer deltas, so none is taken). Frames the client
dropped for a sequence gap are not recorded; the replay sees the same jump and the same snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import httpx
import orjson

from mmframe.api import Clock, LiveClock, PipelineError, load_pipeline
from mmframe_kalshi.feed import MARKET_CHANNELS
from mmframe_kalshi.parsing import Frame
from mmframe_kalshi.session import KalshiSession

logger = logging.getLogger(__name__)

RECORDED_FRAMES = (
    "orderbook_snapshot",
    "orderbook_delta",
    "trade",
    "ticker",
    "market_lifecycle_v2",
    "event_fee_update",
)
_BOOKS_PER_REQUEST = 100


@dataclass
class RecordStats:
    """What a recording holds."""

    records: int = 0
    frames: int = 0
    books: int = 0
    markets: int = 0


class Recorder:
    """Writes replay records to ``out`` for ``markets`` through an open `KalshiSession`."""

    def __init__(self, session: KalshiSession, markets: Sequence[str], out: IO[bytes], clock: Clock) -> None:
        self.session = session
        self.markets = tuple(markets)
        self._out = out
        self._clock = clock
        self._last_t = 0
        self.stats = RecordStats(markets=len(self.markets))

    def write(self, kind: str, **fields: Any) -> None:
        t = max(self._clock.now_ns(), self._last_t)
        self._last_t = t
        self._out.write(orjson.dumps({"t": t, "kind": kind, **fields}) + b"\n")
        self.stats.records += 1

    async def start(self) -> None:
        """Write market metadata and REST books, then subscribe (frames are written as they arrive)."""
        await self._write_markets()
        await self._write_books()
        self.write("ws_options", use_yes_price=self.session.ws.use_yes_price)
        self.session.on_frames(RECORDED_FRAMES, self._on_frame)
        await self.session.subscribe(MARKET_CHANNELS, self.markets)

    def _on_frame(self, frame: Frame, received_ns: int) -> None:
        msg: dict[str, Any] = {"type": frame.type}
        if frame.sid is not None:
            msg["sid"] = frame.sid
        if frame.seq is not None:
            msg["seq"] = frame.seq
        msg["msg"] = frame.msg
        self.write("ws", msg=msg)
        self.stats.frames += 1

    async def _get(self, path: str, params: Any = None) -> Any:
        """A signed, rate-limited GET returning Kalshi's JSON exactly (the typed client converts it)."""
        rest = self.session.rest
        await rest.limiter.acquire("GET", path)
        headers = self.session.signer.headers("GET", rest.full_path(path))
        async with httpx.AsyncClient(base_url=rest.rest_url + "/", timeout=10.0) as client:
            response = await client.get(path.lstrip("/"), params=params, headers=headers)
        if response.status_code >= 400:
            raise click.ClickException(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
        return orjson.loads(response.content)

    async def _write_markets(self) -> None:
        series_cache: dict[str, Any] = {}
        for ticker in self.markets:
            body = await self._get(f"/markets/{ticker}")
            market = body.get("market", {})
            event = market.get("event_ticker", "")
            series_ticker = event.split("-", 1)[0] if event else ""
            if event and series_ticker not in series_cache:
                with contextlib.suppress(click.ClickException):
                    series_ticker = (await self._get(f"/events/{event}")).get("event", {}).get(
                        "series_ticker", series_ticker
                    )
                try:
                    series_cache[series_ticker] = (await self._get(f"/series/{series_ticker}")).get("series")
                except click.ClickException as exc:
                    logger.warning("series %s unreadable (%s); recorded without a fee type", series_ticker, exc)
                    series_cache[series_ticker] = None
            series = series_cache.get(series_ticker)
            self.write("market", body=market, **({"series": series} if series else {}))

    async def _write_books(self) -> None:
        for start in range(0, len(self.markets), _BOOKS_PER_REQUEST):
            chunk = self.markets[start : start + _BOOKS_PER_REQUEST]
            path = "/markets/orderbooks"
            body = await self._get(path, params=[("tickers", t) for t in chunk])
            self.write("rest", path=self.session.rest.full_path(path), body=body)
            self.stats.books += len(chunk)


async def record(
    session: KalshiSession,
    markets: Sequence[str],
    out_path: Path,
    *,
    duration: float | None,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
) -> RecordStats:
    """Record ``markets`` through the open ``session`` into ``out_path`` until ``duration`` seconds pass
    or ``stop`` is set."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    stop = stop or asyncio.Event()
    with out_path.open("wb") as out:
        recorder = Recorder(session, markets, out, clock or LiveClock())
        await recorder.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        out.flush()
        os.fsync(out.fileno())
    return recorder.stats


async def _record_command(
    registry: Any, target: str, overrides: Sequence[str], venue_name: str, out: Path, duration: float | None
) -> RecordStats:
    from mmframe_kalshi.venue import build_venue

    if Path(target).is_file():
        pipeline = load_pipeline(target, registry, overrides)
        venue = build_venue(registry, pipeline.venue.name, pipeline.venue.config, pipeline.name,
                            pipeline.markets, base_dir=str(Path(pipeline.path).resolve().parent))
    else:
        tickers = tuple(t.strip() for t in target.split(",") if t.strip())
        if not tickers:
            raise click.BadParameter(f"{target!r} is neither a pipeline file nor a list of tickers")
        venue = build_venue(registry, venue_name, {}, "record", tickers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await venue.open()
    try:
        markets = venue.markets() or ()
        click.echo(f"recording {len(markets)} market(s) from {venue.rest_url} into {out}"
                   + (f" for {duration:g}s" if duration else " until Ctrl-C"), err=True)
        return await record(venue.require_open().session, markets, out, duration=duration, stop=stop)
    finally:
        await venue.close()


@click.command("record")
@click.argument("pipeline_or_markets")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The JSONL recording to write (docs/replay-format.md).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--venue", "venue_name", type=click.Choice(["sim", "kalshi-demo", "kalshi"]), default="kalshi",
              show_default=True, help="Venue for a list of tickers (a pipeline file names its own).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a value in the pipeline file (repeatable).")
@click.pass_context
def record_command(ctx: click.Context, pipeline_or_markets: str, out: Path, duration: float | None,
                   venue_name: str, overrides: tuple[str, ...]) -> None:
    """Record a venue's market data (WebSocket frames and REST books) for PIPELINE_OR_MARKETS — a
    pipeline file or comma-separated tickers — in the replay format read by ``mmframe backtest``."""
    registry = getattr(ctx.find_root().obj, "registry", None)
    if registry is None:
        raise click.ClickException("the plugin registry is not available")
    try:
        stats = asyncio.run(_record_command(registry, pipeline_or_markets, overrides, venue_name, out, duration))
    except PipelineError as exc:
        for issue in exc.errors:
            click.echo(str(issue), err=True)
        raise SystemExit(1) from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    click.echo(f"wrote {stats.records} records ({stats.frames} WebSocket frames, {stats.books} REST books, "
               f"{stats.markets} markets) to {out}")
