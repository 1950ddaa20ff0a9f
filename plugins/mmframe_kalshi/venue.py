"""The Kalshi venues: ``kalshi-demo``, ``kalshi``, and the mapping form
``venue: {kalshi: {rest_url, ws_url, key_id, private_key_path}}`` for any Kalshi-protocol endpoint;
also the client of a venue that embeds a Kalshi-protocol exchange (``sim``, from ``mmframe_sim``:
`ComponentContext.exchange`, see `mmframe.api.EmbeddedExchange`).

All of them run the same `KalshiSession`, `KalshiFeed` and `KalshiExecutor`; only where the URLs and
the key come from differs. The engine builds a pipeline before it opens the venue, so `feed()` and
`executor()` hand out thin delegates whose targets are created in `open()` (an embedded exchange's
URLs and key exist only once it runs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmframe.api import (
    COUNT_SCALE,
    MAX_CONTRACTS,
    MICROS_PER_PRICE,
    ONE_DOLLAR,
    AccountSnapshot,
    ComponentContext,
    ComponentSpec,
    ConfigError,
    Count,
    EmbeddedExchange,
    FeedContext,
    Kind,
    LiveClock,
    MarketSelection,
    Micros,
    OrderAction,
    Price,
    WorkingOrder,
    WriteBudget,
    contracts_to_count,
)
from mmframe_kalshi.auth import DEFAULT_MAX_AGE_MS, DEFAULT_MAX_ORDER_PATHS, DEFAULT_ORDER_MAX_AGE_MS
from mmframe_kalshi.credentials import KalshiCredentials, load_credentials
from mmframe_kalshi.errors import AuthenticationError, CredentialsError, PermissionDeniedError
from mmframe_kalshi.executor import KalshiExecutor
from mmframe_kalshi.feed import KalshiFeed
from mmframe_kalshi.keywatch import KeyRejectedError
from mmframe_kalshi.limiter import DEFAULT_COST as DEFAULT_WRITE_COST
from mmframe_kalshi.models import Orderbook
from mmframe_kalshi.rest import MAX_SUBACCOUNT
from mmframe_kalshi.selection import SelectionRefresher, known_tickers, resolve_markets
from mmframe_kalshi.session import KalshiSession

logger = logging.getLogger(__name__)

PROD_REST = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
DEMO_REST = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_WS = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"

FOREIGN_ORDER_POLICIES = ("cancel", "adopt", "refuse")
_CONNECT_TIMEOUT_S = 15.0


# --- config -----------------------------------------------------------------------------------

_TRADING_PROPERTIES: dict[str, Any] = {
    "order_group_contracts_limit": {
        "type": "number",
        "minimum": 0,
        "maximum": MAX_CONTRACTS,
        "multipleOf": 0.01,
        "default": 1000,
        "description": "Exchange-side breaker: every order goes into one order group that Kalshi cancels "
        "(and blocks) once more than this many contracts fill within 15 s; 0 places orders without a group.",
    },
    "foreign_orders": {
        "enum": list(FOREIGN_ORDER_POLICIES),
        "default": "cancel",
        "description": "Resting orders in the pipeline's markets that this pipeline did not place: `cancel` "
        "them at startup, `adopt` them, or `refuse` to start.",
    },
    "max_batch": {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 20,
        "description": "Largest batch create/cancel request, orders.",
    },
    "self_trade_prevention": {
        "enum": ["taker_at_cross", "maker"],
        "default": "taker_at_cross",
        "description": "Kalshi's self-trade prevention for our orders.",
    },
    "cancel_order_on_pause": {
        "type": "boolean",
        "default": False,
        "description": "Ask Kalshi to cancel our orders whenever trading pauses.",
    },
    "fill_lookback_hours": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 720,
        "default": 24,
        "description": "How far back startup reads fills, hours.",
    },
}

_SIGNING_PROPERTIES: dict[str, Any] = {
    "presign_max_age_ms": {
        "type": "integer",
        "minimum": 250,
        "maximum": 60000,
        "default": DEFAULT_MAX_AGE_MS,
        "description": "Oldest a pre-made signature of the batch create/cancel endpoints may be when a "
        "request takes it, ms. Halved automatically (with a warning) if the venue refuses one as expired.",
    },
    "presign_order_max_age_ms": {
        "type": "integer",
        "minimum": 250,
        "maximum": 60000,
        "default": DEFAULT_ORDER_MAX_AGE_MS,
        "description": "Oldest a pre-made signature of an order's amend/decrease endpoint may be when a "
        "request takes it, ms (Kalshi's timestamp window is unpublished; FIX allows 30 s). Halved "
        "automatically (with a warning) if the venue refuses one as expired.",
    },
    "presign_order_paths": {
        "type": "integer",
        "minimum": 0,
        "maximum": 1000000,
        "default": DEFAULT_MAX_ORDER_PATHS,
        "description": "Most amend/decrease endpoints (two per resting order) kept pre-signed by the signing "
        "thread; beyond it those requests sign inline. Each costs a signature per 3/4 of "
        "presign_order_max_age_ms (RSA-2048 ~0.3 ms). 0 signs amends and decreases inline.",
    },
    "fast_order_path": {
        "type": "boolean",
        "default": True,
        "description": "Write amends and batch creates/cancels to warm keep-alive connections in the "
        "quoting step itself (falls back to the ordinary HTTP client when none is idle); false always "
        "uses the ordinary client.",
    },
}

KALSHI_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rest_url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            "pattern": "^https?://[^\\s/]+",
            "x-error": "must be an http:// or https:// URL (the REST base, e.g. https://HOST/trade-api/v2)",
            "description": "REST base URL ending in /trade-api/v2 (default: the venue's host).",
        },
        "ws_url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            "pattern": "^wss?://[^\\s/]+",
            "x-error": "must be a ws:// or wss:// URL (the WebSocket, e.g. wss://HOST/trade-api/ws/v2)",
            "description": "WebSocket URL ending in /trade-api/ws/v2 (default: the venue's host).",
        },
        "key_id": {
            "type": "string",
            "minLength": 1,
            "description": "API key id; default ${KALSHI_API_KEY}. Use ${VAR} interpolation, never a literal secret.",
        },
        "private_key_path": {
            "type": "string",
            "minLength": 1,
            "description": "PEM private key file (mode 0600; a relative path is relative to the pipeline file); "
            "default ${KALSHI_PRIVATE_KEY} or ${KALSHI_PRIVATE_KEY_PATH}.",
        },
        "subaccount": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_SUBACCOUNT,
            "default": 0,
            "description": "The Kalshi subaccount to trade (0 = the primary account): sent with orders, cancels "
            "and account reads; other subaccounts' fills, orders and positions are ignored.",
        },
        **_TRADING_PROPERTIES,
        **_SIGNING_PROPERTIES,
    },
}

@dataclass(frozen=True)
class TradingOptions:
    """Executor settings common to every Kalshi venue."""

    contracts_limit: Count | None
    foreign_orders: str
    max_batch: int
    self_trade_prevention: str
    cancel_order_on_pause: bool
    fill_lookback_s: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TradingOptions:
        limit = contracts_to_count(_number(config.get("order_group_contracts_limit", 1000)),
                                   what="order_group_contracts_limit")
        hours = Decimal(str(config.get("fill_lookback_hours", 24)))
        return cls(
            contracts_limit=limit or None,
            foreign_orders=str(config.get("foreign_orders", "cancel")),
            max_batch=int(config.get("max_batch", 20)),
            self_trade_prevention=str(config.get("self_trade_prevention", "taker_at_cross")),
            cancel_order_on_pause=bool(config.get("cancel_order_on_pause", False)),
            fill_lookback_s=int(hours * 3600),
        )


@dataclass(frozen=True)
class SigningOptions:
    """Pre-signing (`auth.PreSigner`) and order-path settings of the venue's session."""

    max_age_ms: int
    order_max_age_ms: int
    order_paths: int
    fast_order_path: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SigningOptions:
        return cls(
            max_age_ms=int(config.get("presign_max_age_ms", DEFAULT_MAX_AGE_MS)),
            order_max_age_ms=int(config.get("presign_order_max_age_ms", DEFAULT_ORDER_MAX_AGE_MS)),
            order_paths=int(config.get("presign_order_paths", DEFAULT_MAX_ORDER_PATHS)),
            fast_order_path=bool(config.get("fast_order_path", True)),
        )


