"""`Configured`: the one config helper every kind of component can build on.

A component declares itself with class attributes (``KIND``, ``NAME``, ``SUMMARY``, ``SCHEMA``,
``UPDATABLE``, ``EXAMPLE``; its docstring is the description) and converts its resolved config to
the params it reads in `parse` (dollars to price units, contracts to counts, cross-field checks).
The base resolves the config (schema defaults, exact numbers, validation: `resolve_config`), keeps
it, builds the `ComponentSpec`, and applies run-time updates all or nothing: the whole new config is
resolved and parsed before anything changes.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from mmframe.components import ComponentContext, ComponentSpec, Kind
from mmframe.config import check_updatable, resolve_config

P = TypeVar("P")


class Configured(Generic[P]):
    """Base of a component configured by a ``with:`` config: subclass it, declare the class
    attributes and implement `parse`; ``self.params`` is what `parse` returned for the current
    config, ``self.config`` that config (defaults filled in)."""

    KIND: ClassVar[Kind]
    NAME: ClassVar[str]
    SUMMARY: ClassVar[str]
    SCHEMA: ClassVar[Mapping[str, Any]]
    UPDATABLE: ClassVar[frozenset[str]] = frozenset()
    EXAMPLE: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = resolve_config(self.NAME, self.SCHEMA, config)
        self.params: P = self.parse(self._config)
        self.params_changed()

    @property
    def config(self) -> Mapping[str, Any]:
        """The current config, schema defaults filled in (numbers as Decimals)."""
        return self._config

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> Any:
        """The component factory (override to read the context, e.g. ``ctx.payout``)."""
        return cls(config)

    @classmethod
    def spec(cls) -> ComponentSpec:
        """The component's one declaration, from its class attributes and docstring."""
        return ComponentSpec(
            kind=cls.KIND,
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

    def params_changed(self) -> None:
        """Called after ``self.params`` was set (at build and after each accepted update): derive
        values from the params here, once per change rather than once per call."""

    def update_params(self, params: Mapping[str, Any]) -> None:
        """Change updatable fields; the whole new config is validated before anything changes."""
        check_updatable(self.NAME, self.UPDATABLE, params)
        config = resolve_config(self.NAME, self.SCHEMA, {**self._config, **params})
        self.params = self.parse(config)
        self._config = config
        self.params_changed()
