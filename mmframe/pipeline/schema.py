"""JSON Schemas of a pipeline file: the static one, and the full one with every component folded in.

The static schema (`pipeline_schema`) treats each component's ``with:`` as an object; each
component's own ``config_schema`` is applied separately, so errors point at the component. The
full schema (`full_schema`) is for editors: every ``{use, with}`` becomes a ``oneOf`` over the
installed components of that kind. ``mmframe schema --write schemas`` writes the committed copies.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmframe.components import Kind
from mmframe.config import DAY_SECONDS, MAX_ORDER_CONTRACTS
from mmframe.plugins import Registry, RegistryEntry

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_MARKETS = 10_000
WRAPS_KEY = "x-wraps-venues"
"""A venue config schema's list of the venues it may wrap by name: ``venue: {paper: kalshi}`` is then
shorthand for ``{paper: {kalshi: {}}}`` (the loader expands it; editors accept both)."""
"""The most tickers a pipeline may list (one process quotes about 2,000 markets within its budget)."""
FIRST_PARTY_PACKAGE = "mmframe"

_SPREAD = {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "multipleOf": 0.0001,
           "description": "A price distance in dollars: below $1, at most 4 decimal places."}
_CONTRACTS = {"type": "number", "minimum": 0, "maximum": MAX_ORDER_CONTRACTS, "multipleOf": 0.01,
              "description": "A number of contracts, at most 2 decimal places."}
_SECONDS = {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.001}
_VOLUME = {"type": "number", "minimum": 0, "maximum": 10**12, "multipleOf": 0.01,
           "description": "A number of contracts traded or open, at most 2 decimal places."}
_TICKER = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
    "minLength": 1,
    "maxLength": 128,
    "x-error": "must be a Kalshi ticker: ASCII letters, digits, '.', '-' and '_' (e.g. KXHIGHNY-26NOV27-T60)",
}
_TICKERS = {"type": "array", "maxItems": MAX_MARKETS, "items": {"$ref": "#/$defs/ticker"}}
def _component(kind: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A {kind}: the registered name in `use`, its config in `with`.",
        "required": ["use"],
        "additionalProperties": False,
        "properties": {
            "use": {"type": "string", "minLength": 1, "description": f"The {kind}'s registered name."},
            "with": {"type": "object", "description": f"The {kind}'s config (see `mmframe plugins show`)."},
        },
    }


_STATIC: dict[str, Any] = {
    "$schema": SCHEMA_DIALECT,
    "title": "mmframe pipeline",
    "description": "A pipeline: a venue, the markets, a strategy, risk rules, sinks and the control plane.",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "venue", "markets", "strategy"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 64,
                 "description": "The pipeline's name (logs, sinks, client order ids)."},
        "venue": {
            "description": "The venue by name (`sim`, `kalshi-demo`, `kalshi`), `{name: {config}}`, or a venue "
                           "wrapping another: `{paper: kalshi}`.",
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "object", "minProperties": 1, "maxProperties": 1,
                 "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "string", "minLength": 1}]}},
            ],
        },
        "markets": {
            "description": "A list of tickers, or selectors resolved by the venue.",
            "oneOf": [
                {"type": "array", "minItems": 1, "maxItems": MAX_MARKETS, "items": {"$ref": "#/$defs/ticker"}},
                {"$ref": "#/$defs/marketSelector"},
            ],
        },
        "feeds": {"type": "array", "items": {"$ref": "#/$defs/feed"},
                  "description": "Extra feeds besides the venue's own."},
        "strategy": {"$ref": "#/$defs/strategy"},
        "risk": {"type": "array", "items": {"$ref": "#/$defs/risk"},
                 "description": "Risk rules, applied in this order."},
        "executor": {"$ref": "#/$defs/executor"},
        "sinks": {"type": "array", "items": {"$ref": "#/$defs/sink"}},
        "control": {"$ref": "#/$defs/control"},
        "runtime": {"$ref": "#/$defs/runtime"},
    },
    "$defs": {
        "ticker": _TICKER,
        "marketSelector": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["tickers"]}, {"required": ["series"]}, {"required": ["events"]},
                      {"required": ["patterns"]}],
            "properties": {
                "tickers": _TICKERS,
                "series": _TICKERS,
                "events": _TICKERS,
                "patterns": {"type": "array", "maxItems": 1000,
                             "items": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]+$",
                                       "x-error": "must be a glob pattern of ASCII characters"},
                             "description": "Glob patterns over tickers, e.g. KXHIGHNY-*."},
                "filters": {"$ref": "#/$defs/marketFilters"},
                "missing": {
                    "enum": ["refuse", "skip"],
                    "default": "refuse",
                    "description": "Tickers listed in `tickers` that the venue does not know: `refuse` to start, "
                    "naming them, or `skip` them with a warning and quote the rest.",
                },
            },
        },
        "marketFilters": {
            "type": "object",
            "additionalProperties": False,
            "description": "Filters for markets found by series, events or patterns.",
            "properties": {
                "status": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                           "description": "Market statuses to keep, e.g. active."},
                "min_close_minutes": {"type": "integer", "minimum": 0, "maximum": 525_600},
                "max_close_hours": {"type": "integer", "minimum": 0, "maximum": 87_600},
                "min_volume": _VOLUME,
                "min_open_interest": _VOLUME,
                "max_spread": _SPREAD,
                "refresh_seconds": {**_SECONDS, "maximum": DAY_SECONDS},
            },
        },
        "feed": _component("feed"),
        "strategy": _component("strategy"),
        "risk": _component("risk rule"),
        "executor": _component("executor"),
        "sink": _component("sink"),
        "control": {
            "type": "object",
            "additionalProperties": False,
            "description": "The HTTP control plane. The token may come from ${MMFRAME_CONTROL_TOKEN}.",
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                "host": {"type": "string", "minLength": 1, "maxLength": 255, "default": "127.0.0.1"},
                "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 3001},
                "token": {"type": "string", "minLength": 1},
                "flatten_max_slippage": _SPREAD,
            },
        },
        "runtime": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "price_tolerance": {**_SPREAD, "default": 0},
                "size_tolerance": {**_CONTRACTS, "default": 0},
                "housekeeping_seconds": {**_SECONDS, "maximum": 3600, "default": 1},
                "shutdown_timeout_seconds": {
                    **_SECONDS,
                    "maximum": 3600,
                    "default": 30,
                    "description": "The stop's deadline: cancels are retried through 429s, 5xx and network "
                    "errors until then; the exit is non-zero (naming every order left) if any still rests.",
                },
                "rejects": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "After venue rejects: backoff per market and reason, quarantine of a market, "
                    "and an account-wide stop of creates on insufficient_balance.",
                    "properties": {
                        "backoff_ms": {"type": "integer", "minimum": 1, "maximum": 600000, "default": 250,
                                       "description": "First backoff after a reject (doubles per repeat, jittered)."},
                        "max_backoff_ms": {"type": "integer", "minimum": 1, "maximum": 3600000, "default": 30000,
                                           "description": "Longest backoff (at least backoff_ms)."},
                        "quarantine_after": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 5,
                                             "description": "Rejects in one market within window_seconds that "
                                             "quarantine it (orders pulled until /resume or the cool-down)."},
                        "window_seconds": {**_SECONDS, "maximum": 86400, "default": 60},
                        "cooldown_seconds": {**_SECONDS, "maximum": 86400, "default": 300,
                                             "description": "How long a quarantine lasts without an operator "
                                             "resume."},
                        "balance_cooldown_seconds": {
                            **_SECONDS, "maximum": 86400, "default": 30,
                            "description": "Longest stop of creates in every market after insufficient_balance "
                            "(it ends sooner on a fill or position report: the balance changed)."},
                    },
                },
                "plugin_errors": {
                    "enum": ["quarantine", "stop"],
                    "default": "quarantine",
                    "description": "A plugin (strategy, risk rule, feed) that raises while running: quarantine "
                    "the market it failed on (its orders pulled, an alert; the others keep quoting) or stop the "
                    "daemon. Either way the log names the plugin and the file:line. A sink that raises is "
                    "logged and the run goes on.",
                },
                "max_intent_age_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 60000,
                    "default": 1000,
                    "description": "No create or amend decided longer ago than this is written to the venue.",
                },
            },
        },
    },
}

_KIND_DEFS = {Kind.FEED: "feed", Kind.STRATEGY: "strategy", Kind.RISK: "risk", Kind.EXECUTOR: "executor",
              Kind.SINK: "sink"}


def pipeline_schema() -> dict[str, Any]:
    """The static schema of a pipeline file (a fresh copy)."""
    return copy.deepcopy(_STATIC)


def _def_name(kind: Kind, name: str) -> str:
    return f"{kind.value}:{name}"


def _folded_config(entry: RegistryEntry) -> dict[str, Any]:
    assert entry.spec is not None
    schema = copy.deepcopy(dict(entry.spec.config_schema))
    schema.pop("$schema", None)
    if "$ref" in json.dumps(schema):
        schema.setdefault("$id", f"urn:mmframe:{entry.spec.kind.value}:{entry.spec.name}")
    return schema


def full_schema(registry: Registry) -> dict[str, Any]:
    """The pipeline schema with every working component's config folded in, for editors."""
    schema = pipeline_schema()
    defs = schema["$defs"]
    for kind, def_name in _KIND_DEFS.items():
        entries = [e for e in registry.entries(kind) if e.spec is not None]
        if not entries:
            continue
        generic = defs[def_name]
        branches = []
        for entry in entries:
            assert entry.spec is not None
            key = _def_name(kind, entry.name)
            defs[key] = _folded_config(entry)
            needs_config = bool(entry.spec.config_schema.get("required"))
            branches.append({
                "type": "object",
                "description": entry.spec.summary,
                "required": ["use", "with"] if needs_config else ["use"],
                "additionalProperties": False,
                "properties": {"use": {"const": entry.name}, "with": {"$ref": f"#/$defs/{key}"}},
            })
        defs[def_name] = {"description": generic["description"], "oneOf": branches}
    venues = [e for e in registry.entries(Kind.VENUE) if e.spec is not None]
    if venues:
        venue_props: dict[str, Any] = {}
        for entry in venues:
            assert entry.spec is not None
            key = _def_name(Kind.VENUE, entry.name)
            defs[key] = _folded_config(entry)
            venue_props[entry.name] = {"$ref": f"#/$defs/{key}"}
            wraps = entry.spec.config_schema.get(WRAPS_KEY)
            if wraps:  # `venue: {paper: kalshi}`, shorthand for `{paper: {kalshi: {}}}`
                venue_props[entry.name] = {"anyOf": [{"enum": list(wraps)}, {"$ref": f"#/$defs/{key}"}]}
        schema["properties"]["venue"]["oneOf"] = [
            {"enum": [e.name for e in venues]},
            {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
             "properties": venue_props},
        ]
    return schema