def average_price(position: Count, exposure_micros: Micros) -> Price:
    """The average YES price of ``position`` from Kalshi's ``market_exposure`` (what the held leg cost,
    exact micros): a long YES position cost its YES price, a short one (long NO) cost ``1 - price`` per
    contract. Rounded to the nearest price unit once, from the exact figures."""
    # micros * COUNT_SCALE / (count units * MICROS_PER_PRICE) = price units per contract
    numerator = exposure_micros * COUNT_SCALE
    denominator = abs(position) * MICROS_PER_PRICE
    leg = (2 * numerator + denominator) // (2 * denominator)
    return leg if position > 0 else ONE_DOLLAR - leg


def _number(value: Any) -> Decimal | int:
    if isinstance(value, int | Decimal):
        return value
    return Decimal(str(value))


class CredentialsConfigError(ConfigError, CredentialsError):
    """Missing or unusable credentials, as a config error naming the key (``key_id`` or
    ``private_key_path``) so ``mmframe check`` points at it; still a `CredentialsError`."""


# --- delegates handed out before open() --------------------------------------------------------


class VenueFeed:
    """The venue's feed: runs the `KalshiFeed` the venue built in `open`."""

    def __init__(self, venue: KalshiVenue) -> None:
        self._venue = venue

    @property
    def inner(self) -> KalshiFeed:
        return self._venue.require_open().feed

    async def run(self, ctx: FeedContext) -> None:
        await self.inner.run(ctx)

    def describe(self) -> Mapping[str, Any]:
        return self.inner.describe() if self._venue.opened else {}


