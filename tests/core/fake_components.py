"""Small in-process plugins for pipeline and CLI tests (registered with ``load_registry(extra_modules=...)``)."""

from __future__ import annotations

from typing import Any

from mmframe.api import ComponentContext, ComponentSpec, Kind, hookimpl


def _build(config: dict[str, Any], context: ComponentContext) -> dict[str, Any]:
    return config


class FakeVenue:
    """A venue that builds (``mmframe check`` builds every component as ``run`` does) and never connects."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    async def open(self) -> None:
        raise RuntimeError("a test venue does not connect")

    def feed(self) -> Any:
        return object()

    def executor(self) -> Any:
        return object()

    def describe(self) -> dict[str, Any]:
        return {"venue": "fake"}

    async def close(self) -> None:
        return None


def _venue(config: dict[str, Any], context: ComponentContext) -> FakeVenue:
    if config.get("seed", 0) < 0:  # a factory that fails (a plugin bug)
        raise RuntimeError("the test venue cannot be built with a negative seed")
    return FakeVenue(config)


STRATEGY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["spread"],
    "properties": {
        "spread": {"type": "number", "minimum": 0.01, "maximum": 0.5},
        "size": {"type": "integer", "minimum": 1, "default": 10},
        "post_only": {"type": "boolean", "default": True},
        "side": {"enum": ["both", "bid", "ask"], "default": "both"},
    },
}


@hookimpl
def register_venues(register: Any) -> None:
    register(ComponentSpec(
        kind=Kind.VENUE, name="testsim", summary="An in-process test venue.", factory=_venue,
        config_schema={"type": "object", "additionalProperties": False,
                       "properties": {"seed": {"type": "integer", "default": 7}, "rest_url": {"type": "string"}}},
    ))
    register(ComponentSpec(
        kind=Kind.VENUE, name="testexchange", summary="A test venue with credentials.", factory=_venue,
        config_schema={"type": "object", "additionalProperties": False,
                       "properties": {"rest_url": {"type": "string"}, "api_key": {"type": "string"}}},
    ))


@hookimpl
def register_strategies(register: Any) -> None:
    register(ComponentSpec(
        kind=Kind.STRATEGY, name="symmetric", summary="Quotes a fixed spread around mid.", factory=_build,
        config_schema=STRATEGY_SCHEMA, example={"spread": "0.04", "size": 10}, updatable=frozenset({"spread"}),
        description="A test strategy with a schema like the real one.",
    ))


@hookimpl
def register_risk_rules(register: Any) -> None:
    register(ComponentSpec(
        kind=Kind.RISK, name="max-position", summary="Caps the position.", factory=_build,
        config_schema={"type": "object", "additionalProperties": False, "required": ["per_market"],
                       "properties": {"per_market": {"type": "integer", "minimum": 0},
                                      "total": {"type": "integer", "minimum": 0}}},
        example={"per_market": 100},
    ))


@hookimpl
def register_sinks(register: Any) -> None:
    register(ComponentSpec(
        kind=Kind.SINK, name="counter", summary="Counts events.", factory=_build,
        config_schema={"type": "object", "additionalProperties": False,
                       "properties": {"label": {"type": "string"}}},
    ))


def isolated_registry(*extra: Any) -> Any:
    """A registry of this module (plus ``extra`` modules) with every installed entry-point plugin off,
    so tests do not depend on what first-party or third-party plugins exist."""
    import importlib.metadata
    import sys

    from mmframe.plugins import DISABLE_ENV, load_registry

    installed = {ep.name for ep in importlib.metadata.entry_points(group="mmframe")}
    return load_registry(
        extra_modules=[sys.modules[__name__], *extra],
        environ={DISABLE_ENV: ",".join(sorted(installed))},
    )
