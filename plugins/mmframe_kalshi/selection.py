"""Market selection: a pipeline's ``markets:`` (explicit tickers, series, events, glob patterns and
filters) resolved against the venue's market list.

Explicit tickers must exist on the venue (`known_tickers`): unknown ones refuse the start, naming
them, or are skipped with a warning when the pipeline says ``markets: {tickers: [...], missing:
skip}``. Markets found through
series, events or patterns must pass every filter: status (``open`` = Kalshi's ``active``), close-time
window, minimum volume and open interest, maximum spread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from mmframe.api import NANOS_PER_SECOND, Count, Price

logger = logging.getLogger(__name__)

_MAX_PAGES = 50
TICKERS_PER_REQUEST = 100
"""Tickers per ``GET /markets?tickers=`` request."""
# GET /markets?status= takes these names; market objects report the others.
_STATUS_QUERY = {"active": "open", "open": "open", "inactive": "paused", "paused": "paused",
                 "initialized": "unopened", "unopened": "unopened", "closed": "closed",
                 "finalized": "settled", "settled": "settled"}
_STATUS_SAME = {"open": "active", "paused": "inactive", "unopened": "initialized", "settled": "finalized"}


class MarketLike(Protocol):
    """What selection reads of a market (`mmframe_kalshi.models.Market`)."""

    @property
    def ticker(self) -> str: ...
    @property
    def event_ticker(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def close_ts_ns(self) -> int | None: ...
    @property
    def volume(self) -> Count | None: ...
    @property
    def open_interest(self) -> Count | None: ...
    @property
    def yes_bid(self) -> Price | None: ...
    @property
    def yes_ask(self) -> Price | None: ...


class MarketSource(Protocol):
    """The REST call selection needs (`KalshiRestClient.list_markets`)."""

    async def list_markets(self, **filters: Any) -> Sequence[Any]: ...


def normal_status(status: str) -> str:
    """A market status in Kalshi's market-object vocabulary (``open`` -> ``active``)."""
    status = status.strip().lower()
    return _STATUS_SAME.get(status, status)


def passes_filters(market: MarketLike, filters: Any, now_ns: int) -> str | None:
    """None when ``market`` passes ``filters`` (a `MarketFilters`), else why it does not."""
    statuses = {normal_status(s) for s in (filters.status or ("active",))}
    if normal_status(market.status) not in statuses:
        return f"status {market.status}"
    left_ns = None if market.close_ts_ns is None else market.close_ts_ns - now_ns
    minutes, hours = filters.min_close_minutes, filters.max_close_hours
    if minutes is not None and left_ns is not None and left_ns < minutes * 60 * NANOS_PER_SECOND:
        return "closes too soon"
    if hours is not None and (left_ns is None or left_ns > hours * 3600 * NANOS_PER_SECOND):
        return "closes too late"
    if filters.min_volume is not None and (market.volume or 0) < filters.min_volume:
        return "volume too low"
    if filters.min_open_interest is not None and (market.open_interest or 0) < filters.min_open_interest:
        return "open interest too low"
    if filters.max_spread is not None:
        if market.yes_bid is None or market.yes_ask is None or not market.yes_bid or not market.yes_ask:
            return "no two-sided market"
        if market.yes_ask - market.yes_bid > filters.max_spread:
            return "spread too wide"
    return None


def pattern_series(pattern: str) -> str | None:
    """The series a ticker pattern must belong to (``KXHIGHNY-*`` -> ``KXHIGHNY``), if it says."""
    head = pattern.split("-", 1)[0]
    if "-" not in pattern or any(ch in head for ch in "*?["):
        return None
    return head


