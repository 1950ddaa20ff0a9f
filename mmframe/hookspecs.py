"""Pluggy hook specifications. Every component hook is a registration hook that receives a
``register`` callback; ``register_commands`` receives the ``mmframe`` click group.

The plugin manager (`mmframe.plugins`) calls these hooks through pluggy (``pm`` hook callers), one
plugin at a time, so a plugin whose hook raises is reported by name and the others still register.
Components themselves are called by the runtime directly, never through pluggy: these hooks run
once at start-up and never on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from mmframe.components import ComponentSpec

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("mmframe")
hookimpl = pluggy.HookimplMarker("mmframe")

Register = Callable[[ComponentSpec], None]
"""The callback a registration hook receives: call it once per component with its `ComponentSpec`."""


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
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``mmframe`` click group, e.g. ``@cli.command() def mycmd(): ...``."""
