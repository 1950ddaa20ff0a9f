"""Plugin discovery: first-party and third-party plugins through the ``mmframe`` entry point group.

Every plugin is loaded and every registration hook is called in isolation: a plugin that fails to
import, raises in a hook or registers a name twice is recorded as broken (kind, name, error) and
the rest of the registry works as usual.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from mmframe import hookspecs
from mmframe.components import ComponentContext, ComponentSpec, Kind

ENTRY_POINT_GROUP = "mmframe"
DISABLE_ENV = "MMFRAME_DISABLE_PLUGINS"

_HOOK_BY_KIND: dict[Kind, str] = {
    Kind.VENUE: "register_venues",
    Kind.FEED: "register_feeds",
    Kind.STRATEGY: "register_strategies",
    Kind.RISK: "register_risk_rules",
    Kind.EXECUTOR: "register_executors",
    Kind.SINK: "register_sinks",
}


@dataclass(frozen=True)
class PluginInfo:
    """One loaded (or broken) plugin: its entry-point name and the distribution that ships it."""

    name: str
    package: str
    version: str
    module: ModuleType | None
    error: str | None = None


@dataclass(frozen=True)
class RegistryEntry:
    """One component in the registry, or the record of one that failed to register."""

    kind: Kind | str
    name: str
    package: str
    version: str
    spec: ComponentSpec | None
    error: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "error"

    @property
    def summary(self) -> str:
        return self.spec.summary if self.spec else ""


class UnknownComponentError(LookupError):
    """A pipeline names a component that is not registered (or is broken)."""


class Registry:
    """All components by kind and name, plus the broken plugins."""

    def __init__(self) -> None:
        self.plugins: list[PluginInfo] = []
        self._entries: list[RegistryEntry] = []
        self._by_key: dict[tuple[Kind, str], RegistryEntry] = {}
        self._linked: set[int] = set()
        self.manager = pluggy.PluginManager("mmframe")
        self.manager.add_hookspecs(hookspecs)

    # --- loading --------------------------------------------------------------------------------

    def add_plugin(self, module: ModuleType, *, name: str, package: str, version: str) -> None:
        """Register ``module`` as a plugin and collect its components in isolation."""
        info = PluginInfo(name=name, package=package, version=version, module=module)
        try:
            self.manager.register(module, name=name)
        except Exception as exc:
            self._record_broken(info, f"{type(exc).__name__}: {exc}")
            return
        self.plugins.append(info)
        for kind, hook_name in _HOOK_BY_KIND.items():
            hook = getattr(module, hook_name, None)
            if hook is None:
                continue
            try:
                hook(register=self._registrar(kind, info))
            except Exception as exc:
                self._entries.append(
                    RegistryEntry(kind, name, package, version, None, _describe(exc, f"{hook_name} raised"))
                )

    def add_broken(self, name: str, package: str, version: str, error: str) -> None:
        """Record a plugin that could not even be imported."""
        self._record_broken(PluginInfo(name, package, version, None, error), error)

    def _record_broken(self, info: PluginInfo, error: str) -> None:
        self.plugins.append(PluginInfo(info.name, info.package, info.version, None, error))
        self._entries.append(RegistryEntry("plugin", info.name, info.package, info.version, None, error))

    def _registrar(self, kind: Kind, info: PluginInfo) -> Callable[[Any], None]:
        def register(spec: Any) -> None:
            if not isinstance(spec, ComponentSpec):
                raise TypeError(f"register() takes a ComponentSpec, got {type(spec).__name__}")
            if spec.kind is not kind:
                raise ValueError(f"{spec.name!r} is a {spec.kind} registered through the {kind} hook")
            key = (kind, spec.name)
            if key in self._by_key:
                first = self._by_key[key]
                self._entries.append(
                    RegistryEntry(
                        kind,
                        spec.name,
                        info.package,
                        info.version,
                        None,
                        f"duplicate {kind} name {spec.name!r}: already registered by {first.package}",
                    )
                )
                return
            entry = RegistryEntry(kind, spec.name, info.package, info.version, spec)
            self._by_key[key] = entry
            self._entries.append(entry)

        return register

    def link_clients(self) -> None:
        """Complete every venue that embeds an exchange (`ComponentSpec.client`) with its client venue,
        once all plugins are in: the client's config keys join its schema and its factory builds
        the client around the exchange. One whose client is missing or broken is recorded as broken."""
        for index, entry in enumerate(self._entries):
            spec = entry.spec
            if spec is None or spec.client is None or id(spec) in self._linked:
                continue
            key = (Kind(entry.kind), entry.name)
            client = self._by_key.get((Kind.VENUE, spec.client.name))
            if client is None or client.spec is None:
                missing = f"needs the venue {spec.client.name!r} to trade on its exchange, which is not registered"
                self._entries[index] = RegistryEntry(entry.kind, entry.name, entry.package, entry.version, None,
                                                     missing)
                self._by_key.pop(key, None)
                continue
            linked = dataclasses.replace(entry, spec=with_client(spec, client.spec))
            self._linked.add(id(linked.spec))
            self._entries[index] = linked
            self._by_key[key] = linked

    # --- queries --------------------------------------------------------------------------------

    def entries(self, kind: Kind | None = None) -> list[RegistryEntry]:
        """Every entry (broken ones included), sorted by kind then name."""
        rows = [e for e in self._entries if kind is None or e.kind == kind]
        return sorted(rows, key=lambda e: (str(e.kind), e.name))

    def names(self, kind: Kind) -> list[str]:
        """The names of the working components of ``kind``."""
        return sorted(name for (k, name) in self._by_key if k is kind)

    def get(self, kind: Kind, name: str) -> ComponentSpec:
        """The spec of a working component, or `UnknownComponentError` (with a broken one's error)."""
        entry = self._by_key.get((kind, name))
        if entry is not None and entry.spec is not None:
            return entry.spec
        broken = [e for e in self._entries if e.kind == kind and e.name == name and e.error]
        if broken:
            raise UnknownComponentError(f"{kind} {name!r} is broken: {broken[0].error}")
        raise UnknownComponentError(f"unknown {kind} {name!r}")

    def commands_hook(self) -> Any:
        """The pluggy hook caller for ``register_commands``."""
        return self.manager.hook.register_commands


def with_client(spec: ComponentSpec, client: ComponentSpec) -> ComponentSpec:
    """``spec`` (a venue embedding an exchange) completed with its ``client`` venue: its own config
    keys first, then the client's less `ClientVenue.omit`; the factory builds the exchange from the
    own keys and the client from the rest, with `ComponentContext.exchange` set."""
    assert spec.client is not None
    own = dict(spec.config_schema.get("properties", {}))
    omit = spec.client.omit
    theirs = {k: v for k, v in client.config_schema.get("properties", {}).items() if k not in omit and k not in own}
    schema = {**spec.config_schema, "additionalProperties": False, "properties": {**own, **theirs}}
    required = [*spec.config_schema.get("required", ()), *(r for r in client.config_schema.get("required", ())
                                                            if r in theirs)]
    if required:
        schema["required"] = required
    embed, build_client = spec.factory, client.factory

    def build(config: dict[str, Any], ctx: ComponentContext) -> Any:
        exchange = embed({k: v for k, v in config.items() if k in own}, ctx)
        client_config = {k: v for k, v in config.items() if k not in own}
        return build_client(client_config, dataclasses.replace(ctx, exchange=exchange))

    return dataclasses.replace(spec, factory=build, config_schema=schema,
                               updatable=spec.updatable | (client.updatable - omit))


def _describe(exc: BaseException, prefix: str) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{prefix}: {type(exc).__name__}: {exc}{where}"


def disabled_plugins(environ: dict[str, str] | None = None) -> set[str]:
    """Plugin names turned off by ``MMFRAME_DISABLE_PLUGINS=a,b``."""
    raw = (environ if environ is not None else dict(os.environ)).get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def load_registry(
    *, extra_modules: Iterable[ModuleType] = (), environ: dict[str, str] | None = None
) -> Registry:
    """Discover every plugin in the ``mmframe`` entry point group (built-ins included).

    ``extra_modules`` are registered as well (tests use it for in-process plugins).
    """
    registry = Registry()
    disabled = disabled_plugins(environ)
    seen: set[str] = set()
    for ep in sorted(_entry_points(), key=lambda e: e.name):
        if ep.name in disabled or ep.name in seen:
            continue
        seen.add(ep.name)
        dist = ep.dist
        package = dist.metadata["Name"] if dist is not None else ep.module
        version = dist.version if dist is not None else "?"
        try:
            module = ep.load()
        except Exception as exc:
            registry.add_broken(ep.name, package, version, _describe(exc, "import failed"))
            continue
        if not isinstance(module, ModuleType):
            module = importlib.import_module(ep.module)
        registry.add_plugin(module, name=ep.name, package=package, version=version)
    for module in extra_modules:
        name = module.__name__
        if name not in disabled:
            registry.add_plugin(module, name=name, package=name, version="local")
    registry.link_clients()
    return registry
