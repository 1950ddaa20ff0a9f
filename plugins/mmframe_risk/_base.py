"""What every risk rule shares: a resolved config, converted params, run-time updates."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from mmframe.api import ComponentContext, ComponentSpec, Event, Kind, check_updatable, resolve_config

P = TypeVar("P")


class ConfiguredRule(Generic[P]):
    """Base of the rules: ``NAME``, ``SCHEMA`` and ``UPDATABLE`` declare the rule; `parse` turns a
    resolved config into the params the rule reads (``self.params``)."""

    NAME: ClassVar[str]
    SUMMARY: ClassVar[str]
    SCHEMA: ClassVar[dict[str, Any]]
    UPDATABLE: ClassVar[frozenset[str]]
    EXAMPLE: ClassVar[dict[str, Any]]

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = resolve_config(self.NAME, self.SCHEMA, config)
        self.params: P = self.parse(self._config)

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> ConfiguredRule[P]:
        """The component factory."""
        return cls(config)

    @classmethod
    def spec(cls) -> ComponentSpec:
        """The rule's one declaration."""
        return ComponentSpec(
            kind=Kind.RISK,
            name=cls.NAME,
            summary=cls.SUMMARY,
            factory=cls.build,
            config_schema=cls.SCHEMA,
            example=cls.EXAMPLE,
            updatable=cls.UPDATABLE,
            description=inspect.cleandoc(cls.__doc__ or ""),
        )

    def parse(self, config: Mapping[str, Any]) -> P:
        """Convert a resolved config to params (price and count units); raise `ConfigError`."""
        raise NotImplementedError

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Change updatable fields; the whole new config is validated before anything changes."""
        check_updatable(self.NAME, self.UPDATABLE, params)
        config = resolve_config(self.NAME, self.SCHEMA, {**self._config, **params})
        self.params = self.parse(config)
        self._config = config

    def observe(self, event: Event) -> None:
        """Most rules keep no counters."""


def schema(properties: dict[str, Any], title: str) -> dict[str, Any]:
    """A rule's config schema: Draft 2020-12, closed object."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
