"""Pluggy hook specifications. Every hook is a registration hook that receives a ``register`` callback.

Components are called by the runtime directly, never through pluggy, so these hooks run once at
start-up and never on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("mmframe")
hookimpl = pluggy.HookimplMarker("mmframe")

Register = Callable[[Any], None]


@hookspec
def register_venues(register: Register) -> None:
    """Register venues: call ``register(ComponentSpec(kind=Kind.VENUE, ...))`` once per venue.

    A venue's factory returns a `Venue` that owns one connection shared by its feed and executor.
    """


@hookspec
def register_feeds(register: Register) -> None:
    """Register extra feeds (``feeds:`` in a pipeline): ``register(ComponentSpec(kind=Kind.FEED, ...))``."""


@hookspec
def register_strategies(register: Register) -> None:
    """Register strategies: ``register(ComponentSpec(kind=Kind.STRATEGY, ...))``."""


@hookspec
def register_risk_rules(register: Register) -> None:
    """Register risk rules: ``register(ComponentSpec(kind=Kind.RISK, ...))``."""


@hookspec
def register_executors(register: Register) -> None:
    """Register executors: ``register(ComponentSpec(kind=Kind.EXECUTOR, ...))``."""


@hookspec
def register_sinks(register: Register) -> None:
    """Register sinks: ``register(ComponentSpec(kind=Kind.SINK, ...))``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``mmframe`` click group, e.g. ``@cli.command() def mycmd(): ...``."""