class VenueExecutor:
    """The venue's executor: forwards to the `KalshiExecutor` the venue built in `open`."""

    def __init__(self, venue: KalshiVenue) -> None:
        self._venue = venue
        self._inner: KalshiExecutor | None = None
        self._budget = _VenueBudget(self)

    @property
    def inner(self) -> KalshiExecutor:
        if self._inner is None:
            self._inner = self._venue.require_open().executor
        return self._inner

    async def start(self, ctx: FeedContext) -> AccountSnapshot:
        """The executor's account snapshot, plus each position's average price from its cost basis."""
        snapshot = await self.inner.start(ctx)
        held = {t: q for t, q in snapshot.positions.items() if q}
        if not held or snapshot.avg_prices:
            return snapshot
        exposures = {
            p.ticker: p.exposure_micros for p in await self.inner.rest.all_positions() if p.ticker in held
        }
        avg = {t: average_price(held[t], exposures[t]) for t in held if exposures.get(t)}
        return dataclasses.replace(snapshot, avg_prices=avg)

    async def execute(self, actions: Sequence[OrderAction]) -> None:
        await self.inner.execute(actions)

    def execute_nowait(self, actions: Sequence[OrderAction]) -> None:
        """`mmframe.api.ImmediateExecutor`: the engine quotes inline and hands actions over here."""
        self.inner.execute_nowait(actions)

    @property
    def write_budget(self) -> WriteBudget:
        """`mmframe.api.BudgetedExecutor`: the account's write token bucket (handed out before the
        venue opens; read once it has)."""
        return self._budget

    async def cancel_all(self) -> None:
        await self.inner.cancel_all()

    async def open_orders(self) -> Sequence[WorkingOrder]:
        return await self.inner.open_orders()

    async def positions(self) -> Mapping[str, Count]:
        """The venue's positions in our markets now (the runtime's check of its carried books)."""
        return await self.inner.positions()

    async def stop(self) -> None:
        if self._venue.opened:
            await self.inner.stop()

    def adopt(self, client_order_ids: Sequence[str]) -> None:
        """Resting orders the runtime adopted at startup (the executor keeps amend signatures ready)."""
        self.inner.adopt(client_order_ids)

    def describe(self) -> Mapping[str, Any]:
        return self.inner.describe() if self._venue.opened else {}


class _VenueBudget:
    """The `KalshiExecutor`'s write budget, reachable before the venue opened (the runtime takes it
    when it is built): nothing is free until then."""

    def __init__(self, executor: VenueExecutor) -> None:
        self._executor = executor

    def _inner(self) -> WriteBudget | None:
        return self._executor.inner.write_budget if self._executor._venue.opened else None

    def tokens(self) -> int:
        inner = self._inner()
        return 0 if inner is None else inner.tokens()

    def cost(self, action: OrderAction) -> int:
        inner = self._inner()
        return DEFAULT_WRITE_COST if inner is None else inner.cost(action)

    def seconds_until(self, tokens: int) -> float:
        inner = self._inner()
        return 1.0 if inner is None else inner.seconds_until(tokens)

    @property
    def refill_per_second(self) -> int:
        inner = self._inner()
        return 0 if inner is None else inner.refill_per_second


