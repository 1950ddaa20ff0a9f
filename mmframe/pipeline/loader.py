"""Load a pipeline file: parse, apply ``--set`` overrides, interpolate the environment, type and
validate against the pipeline schema and every component's schema, and build a `Pipeline`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmframe.components import ComponentSpec, Kind
from mmframe.domain.money import COUNT_SCALE, PRICE_SCALE
from mmframe.domain.plugin_policy import PluginErrorPolicy
from mmframe.domain.reject_policy import RejectPolicy
from mmframe.pipeline.coerce import SchemaCoercer, suggest
from mmframe.pipeline.errors import OVERRIDE_SOURCE, PipelineError, PipelineIssue
from mmframe.pipeline.interpolate import interpolate
from mmframe.pipeline.model import (
    ComponentRef,
    ControlConfig,
    MarketFilters,
    MarketSelection,
    Pipeline,
    RuntimeConfig,
)
from mmframe.pipeline.overrides import apply_overrides
from mmframe.pipeline.schema import pipeline_schema
from mmframe.pipeline.tree import MAX_PIPELINE_BYTES, Node, decode_source, parse_document, too_large
from mmframe.plugins import Registry, UnknownComponentError

CONTROL_TOKEN_ENV = "MMFRAME_CONTROL_TOKEN"
"""Where the control token comes from when the file does not set ``control.token``."""

_KIND_WORDS = {Kind.VENUE: ("venue", "venues"), Kind.FEED: ("feed", "feeds"),
               Kind.STRATEGY: ("strategy", "strategies"), Kind.RISK: ("risk rule", "risk rules"),
               Kind.EXECUTOR: ("executor", "executors"), Kind.SINK: ("sink", "sinks")}


def load_pipeline(
    path: str | os.PathLike[str],
    registry: Registry,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Pipeline:
    """Load and validate the pipeline file at ``path``; raise `PipelineError` listing every problem."""
    file = str(path)
    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_PIPELINE_BYTES + 1)  # never more: an absurd file is refused unread
            if len(data) > MAX_PIPELINE_BYTES:
                raise too_large(os.fstat(stream.fileno()).st_size, file)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PipelineError([PipelineIssue(file, None, f"cannot read the file: {reason}")]) from None
    return load_pipeline_text(decode_source(data, file), file, registry, overrides, environ)


def load_pipeline_text(
    text: str,
    path: str | os.PathLike[str],
    registry: Registry,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Pipeline:
    """Like `load_pipeline`, for pipeline text already in memory (``path`` names it in errors)."""
    file = str(path)
    env = os.environ if environ is None else environ
    root = parse_document(text, file)
    expand_venue_shorthand(root)
    override_issues = apply_overrides(root, overrides)
    expand_venue_shorthand(root)
    reporter = _Reporter(file)
    interpolate(root, env, reporter)
    top = SchemaCoercer(pipeline_schema()).check(root, reporter)
    refs = _Components(registry, reporter)
    tree = root.value
    assert isinstance(tree, dict)
    venue = refs.venue(tree.get("venue"))
    strategy = refs.one(Kind.STRATEGY, tree.get("strategy"), ("strategy",))
    executor = refs.one(Kind.EXECUTOR, tree.get("executor"), ("executor",))
    feeds = refs.many(Kind.FEED, tree.get("feeds"), "feeds")
    risk = refs.many(Kind.RISK, tree.get("risk"), "risk")
    sinks = refs.many(Kind.SINK, tree.get("sinks"), "sinks")
    _check_rejects(tree.get("runtime"), top.get("runtime"), reporter)
    _duplicate_tickers(tree, reporter)
    if not reporter.issues:
        _close_window(tree, top, reporter)
    issues = override_issues + sorted(reporter.issues, key=lambda i: (i.file != OVERRIDE_SOURCE, i.line or 0))
    if issues:
        raise PipelineError(issues)
    assert venue is not None and strategy is not None
    return Pipeline(
        name=top["name"],
        path=file,
        venue=venue,
        markets=_markets(top["markets"]),
        strategy=strategy,
        feeds=feeds,
        risk=risk,
        executor=executor,
        sinks=sinks,
        control=_control(top.get("control", {}), env),
        runtime=_runtime(top.get("runtime", {})),
    )


class _Reporter:
    """Turns ``(node, key path, message)`` into located issues."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[PipelineIssue] = []

    def __call__(self, node: Node, path: str, message: str, *, plugin_broken: bool = False) -> None:
        if node.override is not None:
            self.issues.append(PipelineIssue(OVERRIDE_SOURCE, None, f"{node.override}: {message}", plugin_broken))
            return
        self.issues.append(
            PipelineIssue(self.file, node.line, f"{path}: {message}" if path else message, plugin_broken)
        )


