"""Plugin discovery: first-party and third-party plugins through the ``mmframe`` entry point group.

Every plugin is loaded and every registration hook is called through pluggy, one plugin at a time
(a hook caller of that plugin's implementations only), so a plugin that fails to import, raises in a
hook, registers a name twice, implements a hook that does not exist or forgets ``@hookimpl`` is
recorded as broken (kind, name, error) and the rest of the registry works as usual. A plugin whose
declared API range (`mmframe.apiversion`) excludes this core's version is listed with the status
``api-mismatch`` and none of its components can be used.
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
from typing import TYPE_CHECKING, Any

import pluggy

from mmframe import hookspecs
from mmframe.apiversion import API_VERSION, REQUIRES_ATTRIBUTE, api_range_problem
from mmframe.components import ComponentContext, ComponentSpec, Kind

if TYPE_CHECKING:
    import click

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
    api_mismatch: bool = False
    """The plugin declares an API range (`REQUIRES_ATTRIBUTE`) that excludes this core's version."""

    @property
    def status(self) -> str:
        """``ok``, ``api-mismatch`` (the plugin needs another API version) or ``error``."""
        if self.api_mismatch:
            return "api-mismatch"
        return "ok" if self.error is None else "error"

    @property
    def summary(self) -> str:
        return self.spec.summary if self.spec else ""


class UnknownComponentError(LookupError):
    """A pipeline names a component that is not registered (or is broken). ``plugin_broken``: a
    broken plugin is (or may be) behind it, and the message names it with its error."""

    def __init__(self, message: str, *, plugin_broken: bool = False) -> None:
        super().__init__(message)
        self.plugin_broken = plugin_broken


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
        mismatch = None
        if hasattr(module, REQUIRES_ATTRIBUTE):
            mismatch = api_range_problem(getattr(module, REQUIRES_ATTRIBUTE), API_VERSION)
        try:
            self.manager.register(module, name=name)
        except Exception as exc:  # pluggy refused a hookimpl (e.g. an argument no spec has)
            self._record_broken(info, f"{type(exc).__name__}: {exc}")
            return
        self.plugins.append(info)
        for problem in _hook_problems(self.manager, module):
            self._entries.append(RegistryEntry("plugin", name, package, version, None, problem))
        others = [plugin for plugin in self.manager.get_plugins() if plugin is not module]
        before = len(self._entries)
        for kind, hook_name in _HOOK_BY_KIND.items():
            caller = self.manager.subset_hook_caller(hook_name, remove_plugins=others)
            if not caller.get_hookimpls():
                continue
            try:
                caller(register=self._registrar(kind, info, mismatch))
            except Exception as exc:
                self._entries.append(
                    RegistryEntry(kind, name, package, version, None, _describe(exc, f"{hook_name} raised"),
                                  api_mismatch=mismatch is not None)
                )
        if mismatch is not None and len(self._entries) == before:  # no component to show it on
            self._entries.append(RegistryEntry("plugin", name, package, version, None, mismatch, api_mismatch=True))

    def add_commands(self, cli: click.Group) -> list[str]:
        """Call every plugin's ``register_commands(cli=...)`` through pluggy, one plugin at a time;
        one line per plugin whose hook raised (the others' commands are added)."""
        problems = []
        for info in self.plugins:
            if info.module is None:
                continue
            others = [plugin for plugin in self.manager.get_plugins() if plugin is not info.module]
            caller = self.manager.subset_hook_caller("register_commands", remove_plugins=others)
            if not caller.get_hookimpls():
                continue
            try:
                caller(cli=cli)
            except Exception as exc:  # a broken plugin must not take the CLI down
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())
                problems.append(f"plugin {info.name} ({info.package}): register_commands failed: {reason}")
        return problems

    def add_broken(self, name: str, package: str, version: str, error: str) -> None:
        """Record a plugin that could not even be imported."""
        self._record_broken(PluginInfo(name, package, version, None, error), error)

    def _record_broken(self, info: PluginInfo, error: str) -> None:
        self.plugins.append(PluginInfo(info.name, info.package, info.version, None, error))
        self._entries.append(RegistryEntry("plugin", info.name, info.package, info.version, None, error))

    def _registrar(self, kind: Kind, info: PluginInfo, mismatch: str | None) -> Callable[[Any], None]:
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
            if mismatch is not None:  # listed, never built: it was written for another API
                self._entries.append(
                    RegistryEntry(kind, spec.name, info.package, info.version, None, mismatch, api_mismatch=True)
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
            raise UnknownComponentError(f"{kind} {name!r} is broken: {broken[0].error}", plugin_broken=True)
        note = self.import_failure_note(name)
        raise UnknownComponentError(f"unknown {kind} {name!r}" + (f": {note}" if note else ""),
                                    plugin_broken=bool(note))

    def import_failures(self) -> list[PluginInfo]:
        """Plugins that could not be loaded at all (their import failed): they registered nothing,
        so any of them may be the one that provides a component a pipeline names."""
        return [p for p in self.plugins if p.module is None and p.error]

    def import_failure_note(self, name: str) -> str:
        """For a component ``name`` nobody registered: the plugins that failed to import and may
        provide it (the one named like it, else all of them), with their errors; "" when none did."""
        failures = self.import_failures()
        wanted = {_normal(name), _normal(f"mmframe-{name}")}
        likely = [p for p in failures if _normal(p.name) in wanted or _normal(p.package) in wanted]
        if likely:
            p = likely[0]
            return f"plugin '{p.name}' ({p.package} {p.version}) is broken: {p.error}"
        if not failures:
            return ""
        listed = "; ".join(f"'{p.name}' ({p.package} {p.version}): {p.error}" for p in failures[:3])
        more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
        return f"{len(failures)} plugin(s) that may provide it are broken: {listed}{more}"


def _hook_problems(manager: pluggy.PluginManager, module: ModuleType) -> list[str]:
    """A plugin's hook mistakes pluggy would pass over silently: an ``@hookimpl`` that matches no
    hook spec (a misspelt name), a hook-named function without ``@hookimpl`` (never called)."""
    known = sorted(name for name in dir(hookspecs) if name.startswith("register_"))
    problems = []
    for caller in manager.get_hookcallers(module) or []:
        if not caller.has_spec():
            problems.append(f"@hookimpl {caller.name} matches no mmframe hook (hooks: {', '.join(known)})")
    for hook_name in known:
        function = getattr(module, hook_name, None)
        if callable(function) and manager.parse_hookimpl_opts(module, hook_name) is None:
            problems.append(f"{hook_name} is not marked @hookimpl (from mmframe.api import hookimpl), so it is "
                            "never called")
    return problems


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
    """``prefix: Type: message (file:line)``: where the plugin's own code failed."""
    where = error_location(exc)
    text = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    return f"{prefix}: {type(exc).__name__}: {text}" + (f" ({where})" if where else "")


def error_location(exc: BaseException) -> str:
    """``file:line`` of the code that raised ``exc``: the file and line a `SyntaxError` names, else
    the innermost frame of real source (the import machinery's ``<frozen ...>`` frames skipped)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}" if exc.lineno else exc.filename
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


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