@dataclass
class _Connection:
    session: KalshiSession
    feed: KalshiFeed
    executor: Any
    """A `KalshiExecutor`, or the paper venue's local one (`mmframe_kalshi.paper`)."""


# --- the venue --------------------------------------------------------------------------------


class KalshiVenue:
    """Implements `mmframe.api.Venue` for Kalshi and Kalshi-protocol endpoints (the simulator)."""

    label: str | None = None
    """How messages name the venue (default: its name; the paper venue says ``paper (kalshi)``)."""
    config_prefix: str = ""
    """Where this venue's keys sit under ``venue.<name>`` (the paper venue's: ``kalshi.``), for errors."""

    def __init__(self, name: str, config: Mapping[str, Any], ctx: ComponentContext) -> None:
        self.exchange: EmbeddedExchange | None = ctx.exchange
        self.name = self.exchange.name if self.exchange is not None else name
        self.config = dict(config)
        self.ctx = ctx
        self.options = TradingOptions.from_config(config)
        self.signing = SigningOptions.from_config(config)
        self.foreign_orders = self.options.foreign_orders
        self._exchange_details: Mapping[str, Any] = {}
        self._unix_socket: str | None = None  # an embedded exchange's, under simulated time
        self._conn: _Connection | None = None
        self._feed = VenueFeed(self)
        self._executor = VenueExecutor(self)
        self._markets: tuple[str, ...] | None = None
        self._refresher: SelectionRefresher | None = None
        self._markets_listener: MarketsListener | None = None
        self._exchange_started = False
        if self.exchange is None:
            # Fail at build time (``mmframe run`` exit 2, and ``mmframe check``) rather than after connecting.
            self._credentials: KalshiCredentials | None = self._load_credentials() if ctx.credentials else None
            default_rest, default_ws = (DEMO_REST, DEMO_WS) if name == "kalshi-demo" else (PROD_REST, PROD_WS)
            self.rest_url = str(self.config.get("rest_url") or default_rest)
            self.ws_url = str(self.config.get("ws_url") or default_ws)
        else:
            self._credentials = None
            self.rest_url = self.ws_url = ""

    def _load_credentials(self) -> KalshiCredentials:
        """The key from the config or the environment; `ConfigError` naming the key at fault."""
        key_id, path = self.config.get("key_id"), self.config.get("private_key_path")
        try:
            return load_credentials(key_id=key_id, private_key_path=self.ctx.path(path) if path else None)
        except CredentialsError as exc:
            field = "key_id" if "key id" in str(exc) else "private_key_path"
            raise CredentialsConfigError(f"venue {self.label or self.name}: {exc}",
                                         field=self.config_prefix + field) from None

    @classmethod
    def factory(cls, name: str) -> Any:
        def build(config: dict[str, Any], ctx: ComponentContext) -> KalshiVenue:
            return cls(name, config, ctx)

        return build

    # --- Venue protocol -------------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        return self._conn is not None

    def require_open(self) -> _Connection:
        if self._conn is None:
            raise RuntimeError(f"venue {self.name} is not open")
        return self._conn

    async def open(self) -> None:
        """Start the embedded exchange (``sim``), connect the session, resolve the market selection."""
        if self._conn is not None:
            return
        try:
            if self.exchange is not None:
                await self._start_exchange()
            assert self._credentials is not None
            session = self.new_session()
            self._conn = _Connection(session, KalshiFeed(session), self._build_executor(session))
            try:
                await session.open()
                await session.wait_connected(_CONNECT_TIMEOUT_S)
            except AuthenticationError as exc:
                if isinstance(exc, KeyRejectedError | PermissionDeniedError) or exc.code == "header_timestamp_expired":
                    raise
                refusal = exc.details or exc.message or "HTTP 401"
                raise KeyRejectedError(f"the venue rejects our key {session.key_watch.key}: {refusal}") from exc
            await self._resolve_markets(session)
        except BaseException:
            await self.close()
            raise

    def _build_executor(self, session: KalshiSession) -> Any:
        """The executor this venue's connection writes through (the paper venue's writes nowhere)."""
        opts = self.options
        return KalshiExecutor(
            session,
            contracts_limit=opts.contracts_limit,
            max_batch=opts.max_batch,
            fill_lookback_s=opts.fill_lookback_s,
            self_trade_prevention=opts.self_trade_prevention,
            cancel_order_on_pause=opts.cancel_order_on_pause,
        )

    def new_session(self) -> KalshiSession:
        """A session with this venue's URLs and key, not opened (``mmframe doctor``); not for an embedded
        exchange (``sim``), whose URLs and key exist only once `open` started it."""
        if self._credentials is None:
            raise RuntimeError(f"venue {self.name} has no credentials before open()")
        unix_socket = self._unix_socket
        return KalshiSession(
            self.rest_url,
            self.ws_url,
            self._credentials,
            self.ctx.clock,
            # Simulated time: signatures made on a thread ahead of time would age by however far
            # time jumped meanwhile, and the thread's pace would make the run nondeterministic.
            presign=unix_socket is None,
            unix_socket=unix_socket,
            presign_max_age_ms=self.signing.max_age_ms,
            presign_order_max_age_ms=self.signing.order_max_age_ms,
            presign_order_paths=self.signing.order_paths,
            fast_order_path=self.signing.fast_order_path,
            subaccount=int(self.config.get("subaccount", 0)),
        )

    def feed(self) -> VenueFeed:
        return self._feed

    def executor(self) -> VenueExecutor:
        return self._executor

    def markets(self) -> tuple[str, ...] | None:
        """The markets the selection resolved to in `open` (None before it ran)."""
        return self._markets

    def on_markets_changed(self, listener: MarketsListener) -> None:
        """``await listener(joined, left)`` after a periodic refresh of the selection changed it."""
        self._markets_listener = listener

    def describe(self) -> Mapping[str, Any]:
        out: dict[str, Any] = {"venue": self.name, "rest_url": self.rest_url, "ws_url": self.ws_url}
        out.update(self._exchange_details)
        if self._conn is not None:
            out["session"] = dict(self._conn.session.describe())
            out["order_group_id"] = self._conn.executor.order_group_id
        return out

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if self._refresher is not None:
            await self._refresher.stop()
            self._refresher = None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.session.close()
        await self._stop_exchange()

    # --- markets --------------------------------------------------------------------------------

    async def get_orderbook(self, ticker: str) -> Orderbook:
        """Any market's REST order book through the open session (its limiter and signing): the
        ``fair-value`` feed's ``market`` source reads other markets' mids with it."""
        return await self.require_open().session.rest.get_orderbook(ticker)

    async def _resolve_markets(self, session: KalshiSession) -> None:
        selection = self.ctx.market_selection
        missing = selection.missing if selection is not None else "refuse"
        if selection is None or selection.is_static:
            self._markets = tuple(await known_tickers(session.rest, self.ctx.markets, missing))
            return
        if selection.tickers:  # explicit tickers must exist too; skipped ones stay out of refreshes
            kept = tuple(await known_tickers(session.rest, selection.tickers, missing))
            selection = dataclasses.replace(selection, tickers=kept)
        now = self.ctx.clock.now_ns()
        self._markets = tuple(await resolve_markets(session.rest, selection, now))
        refresh_s = selection.filters.refresh_seconds
        if refresh_s:
            clock = self.ctx.clock

            async def resolve() -> list[str]:
                return await resolve_markets(session.rest, selection, clock.now_ns())

            self._refresher = SelectionRefresher(resolve, refresh_s, self._selection_changed, self._markets)
            self._refresher.start()
        if not self._markets:
            raise RuntimeError("the market selection matched no market on the venue; check series/events/patterns "
                               "and filters (mmframe doctor FILE shows the markets)")
        logger.info("market selection resolved to %d market(s): %s", len(self._markets),
                    ", ".join(self._markets[:10]) + (" ..." if len(self._markets) > 10 else ""))

    async def _selection_changed(self, joined: tuple[str, ...], left: tuple[str, ...]) -> None:
        """Markets joined or left the selection: data and fills for the new ones, then the runtime
        (which drains the ones that left: cancel, verify, stop quoting)."""
        conn = self._conn
        if conn is None:
            return
        self._markets = tuple(self._refresher.current) if self._refresher else self._markets
        logger.info("market selection changed: joined %s, left %s", list(joined) or "-", list(left) or "-")
        if joined:
            await _add_markets(conn, joined)
        if self._markets_listener is not None:
            await self._markets_listener(joined, left)

    # --- an embedded exchange (``sim``) -------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """Whether this venue trades on an exchange it starts itself (``sim``)."""
        return self.exchange is not None

    async def _start_exchange(self) -> None:
        assert self.exchange is not None
        self._exchange_started = True
        endpoint = await self.exchange.start()
        self._credentials = KalshiCredentials.from_pem(endpoint.key_id, endpoint.private_key_pem,
                                                       source="simulator key")
        self.rest_url, self.ws_url = endpoint.rest_url, endpoint.ws_url
        self._unix_socket = endpoint.unix_socket
        self._exchange_details = dict(endpoint.details)

    async def _stop_exchange(self) -> None:
        if self.exchange is None or not self._exchange_started:
            return
        self._exchange_started = False
        self._exchange_details = {}
        self._unix_socket = None
        await self.exchange.stop()


