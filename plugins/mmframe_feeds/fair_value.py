"""The ``fair-value`` feed: an external reference price per market, for strategies quoting with
``reference: fair_value`` instead of the book's mid.

Three sources, polled every ``poll_seconds`` on the pipeline's clock:

- ``file``: a JSON object ``{"KEY": price, ...}`` read from ``path`` (rewritten by anything: a model,
  a spreadsheet export, another process);
- ``http``: the same object from ``GET url``;
- ``market``: the mid of another market on the same venue (its REST order book), e.g. the same
  question on a sibling contract.

``map`` says which key (or, for ``market``, which other market's ticker) is the fair value of
which of our markets; without it every market of the pipeline is looked up under its own ticker
(``file``/``http`` only). A price is YES dollars, as a JSON string (``"0.5300"``) or number, on
the venue's 4-decimal scale and strictly inside (0, 1). Each changed value is published once as a
`FairValueUpdated` (source ``fair-value:<source>``); a missing key, a bad value or a failed read
publishes nothing for that market and is logged (at most once a minute per problem), so the
strategy keeps the last good value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
import orjson

from mmframe.api import (
    ONE_DOLLAR,
    ComponentContext,
    ComponentSpec,
    ConfigError,
    FairValueUpdated,
    FeedContext,
    Kind,
    Price,
    parse_price,
)

NAME = "fair-value"
logger = logging.getLogger("mmframe.feeds.fair_value")

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fair-value feed",
    "type": "object",
    "additionalProperties": False,
    "required": ["source"],
    "properties": {
        "source": {"enum": ["file", "http", "market"],
                   "description": "Where the fair values come from: a JSON `file`, an `http` GET returning the same "
                   "JSON, or another `market`'s mid on the venue."},
        "path": {"type": "string", "minLength": 1, "default": "",
                 "description": "`file`: the JSON object of prices; relative to the pipeline file."},
        "url": {"type": "string", "pattern": "^https?://", "default": "",
                "description": "`http`: the URL answering GET with the JSON object of prices."},
        "map": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}, "default": {},
                "description": "Our ticker -> the key of its fair value (`market`: the other market's ticker). "
                "Empty: each of the pipeline's markets under its own ticker (`file`, `http`)."},
        "poll_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400, "default": 1,
                         "description": "Seconds between reads."},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 5,
                            "description": "`http`: longest a GET may take."},
    },
}

Reader = Callable[[tuple[str, ...]], Awaitable[Mapping[str, Any]]]
"""Reads the raw values of the given keys (a mapping key -> JSON value; keys may be missing)."""


class FairValueError(ValueError):
    """A fair value that is not a price strictly inside (0, 1)."""


def parse_fair_value(value: Any, payout: Price = ONE_DOLLAR) -> Price:
    """A JSON value (string or number of dollars) as a price strictly inside (0, ``payout``).

    Raises `FairValueError` naming the value."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FairValueError(f"not a price: {value!r}")
    try:
        text = value if isinstance(value, str) else format(Decimal(repr(value)), "f")
        price = parse_price(text)
    except (ValueError, InvalidOperation) as exc:
        raise FairValueError(f"not a price: {value!r} ({exc})") from exc
    if not 0 < price < payout:
        raise FairValueError(f"price {value!r} is not strictly inside (0, {payout / 10_000:g})")
    return price


