"""The typed result of loading a pipeline file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmframe.components import Kind
from mmframe.domain.money import Count, Price
from mmframe.domain.plugin_policy import PluginErrorPolicy
from mmframe.domain.reject_policy import RejectPolicy


@dataclass(frozen=True)
class ComponentRef:
    """One component named in a pipeline: its kind, registered name, typed ``with:`` config (schema
    defaults filled in) and the line that names it."""

    kind: Kind
    name: str
    config: dict[str, Any]
    line: int | None
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    """The line of each key written under ``with:`` (dotted for nested keys), so a component that
    refuses its config at build time is reported at the key it names."""

    def line_of(self, key: str | None) -> int | None:
        """The line of ``key`` (or of its closest written parent), else the component's line."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return self.line


@dataclass(frozen=True)
class MarketFilters:
    """Filters applied to markets found by series, events or patterns (never to explicit tickers).

    Money fields are in price units (1/10,000 dollar) and counts in count units (1/100 contract).
    """

    status: tuple[str, ...] = ()
    min_close_minutes: int | None = None
    max_close_hours: int | None = None
    min_volume: Count | None = None
    min_open_interest: Count | None = None
    max_spread: Price | None = None
    refresh_seconds: float | None = None


@dataclass(frozen=True)
class MarketSelection:
    """Which markets to quote: explicit tickers plus selectors resolved by the venue at run time."""

    tickers: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    filters: MarketFilters = field(default_factory=MarketFilters)
    missing: str = "refuse"
    """Explicit tickers the venue does not know: ``refuse`` to start naming them, or ``skip`` them
    with a warning."""

    @property
    def is_static(self) -> bool:
        """True when the markets are exactly ``tickers`` (no selector needs the venue)."""
        return not (self.series or self.events or self.patterns)


DEFAULT_CONTROL_HOST = "127.0.0.1"
DEFAULT_CONTROL_PORT = 3001


@dataclass(frozen=True)
class ControlConfig:
    """The HTTP control plane. ``token`` guards mutating endpoints; it is never shown in a repr."""

    enabled: bool = True
    host: str = DEFAULT_CONTROL_HOST
    port: int = DEFAULT_CONTROL_PORT
    token: str | None = field(default=None, repr=False)
    flatten_max_slippage: Price | None = None


@dataclass(frozen=True)
class RuntimeConfig:
    """Engine tunables. Tolerances are in price units (1/10,000 dollar) and count units (1/100 contract)."""

    price_tolerance: Price = 0
    size_tolerance: Count = 0
    housekeeping_seconds: float = 1.0
    shutdown_timeout_seconds: float = 30.0
    max_intent_age_ms: int = 1000
    rejects: RejectPolicy = field(default_factory=RejectPolicy)
    plugin_errors: PluginErrorPolicy = PluginErrorPolicy.QUARANTINE
    """What a plugin exception while running does (`mmframe.runtime.plugin_faults`)."""


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline file: every component resolved against the registry, every value typed."""

    name: str
    path: str
    venue: ComponentRef
    markets: MarketSelection
    strategy: ComponentRef
    feeds: tuple[ComponentRef, ...] = ()
    risk: tuple[ComponentRef, ...] = ()
    executor: ComponentRef | None = None
    sinks: tuple[ComponentRef, ...] = ()
    control: ControlConfig = field(default_factory=ControlConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def components(self) -> tuple[ComponentRef, ...]:
        """Every component in build order: venue, feeds, strategy, risk rules, executor, sinks."""
        executor = (self.executor,) if self.executor is not None else ()
        return (self.venue, *self.feeds, self.strategy, *self.risk, *executor, *self.sinks)