_SUMMARY_TAIL = "the same Kalshi feed and executor over real sockets"

KALSHI_SPEC = ComponentSpec(
    kind=Kind.VENUE,
    name="kalshi",
    summary="Kalshi's production exchange, or any Kalshi-protocol endpoint given rest_url/ws_url.",
    factory=KalshiVenue.factory("kalshi"),
    config_schema=KALSHI_SCHEMA,
    example={"rest_url": "http://127.0.0.1:8080/trade-api/v2", "ws_url": "ws://127.0.0.1:8080/trade-api/ws/v2",
             "key_id": "${KALSHI_API_KEY}", "private_key_path": "sim-key.pem"},
    description=(
        f"Connects {_SUMMARY_TAIL} to {PROD_REST} (or `rest_url`/`ws_url`, e.g. a simulator started with "
        "`mmframe sim serve`). Credentials: `key_id`/`private_key_path`, else KALSHI_API_KEY and "
        "KALSHI_PRIVATE_KEY (PEM text) or KALSHI_PRIVATE_KEY_PATH."
    ),
)

KALSHI_DEMO_SPEC = ComponentSpec(
    kind=Kind.VENUE,
    name="kalshi-demo",
    summary="Kalshi's demo exchange (demo API keys; fake money).",
    factory=KalshiVenue.factory("kalshi-demo"),
    config_schema=KALSHI_SCHEMA,
    example={"order_group_contracts_limit": 100},
    description=(
        f"Connects {_SUMMARY_TAIL} to {DEMO_REST}. Demo keys are separate from production keys "
        "(create them at https://demo.kalshi.co). Credentials as for `kalshi`."
    ),
)

