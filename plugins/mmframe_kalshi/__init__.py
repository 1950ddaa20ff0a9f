"""mmframe_kalshi: the Kalshi venue (Trade API v2 + WebSocket v2), written against `mmframe.api` only.

Modules, one job each:

- `credentials` — key id + RSA/Ed25519 private key from config or ``KALSHI_*`` environment
- `auth` — request signing, and pre-signing to keep RSA off the critical path
- `errors` — typed exceptions carrying Kalshi's code, message, details and HTTP status
- `limiter` — client-side read/write token buckets (cancels before creates)
- `models` — typed REST results with exact integer prices and counts
- `rest` — `KalshiRestClient`: signed, rate-limited, retrying REST calls
- `ws` — `KalshiWebSocket`: signed connection, subscriptions, seq-gap recovery, reconnects
- `parsing` — WebSocket messages -> mmframe events
- `session` — `KalshiSession`: one account and one connection shared by feed and executor
- `feed` — `KalshiFeed` (mmframe.api.Feed)
- `executor` — `KalshiExecutor` (mmframe.api.Executor, ImmediateExecutor, BudgetedExecutor), split by
  job: `dispatch` (queue, request slots, the gate at the moment of writing), `outcomes` (answers ->
  order events), `account` (account channels -> fills and order updates), `recovery` (startup read,
  reconnects, unknown outcomes), `sweep` (cancel-all until nothing rests), `budget` (write tokens);
  it keeps no order state (the runtime's tracker does)

- `venue` — the ``sim``, ``kalshi-demo`` and ``kalshi`` venues over one session
- `paper` — the ``paper`` venue: a read-only session's market data, our orders filled locally by
  `mmframe.api.QueueFillModel` (the backtests' fill model); `readonly` is the transport that makes
  the session unable to write
- `selection` — market selection (series, events, glob patterns, filters)
- `doctor`, `record` — the ``mmframe doctor`` and ``mmframe record`` commands
- `replay` — the ``replay`` backtest feed: reads what ``mmframe record`` wrote (docs/replay-format.md)

Heavy modules load only when a venue is built or a command runs, so ``mmframe plugins list`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from mmframe.api import hookimpl

MMFRAME_API = ">=1.2,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


@hookimpl
def register_venues(register: Any) -> None:
    """The ``sim``, ``kalshi-demo`` and ``kalshi`` venues, and ``paper`` (live data, local fills)."""
    from mmframe_kalshi.paper import PAPER_SPEC
    from mmframe_kalshi.venue import VENUE_SPECS

    for spec in (*VENUE_SPECS, PAPER_SPEC):
        register(spec)


@hookimpl
def register_feeds(register: Any) -> None:
    """The ``replay`` feed (recorded Kalshi messages, for backtests)."""
    from mmframe_kalshi.replay import SPEC

    register(SPEC)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """``mmframe doctor`` and ``mmframe record``."""
    from mmframe_kalshi.doctor import doctor_command
    from mmframe_kalshi.record import record_command

    cli.add_command(doctor_command)
    cli.add_command(record_command)