def component_schema_document(entry: RegistryEntry) -> dict[str, Any]:
    """One component's config schema as a standalone document (``schemas/components/...``)."""
    assert entry.spec is not None
    document: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": f"mmframe {entry.spec.kind.value} '{entry.name}'",
        "description": entry.spec.summary,
    }
    for key, value in entry.spec.config_schema.items():
        if key not in ("$schema", "title"):
            document[key] = copy.deepcopy(value)
    return document


def schema_files(registry: Registry) -> dict[str, str]:
    """What ``mmframe schema --write DIR`` writes: relative path -> JSON text.

    The static pipeline schema, plus one file per first-party component; third-party components
    are left out so the committed directory does not depend on what else is installed.
    """
    files = {"pipeline.schema.json": to_json(pipeline_schema())}
    for entry in registry.entries():
        if entry.spec is None or entry.package != FIRST_PARTY_PACKAGE:
            continue
        files[f"components/{entry.spec.kind.value}/{entry.name}.schema.json"] = to_json(
            component_schema_document(entry)
        )
    return files


def write_schemas(directory: Path, registry: Registry) -> list[Path]:
    """Write `schema_files` under ``directory``; the paths written."""
    written = []
    for relative, text in sorted(schema_files(registry).items()):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def to_json(document: Mapping[str, Any]) -> str:
    """Stable, readable JSON (sorted keys would scramble the schema's reading order, so none)."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
