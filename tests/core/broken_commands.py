"""A test plugin whose ``register_commands`` hook raises, and one whose name clashes with fake_components."""

from __future__ import annotations

from typing import Any

from mmframe.api import ComponentSpec, Kind, hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    raise RuntimeError("command hook exploded")


@hookimpl
def register_strategies(register: Any) -> None:
    register(ComponentSpec(kind=Kind.STRATEGY, name="symmetric", summary="A clash.", factory=lambda c, x: c))
