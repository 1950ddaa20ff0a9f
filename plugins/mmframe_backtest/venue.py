"""The ``backtest`` venue: no connection at all. Its feed publishes nothing and its executor is the
queue-aware simulated one, so a pipeline with ``venue: backtest`` validates and runs under
``mmframe backtest`` with its market data from backtest feeds (``replay``, ``as2008-midprice``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mmframe.api import ComponentContext, ComponentSpec, Event, Kind
from mmframe_backtest.queue import EXECUTOR_SCHEMA, QueueExecutor

_NOT_LIVE = "venue backtest has no live connection: use `mmframe backtest FILE`"


class _SilentFeed:
    """The venue's own feed: no events (market data comes from the pipeline's backtest feeds)."""

    def events(self, rng_seed: int) -> Iterator[Event]:
        return iter(())

    async def run(self, ctx: Any) -> None:
        raise RuntimeError(_NOT_LIVE)


class BacktestVenue:
    """A venue for backtests only; ``open`` refuses to go live."""

    payout = None
    """Backtest markets say their own payout (the paper market of ``as2008-midprice`` pays $1000)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._executor = QueueExecutor(config)

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> BacktestVenue:
        """The component factory; the config is the ``backtest`` executor's."""
        return cls(config)

    async def open(self) -> None:
        raise RuntimeError(_NOT_LIVE)

    def feed(self) -> _SilentFeed:
        return _SilentFeed()

    def executor(self) -> QueueExecutor:
        return self._executor

    def describe(self) -> Mapping[str, Any]:
        return {"venue": "backtest", "live": False}

    async def close(self) -> None:
        return None


SPEC = ComponentSpec(
    kind=Kind.VENUE,
    name="backtest",
    summary="No live connection: market data from backtest feeds, fills from the queue-aware simulated executor.",
    factory=BacktestVenue.build,
    config_schema=EXECUTOR_SCHEMA,
    example={},
    description=(BacktestVenue.__doc__ or "").strip(),
)