VENUE_SPECS = (KALSHI_DEMO_SPEC, KALSHI_SPEC)


MarketsListener = Callable[[tuple[str, ...], tuple[str, ...]], Awaitable[None]]


async def _add_markets(conn: _Connection, tickers: Sequence[str]) -> None:
    """Extend a running feed and executor to ``tickers`` (metadata, books, account channels)."""
    await conn.feed.add_markets(tickers)
    await conn.executor.add_markets(tickers)


def build_venue(
    registry: Any, name: str, config: Mapping[str, Any], pipeline: str, markets: Any, *, base_dir: str | None = None
) -> KalshiVenue:
    """A Kalshi venue outside a pipeline run (``mmframe doctor``, ``mmframe record``): ``markets`` is a
    `MarketSelection` or a sequence of tickers; ``base_dir`` the pipeline file's directory (relative
    paths). Raises `ValueError` for a venue that is not Kalshi's."""
    spec = registry.get(Kind.VENUE, name)
    selection = markets if isinstance(markets, MarketSelection) else MarketSelection(tickers=tuple(markets))
    ctx = ComponentContext(
        pipeline=pipeline,
        markets=tuple(selection.tickers),
        clock=LiveClock(),
        logger=logging.getLogger(f"mmframe.{pipeline}"),
        base_dir=base_dir,
        market_selection=selection,
    )
    venue = spec.factory(dict(config), ctx)
    if not isinstance(venue, KalshiVenue):
        raise ValueError(f"venue {name!r} is not a Kalshi venue (use sim, kalshi-demo or kalshi)")
    return venue
