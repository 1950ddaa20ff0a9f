"""The public plugin API: the only module a plugin imports from mmframe.

A plugin is a module with registration hooks, each receiving a ``register`` callback::

    from mmframe.api import ComponentSpec, Kind, hookimpl

    MMFRAME_API = ">=1.0,<2"   # the API range this plugin is written for (optional, recommended)

    @hookimpl
    def register_strategies(register):
        register(ComponentSpec(kind=Kind.STRATEGY, name="mine", summary="...", factory=MyStrategy.build))

Everything in ``__all__`` is the contract, versioned by `API_VERSION` under the stability policy in
CONTRIBUTING.md (a minor version only adds; removing or changing a name is a major version). Every
name is documented: classes and functions by their docstrings, and the names below here.

Names without a docstring of their own
--------------------------------------
- ``API_VERSION``: the version of this API, ``"MAJOR.MINOR"``; plugins declare the range they need
  in a module attribute ``MMFRAME_API`` (e.g. ``">=1.0,<2"``), checked when they are loaded.
- ``hookimpl``: the pluggy marker for a plugin's hook implementations (``@hookimpl``); a hook
  function without it is never called and is reported by ``mmframe plugins list``.
- ``MarketsListener``: ``async (joined, left) -> None``, what `SelectingVenue.on_markets_changed`
  calls when a refresh of the market selection changed it.
- ``OrderAction``: any order action an executor accepts: `CreateOrder`, `AmendOrder`,
  `DecreaseOrder` or `CancelOrder`.
- ``Price``: a price or any dollar amount, an ``int`` of 1/10,000 dollar (``0.56`` is ``5600``).
- ``Count``: a number of contracts, an ``int`` of 1/100 contract (10 contracts is ``1000``).
- ``Micros``: a dollar amount as Kalshi reports it, an ``int`` of 1/1,000,000 dollar.
- ``PRICE_SCALE``: price units per dollar (10,000): prices are integers of $0.0001.
- ``COUNT_SCALE``: count units per contract (100): sizes are integers of 0.01 contract.
- ``ONE_DOLLAR``: what a winning Kalshi contract pays, in price units (10,000).
- ``MICROS_PER_PRICE``: micros ($0.000001, Kalshi's 6-decimal amounts) per price unit (100).
- ``NANOS_PER_SECOND``: nanoseconds per second; clocks count nanoseconds.
- ``DAY_SECONDS``, ``WEEK_SECONDS``: seconds in a day and a week (bounds for time fields of configs).
- ``MAX_ORDER_CONTRACTS``: hard cap on one order's size, contracts (10,000).
- ``MAX_CONTRACTS``: hard cap on any position or exposure limit, contracts (1,000,000).
- ``MAX_DOLLARS``: hard cap on any dollar amount in a config, dollars (10,000,000).
- ``MAX_PAYOUT_DOLLARS``: the largest payout of one contract a venue may declare, dollars (1,000).
- ``plots``: the plotting module reports draw with (`mmframe.research.plots`: histogram, lines, bars,
  grouped_bars, heatmap, table, heading, note, page), loaded on first use (it imports plotly).
- ``DEFAULT_INCENTIVE_TERMS``: the Liquidity Incentive Program terms assumed for a market whose
  terms are unknown (an `IncentiveTerms`: a 1,000-contract target, a 0.50 discount factor).
- ``CARRY_TRADE_PREFIX``: the trade-id prefix of carried-in fills (a venue position the journal's
  fills did not explain).
- ``QUEUE_FILL_PROPERTIES``: the queue-aware fill model's settings (``fees``, ``trade_match_ms``,
  ``fill_on_cross``) as JSON-Schema properties, for the config schema of a component that runs
  `QueueFillModel` (the ``backtest`` executor, the ``paper`` venue).
- ``QUEUE_FILL_MODEL_DOC``: `QueueFillModel`'s rules as prose (a component's ``description``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from mmframe.apiversion import API_VERSION
from mmframe.clock import NANOS_PER_SECOND, Clock, LiveClock, TestClock
from mmframe.components import (
    AccountSnapshot,
    AdoptingExecutor,
    BacktestFeed,
    BudgetedExecutor,
    BurstContext,
    ComponentContext,
    ComponentSpec,
    Executor,
    Feed,
    FeedContext,
    ImmediateExecutor,
    Kind,
    MarketsListener,
    MarketView,
    OrderView,
    PortfolioView,
    PositionReader,
    RestoringSink,
    RiskRule,
    SelectingVenue,
    SimulatedExecutor,
    Sink,
    Strategy,
    Venue,
    WriteBudget,
    WriteGate,
)
from mmframe.config import (
    DAY_SECONDS,
    MAX_CONTRACTS,
    MAX_DOLLARS,
    MAX_ORDER_CONTRACTS,
    MAX_PAYOUT_DOLLARS,
    WEEK_SECONDS,
    ConfigError,
    check_writable_path,
    count_from_config,
    fraction_from_config,
    price_from_config,
    resolve_config,
)
from mmframe.configured import Configured
from mmframe.domain.actions import (
    AmendOrder,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    OrderAction,
)
from mmframe.domain.book import OrderBook
from mmframe.domain.carry import CARRY_TRADE_PREFIX, BooksReplay, CarriedState
from mmframe.domain.events import (
    BookDeltaReceived,
    BookInvalidated,
    BookSnapshotReceived,
    Event,
    FairValueUpdated,
    Leg,
    MarketEvent,
    MarketInfoReceived,
    MarketQuarantined,
    MarketReleased,
    MarketStatusChanged,
    OrderAccepted,
    OrderActionsSubmitted,
    OrderAmended,
    OrderCanceled,
    OrderDecreased,
    OrderEvent,
    OrderFilled,
    OrderGroupTriggered,
    OrderRejected,
    ParamsUpdated,
    PortfolioMarked,
    PositionMark,
    PositionReported,
    QuoteComputed,
    RiskVerdictIssued,
    RunStarted,
    RunStopped,
    TradeReported,
    TradingHalted,
    TradingPaused,
    TradingResumed,
    VenueStatusChanged,
)
from mmframe.domain.fees import FeeType, trade_fee
from mmframe.domain.grid import TickGrid
from mmframe.domain.incentive import DEFAULT_TERMS as DEFAULT_INCENTIVE_TERMS
from mmframe.domain.incentive import IncentiveTerms, incentive_score
from mmframe.domain.ledger import Ledger, Position
from mmframe.domain.market import MarketInfo
from mmframe.domain.money import (
    COUNT_SCALE,
    MICROS_PER_PRICE,
    ONE_DOLLAR,
    PRICE_SCALE,
    Count,
    FixedPointError,
    Micros,
    Price,
    contracts_to_count,
    dollars_to_price,
    format_count,
    format_price,
    micros_to_price,
    parse_count,
    parse_micros,
    parse_price,
)
from mmframe.domain.orders import OrderStatus, OrderTracker, WorkingOrder
from mmframe.domain.others import others_best, others_mid
from mmframe.domain.queue_fills import QUEUE_FILL_MODEL_DOC, QUEUE_FILL_PROPERTIES, QueueFillModel
from mmframe.domain.quote import BookSide, Level, Quote, Verdict, VerdictKind
from mmframe.domain.sim_orders import SimulatedOrders
from mmframe.embedded import ClientVenue, EmbeddedExchange, VenueEndpoint
from mmframe.hookspecs import hookimpl
from mmframe.logsampling import RateLimitedLog
from mmframe.pipeline import MarketSelection, PipelineError, load_pipeline
from mmframe.simtime import in_virtual_time, pacing_ns

__all__ = [
    "API_VERSION",
    "CARRY_TRADE_PREFIX",
    "COUNT_SCALE",
    "DAY_SECONDS",
    "DEFAULT_INCENTIVE_TERMS",
    "MAX_CONTRACTS",
    "MAX_DOLLARS",
    "MAX_ORDER_CONTRACTS",
    "MAX_PAYOUT_DOLLARS",
    "MICROS_PER_PRICE",
    "NANOS_PER_SECOND",
    "ONE_DOLLAR",
    "PRICE_SCALE",
    "QUEUE_FILL_MODEL_DOC",
    "QUEUE_FILL_PROPERTIES",
    "WEEK_SECONDS",
    "AccountSnapshot",
    "AdoptingExecutor",
    "AmendOrder",
    "BacktestFeed",
    "BookDeltaReceived",
    "BookInvalidated",
    "BookSide",
    "BookSnapshotReceived",
    "BooksReplay",
    "BudgetedExecutor",
    "BurstContext",
    "CancelOrder",
    "CarriedState",
    "ClientVenue",
    "Clock",
    "ComponentContext",
    "ComponentSpec",
    "ConfigError",
    "Configured",
    "Count",
    "CreateOrder",
    "DecreaseOrder",
    "EmbeddedExchange",
    "Event",
    "Executor",
    "FairValueUpdated",
    "FeeType",
    "Feed",
    "FeedContext",
    "FixedPointError",
    "ImmediateExecutor",
    "IncentiveTerms",
    "Kind",
    "Ledger",
    "Leg",
    "Level",
    "LiveClock",
    "MarketEvent",
    "MarketInfo",
    "MarketInfoReceived",
    "MarketQuarantined",
    "MarketReleased",
    "MarketSelection",
    "MarketStatusChanged",
    "MarketView",
    "MarketsListener",
    "Micros",
    "OrderAccepted",
    "OrderAction",
    "OrderActionsSubmitted",
    "OrderAmended",
    "OrderBook",
    "OrderCanceled",
    "OrderDecreased",
    "OrderEvent",
    "OrderFilled",
    "OrderGroupTriggered",
    "OrderRejected",
    "OrderStatus",
    "OrderTracker",
    "OrderView",
    "ParamsUpdated",
    "PipelineError",
    "PortfolioMarked",
    "PortfolioView",
    "Position",
    "PositionMark",
    "PositionReader",
    "PositionReported",
    "Price",
    "QueueFillModel",
    "Quote",
    "QuoteComputed",
    "RateLimitedLog",
    "RestoringSink",
    "RiskRule",
    "RiskVerdictIssued",
    "RunStarted",
    "RunStopped",
    "SelectingVenue",
    "SimulatedExecutor",
    "SimulatedOrders",
    "Sink",
    "Strategy",
    "TestClock",
    "TickGrid",
    "TradeReported",
    "TradingHalted",
    "TradingPaused",
    "TradingResumed",
    "Venue",
    "VenueEndpoint",
    "VenueStatusChanged",
    "Verdict",
    "VerdictKind",
    "WorkingOrder",
    "WriteBudget",
    "WriteGate",
    "check_writable_path",
    "contracts_to_count",
    "count_from_config",
    "dollars_to_price",
    "format_count",
    "format_price",
    "fraction_from_config",
    "hookimpl",
    "in_virtual_time",
    "incentive_score",
    "load_pipeline",
    "micros_to_price",
    "others_best",
    "others_mid",
    "pacing_ns",
    "parse_count",
    "parse_micros",
    "parse_price",
    "plots",
    "price_from_config",
    "resolve_config",
    "trade_fee",
]


if _TYPE_CHECKING:
    from mmframe.research import plots


def __getattr__(name: str) -> object:
    """``plots`` (`mmframe.research.plots`) is imported on first use: it loads plotly, which only
    a report needs."""
    if name == "plots":
        import mmframe.research.plots as plots

        return plots
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