async def candidate_markets(source: MarketSource, selection: Any) -> list[Any]:
    """Markets named by the selection's series, events and patterns (not yet filtered)."""
    filters = selection.filters
    statuses = {_STATUS_QUERY.get(s.strip().lower()) for s in (filters.status or ("active",))}
    # One status lets the venue filter; several (or unknown names) are filtered here.
    query_status = statuses.pop() if len(statuses) == 1 else None
    found: dict[str, Any] = {}

    async def fetch(**query: Any) -> list[Any]:
        return list(await source.list_markets(status=query_status, max_pages=_MAX_PAGES, **query))

    for series in selection.series:
        found.update((m.ticker, m) for m in await fetch(series_ticker=series))
    for event in selection.events:
        found.update((m.ticker, m) for m in await fetch(event_ticker=event))
    for pattern in selection.patterns:
        series = pattern_series(pattern)
        # Kalshi series tickers have no dash, so the head of a pattern usually names the series; when
        # it does not (nothing listed under it), every market is scanned.
        pool = await fetch(series_ticker=series) if series else []
        if not pool:
            pool = await fetch()
        found.update((m.ticker, m) for m in pool if fnmatch.fnmatchcase(m.ticker, pattern))
    return list(found.values())


class UnknownMarketsError(ValueError):
    """Explicit tickers the venue does not list."""

    def __init__(self, unknown: Sequence[str], *, none_left: bool = False) -> None:
        names = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        if none_left:
            super().__init__(f"none of the pipeline's markets exist on the venue: {names}")
        else:
            super().__init__(f"{len(unknown)} market(s) do not exist on the venue: {names}")
        self.unknown = tuple(unknown)
        self.advice = ("check the tickers (mmframe doctor FILE lists the venue's markets), or write markets: "
                       "{tickers: [...], missing: skip} to quote the others")


async def known_tickers(source: MarketSource, tickers: Sequence[str], missing: str = "refuse") -> list[str]:
    """``tickers`` that the venue lists, in order. Unknown ones raise `UnknownMarketsError` naming
    them, or (``missing="skip"``) are left out with a warning; none left is always an error."""
    found: set[str] = set()
    for start in range(0, len(tickers), TICKERS_PER_REQUEST):
        chunk = list(tickers[start : start + TICKERS_PER_REQUEST])
        found.update(m.ticker for m in await source.list_markets(tickers=chunk, limit=len(chunk)))
    unknown = [t for t in tickers if t not in found]
    if not unknown:
        return list(tickers)
    kept = [t for t in tickers if t in found]
    if missing != "skip" or not kept:
        raise UnknownMarketsError(unknown, none_left=not kept)
    logger.warning("skipping %d market(s) the venue does not list (markets.missing: skip): %s",
                   len(unknown), ", ".join(unknown))
    return kept


async def resolve_markets(source: MarketSource, selection: Any, now_ns: int) -> list[str]:
    """The tickers a `MarketSelection` stands for now: explicit tickers first, then the others that pass
    the filters, sorted."""
    tickers = list(dict.fromkeys(selection.tickers))
    if selection.is_static:
        return tickers
    chosen: list[str] = []
    for market in await candidate_markets(source, selection):
        if market.ticker in tickers:
            continue
        reason = passes_filters(market, selection.filters, now_ns)
        if reason is None:
            chosen.append(market.ticker)
        else:
            logger.debug("market %s left out: %s", market.ticker, reason)
    return tickers + sorted(chosen)


class SelectionRefresher:
    """Re-resolves a selection every ``interval_s`` and reports markets that joined or left it."""

    def __init__(
        self,
        resolve: Callable[[], Awaitable[Sequence[str]]],
        interval_s: float,
        on_change: Callable[[tuple[str, ...], tuple[str, ...]], Awaitable[None]],
        current: Iterable[str],
    ) -> None:
        self._resolve = resolve
        self.interval_s = interval_s
        self._on_change = on_change
        self.current = tuple(current)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kalshi-market-selection")

    async def refresh(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Resolve once; returns (joined, left) and tells ``on_change`` when something moved."""
        latest = tuple(await self._resolve())
        joined = tuple(t for t in latest if t not in self.current)
        left = tuple(t for t in self.current if t not in latest)
        self.current = latest
        if joined or left:
            await self._on_change(joined, left)
        return joined, left

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # the next round tries again; the current markets stand
                logger.warning("market selection refresh failed: %s", exc)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