class _Components:
    """Resolves ``{use, with}`` entries against the registry and validates each ``with:``."""

    def __init__(self, registry: Registry, report: _Reporter) -> None:
        self.registry = registry
        self.report = report

    def one(self, kind: Kind, node: Node | None, path: tuple[str | int, ...]) -> ComponentRef | None:
        if node is None or not isinstance(node.value, dict):
            return None  # absent, or its shape was already reported
        use = node.value.get("use")
        if use is None or not isinstance(use.value, str) or use.reported:
            return None
        name = use.value.strip()
        spec = self._spec(kind, name, use, ".".join(map(str, (*path, "use"))))
        config_node = node.value.get("with")
        if config_node is None:
            config_node = Node({}, node.line, override=f"{node.override}.with" if node.override else None)
        if spec is None or not _is_config(config_node):
            return None
        config = self._config(spec, config_node, (*path, "with"), use)
        return None if config is None else ComponentRef(kind, name, config, node.line, key_lines(config_node))

    def many(self, kind: Kind, node: Node | None, key: str) -> tuple[ComponentRef, ...]:
        if node is None or not isinstance(node.value, list):
            return ()
        refs = (self.one(kind, item, (key, index)) for index, item in enumerate(node.value))
        return tuple(ref for ref in refs if ref is not None)

    def venue(self, node: Node | None) -> ComponentRef | None:
        path: tuple[str, ...]
        if node is None or node.reported:
            return None
        if isinstance(node.value, str):
            name = node.value.strip()
            if not name:
                return None
            config_node = Node({}, node.line, override=node.override)
            name_node, path = node, ("venue",)
        elif isinstance(node.value, dict) and len(node.value) == 1:
            name, config_node = next(iter(node.value.items()))
            name_node, path = config_node, ("venue", name)
            if not _is_config(config_node):
                return None
        else:
            return None
        spec = self._spec(Kind.VENUE, name, name_node, "venue")
        if spec is None:
            return None
        config = self._config(spec, config_node, path, name_node)
        return None if config is None else ComponentRef(Kind.VENUE, name, config, node.line, key_lines(config_node))

    def _spec(self, kind: Kind, name: str, node: Node, path: str) -> ComponentSpec | None:
        try:
            return self.registry.get(kind, name)
        except UnknownComponentError as exc:
            singular, plural = _KIND_WORDS[kind]
            known = self.registry.names(kind)
            if node.secret:  # named by an environment variable: never echo its value
                variables = ", ".join(f"${{{var}}}" for var in node.env_vars)
                self.report(node, path, f"no {singular} is installed under the name given by {variables}; "
                                        f"installed {plural}: {', '.join(known) or 'none'}")
            elif exc.plugin_broken:
                self.report(node, path, f"{exc} (see mmframe plugins list)", plugin_broken=True)
            elif not known:
                self.report(node, path, f"unknown {singular} '{name}': no {plural} are installed "
                                        "(see mmframe plugins list)")
            else:
                hint = suggest(name, known)
                listing = "" if hint else f"; installed {plural}: {', '.join(known)}"
                elsewhere = [k for k in Kind if k is not kind and name in self.registry.names(k)]
                if elsewhere:
                    listing += f" ('{name}' is a {_KIND_WORDS[elsewhere[0]][0]})"
                self.report(node, path, f"unknown {singular} '{name}'{hint}{listing}")
            return None

    def _config(
        self, spec: ComponentSpec, node: Node, path: tuple[str | int, ...], name_node: Node
    ) -> dict[str, Any] | None:
        if isinstance(node.value, str):  # `with:` left empty
            node = Node({}, node.line, override=node.override)
        before = len(self.report.issues)
        try:
            config = SchemaCoercer(spec.config_schema, prefix=path).check(node, self.report)
        except Exception as exc:  # a plugin's broken schema must not crash the loader
            self.report(name_node, ".".join(map(str, path)),
                        f"the {spec.kind} '{spec.name}' has an invalid config schema (a plugin bug): "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            return None
        if len(self.report.issues) > before or not isinstance(config, dict):
            return None
        return config


def key_lines(node: Node, prefix: str = "") -> dict[str, int]:
    """The line of every key under a ``with:`` mapping, dotted for nested keys (a list item's index
    is a key too: ``loss_thresholds.1``)."""
    lines: dict[str, int] = {}
    value = node.value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        path = f"{prefix}{key}"
        if child.line is not None:
            lines[path] = child.line
        if not child.is_scalar:
            lines.update(key_lines(child, path + "."))
    return lines


def _duplicate_tickers(tree: dict[str, Node], report: _Reporter) -> None:
    """Report every ticker listed twice (in ``markets:`` or its ``tickers:``), at the second mention."""
    node = tree.get("markets")
    if node is not None and isinstance(node.value, dict):
        node = node.value.get("tickers")
    if node is None or not isinstance(node.value, list):
        return
    seen: dict[str, int | None] = {}
    for item in node.value:
        if not isinstance(item.value, str):
            continue
        ticker = item.value.strip()
        if ticker in seen:
            first = seen[ticker]
            where = f" (first on line {first})" if first is not None else ""
            report(item, "markets", f"ticker '{ticker}' is listed twice{where}: list each market once")
        else:
            seen[ticker] = item.line


def _close_window(tree: dict[str, Node], top: Mapping[str, Any], report: _Reporter) -> None:
    """``min_close_minutes`` after ``max_close_hours`` leaves no market to select."""
    markets = top.get("markets")
    filters = markets.get("filters", {}) if isinstance(markets, Mapping) else {}
    low, high = filters.get("min_close_minutes"), filters.get("max_close_hours")
    if isinstance(low, int) and isinstance(high, int) and low > high * 60:
        node = _child(tree["markets"], "filters", "min_close_minutes") or tree["markets"]
        report(node, "markets.filters.min_close_minutes",
               f"{low} minutes is after max_close_hours ({high} h): no market can close in that window")


def _child(node: Node, *keys: str) -> Node | None:
    for key in keys:
        if not isinstance(node.value, dict) or key not in node.value:
            return None
        node = node.value[key]
    return node


def expand_venue_shorthand(root: Node) -> None:
    """``venue: {paper: kalshi}`` means ``venue: {paper: {kalshi: {}}}``: a venue whose config names
    the venue it wraps (the ``paper`` venue takes its market data from ``kalshi``). Done on the tree,
    so overrides (``--set venue.paper.kalshi.rest_url=...``) and errors see the mapping form."""
    if not isinstance(root.value, dict):
        return
    venue = root.value.get("venue")
    if venue is None or not isinstance(venue.value, dict) or len(venue.value) != 1:
        return
    wrapped = next(iter(venue.value.values()))
    if isinstance(wrapped.value, str) and wrapped.value.strip() and "${" not in wrapped.value:
        inner = Node({}, wrapped.line, override=wrapped.override)
        wrapped.value = {wrapped.value.strip(): inner}


def _is_config(node: Node) -> bool:
    return isinstance(node.value, dict) or node.value == ""


def _units(value: Decimal | int | None, scale: int) -> int | None:
    return None if value is None else int(Decimal(value) * scale)


def _markets(raw: Any) -> MarketSelection:
    if isinstance(raw, list):
        return MarketSelection(tickers=tuple(raw))
    filters: dict[str, Any] = raw.get("filters", {})
    status = filters.get("status", ())
    return MarketSelection(
        tickers=tuple(raw.get("tickers", ())),
        series=tuple(raw.get("series", ())),
        events=tuple(raw.get("events", ())),
        patterns=tuple(raw.get("patterns", ())),
        filters=MarketFilters(
            status=(status,) if isinstance(status, str) else tuple(status),
            min_close_minutes=filters.get("min_close_minutes"),
            max_close_hours=filters.get("max_close_hours"),
            min_volume=_units(filters.get("min_volume"), COUNT_SCALE),
            min_open_interest=_units(filters.get("min_open_interest"), COUNT_SCALE),
            max_spread=_units(filters.get("max_spread"), PRICE_SCALE),
            refresh_seconds=float(filters["refresh_seconds"]) if "refresh_seconds" in filters else None,
        ),
        missing=str(raw.get("missing", "refuse")),
    )


def _control(raw: Mapping[str, Any], environ: Mapping[str, str]) -> ControlConfig:
    defaults = ControlConfig()
    return ControlConfig(
        enabled=raw.get("enabled", defaults.enabled),
        host=raw.get("host", defaults.host),
        port=raw.get("port", defaults.port),
        token=raw.get("token") or environ.get(CONTROL_TOKEN_ENV) or None,
        flatten_max_slippage=_units(raw.get("flatten_max_slippage"), PRICE_SCALE),
    )


def _runtime(raw: Mapping[str, Any]) -> RuntimeConfig:
    defaults = RuntimeConfig()
    return RuntimeConfig(
        price_tolerance=_units(raw.get("price_tolerance"), PRICE_SCALE) or defaults.price_tolerance,
        size_tolerance=_units(raw.get("size_tolerance"), COUNT_SCALE) or defaults.size_tolerance,
        housekeeping_seconds=float(raw.get("housekeeping_seconds", defaults.housekeeping_seconds)),
        shutdown_timeout_seconds=float(
            raw.get("shutdown_timeout_seconds", defaults.shutdown_timeout_seconds)
        ),
        max_intent_age_ms=int(raw.get("max_intent_age_ms", defaults.max_intent_age_ms)),
        rejects=_reject_policy(raw.get("rejects") or {}),
        plugin_errors=PluginErrorPolicy(raw.get("plugin_errors", defaults.plugin_errors)),
    )


def _check_rejects(node: Node | None, runtime: Any, report: _Reporter) -> None:
    """What the schema cannot say about ``runtime.rejects``: the longest backoff is at least the first."""
    raw = runtime.get("rejects") if isinstance(runtime, Mapping) else None
    if node is None or not isinstance(node.value, dict) or not isinstance(raw, Mapping):
        return
    default = RejectPolicy()
    first = raw.get("backoff_ms", default.backoff_ns // 1_000_000)
    longest = raw.get("max_backoff_ms", default.max_backoff_ns // 1_000_000)
    if isinstance(first, int) and isinstance(longest, int) and longest < first:
        rejects = node.value.get("rejects")
        where = rejects.value.get("max_backoff_ms") if rejects is not None and isinstance(rejects.value, dict) else None
        report(where or rejects or node, "runtime.rejects.max_backoff_ms",
               f"{longest} is shorter than backoff_ms ({first}); the longest backoff must be at least the first")


def _reject_policy(raw: Mapping[str, Any]) -> RejectPolicy:
    """``runtime.rejects`` (milliseconds and seconds) -> nanoseconds."""
    d = RejectPolicy()
    ms, s = 1_000_000, 1_000_000_000
    return RejectPolicy(
        backoff_ns=int(raw["backoff_ms"]) * ms if "backoff_ms" in raw else d.backoff_ns,
        max_backoff_ns=int(raw["max_backoff_ms"]) * ms if "max_backoff_ms" in raw else d.max_backoff_ns,
        quarantine_after=int(raw.get("quarantine_after", d.quarantine_after)),
        window_ns=int(float(raw["window_seconds"]) * s) if "window_seconds" in raw else d.window_ns,
        cooldown_ns=int(float(raw["cooldown_seconds"]) * s) if "cooldown_seconds" in raw else d.cooldown_ns,
        balance_cooldown_ns=(
            int(float(raw["balance_cooldown_seconds"]) * s)
            if "balance_cooldown_seconds" in raw
            else d.balance_cooldown_ns
        ),
    )
