"""Backtesting components: the ``backtest`` venue, the ``as2008-midprice`` feed, and the ``backtest``
(queue-aware) and ``as2008-fills`` simulated executors. Run with ``mmframe backtest``.

Recorded Kalshi data replays through the ``replay`` feed, which the Kalshi plugin ships beside its
recorder (the format's one owner); this plugin drives any `mmframe.api.BacktestFeed` alike."""

from __future__ import annotations

from typing import Any

from mmframe.api import hookimpl
from mmframe_backtest import as2008, queue, venue

MMFRAME_API = ">=1.0,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


@hookimpl
def register_venues(register: Any) -> None:
    """The ``backtest`` venue."""
    register(venue.SPEC)


@hookimpl
def register_feeds(register: Any) -> None:
    """The backtest feeds."""
    register(as2008.FEED_SPEC)


@hookimpl
def register_executors(register: Any) -> None:
    """The simulated executors."""
    register(queue.SPEC)
    register(as2008.EXECUTOR_SPEC)