class FairValueFeed:
    """Polls one source and publishes each market's fair value when it changes (module docstring)."""

    def __init__(self, source: str, reader: Reader, mapping: Mapping[str, str], poll_seconds: float) -> None:
        self.source = source
        self._reader = reader
        self._map = dict(mapping)
        self._poll_seconds = poll_seconds
        self._last: dict[str, Price] = {}
        self._warned: dict[str, int] = {}

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> FairValueFeed:
        """The component factory: checks that the source has what it needs."""
        source = config["source"]
        mapping = dict(config.get("map") or {})
        poll = float(config.get("poll_seconds", 1))
        reader: Reader
        if source == "file":
            if not config.get("path"):
                raise ConfigError(f"{NAME}: source file needs a path", field="path")
            reader = file_reader(ctx.path(str(config["path"])))
        elif source == "http":
            if not config.get("url"):
                raise ConfigError(f"{NAME}: source http needs a url", field="url")
            reader = http_reader(str(config["url"]), float(config.get("timeout_seconds", 5)))
        else:
            if not mapping:
                raise ConfigError(f"{NAME}: source market needs a map (our ticker: the other market)", field="map")
            reader = market_reader(ctx)
        if not mapping:
            mapping = {ticker: ticker for ticker in ctx.markets}
        return cls(source, reader, mapping, poll)

    async def run(self, ctx: FeedContext) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll_once(ctx)
            await ctx.clock.sleep(self._poll_seconds)

    async def poll_once(self, ctx: FeedContext) -> list[FairValueUpdated]:
        """One read: publish (and return) the changed fair values of the markets being traded."""
        wanted = {ours: key for ours, key in self._map.items() if ours in ctx.markets}
        if not wanted:
            return []
        now = ctx.clock.now_ns()
        try:
            raw = await self._reader(tuple(sorted(set(wanted.values()))))
        except Exception as exc:  # a failed read keeps the last values; the next poll retries
            self._warn("read", now, "fair-value %s: read failed: %s", self.source, exc)
            return []
        published = []
        for ours, key in sorted(wanted.items()):
            if key not in raw:
                self._warn(f"missing:{key}", now, "fair-value %s: no value for %s (for %s)", self.source, key, ours)
                continue
            try:
                price = parse_fair_value(raw[key])
            except FairValueError as exc:
                self._warn(f"bad:{key}", now, "fair-value %s: %s: %s", self.source, key, exc)
                continue
            if self._last.get(ours) == price:
                continue
            self._last[ours] = price
            event = FairValueUpdated(ts_ns=now, ticker=ours, price=price, source=f"{NAME}:{self.source}")
            ctx.publish(event)
            published.append(event)
        return published

    def _warn(self, problem: str, now_ns: int, message: str, *args: Any) -> None:
        last = self._warned.get(problem)
        if last is None or now_ns - last >= 60_000_000_000:
            self._warned[problem] = now_ns
            logger.warning(message, *args)

    def describe(self) -> Mapping[str, Any]:
        return {"source": self.source, "markets": sorted(self._map)}


def _json_object(raw: bytes, where: str) -> Mapping[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{where} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{where} is not a JSON object of prices")
    return data


def file_reader(path: Path) -> Reader:
    """Reads the whole JSON object from ``path`` at each poll."""

    async def read(keys: tuple[str, ...]) -> Mapping[str, Any]:
        return _json_object(path.read_bytes(), str(path))

    return read


def http_reader(url: str, timeout_seconds: float) -> Reader:
    """GETs the JSON object from ``url`` at each poll (one connection pool for the feed's life)."""
    client: list[httpx.AsyncClient] = []

    async def read(keys: tuple[str, ...]) -> Mapping[str, Any]:
        if not client:
            client.append(httpx.AsyncClient(timeout=timeout_seconds))
        response = await client[0].get(url)
        response.raise_for_status()
        return _json_object(response.content, url)

    return read


def market_reader(ctx: ComponentContext) -> Reader:
    """The mids of other markets from the venue's REST order book (the venue must offer
    ``get_orderbook(ticker)`` with ``yes_bids``/``no_bids`` ladders, best last, as the Kalshi and
    sim venues do). A market with an empty side has no mid and is left out."""

    async def read(keys: tuple[str, ...]) -> Mapping[str, Any]:
        venue = ctx.venue
        get = getattr(venue, "get_orderbook", None)
        if get is None:
            raise RuntimeError(f"venue {type(venue).__name__} cannot read other markets' order books")
        payout = ctx.payout or ONE_DOLLAR
        mids: dict[str, Any] = {}
        for key in keys:
            book = await get(key)
            if book.yes_bids and book.no_bids:
                bid = book.yes_bids[-1][0]
                ask = payout - book.no_bids[-1][0]
                if bid < ask:
                    mid = (bid + ask) // 2
                    mids[key] = f"{mid // 10_000}.{mid % 10_000:04d}"  # dollars, exactly
        return mids

    return read


SPEC = ComponentSpec(
    kind=Kind.FEED,
    name=NAME,
    summary="External fair value per market (JSON file, HTTP poll, or another market's mid) for reference: fair_value.",
    factory=FairValueFeed.build,
    config_schema=SCHEMA,
    example={"source": "file", "path": "fair_values.json", "poll_seconds": 1},
    description=(FairValueFeed.__doc__ or "").strip() + "\n\n" + (__doc__ or "").strip(),
)
