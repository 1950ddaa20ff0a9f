"""A component's parameters as rows (name, type, default, bounds, updatable, description), read from
its config schema, for ``mmframe plugins show``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mmframe.components import ComponentSpec

_MAX_DEPTH = 3
"""Nested objects are flattened to dotted names this deep; deeper ones show as one ``object`` row."""


@dataclass(frozen=True)
class ParamRow:
    """One parameter of a component's ``with:`` config."""

    name: str
    type: str
    default: str
    bounds: str
    updatable: bool
    description: str
    required: bool = False


def param_rows(spec: ComponentSpec) -> list[ParamRow]:
    """Every parameter of ``spec``'s config schema, in schema order; nested objects dotted."""
    return list(_rows(spec.config_schema, "", spec.updatable, 0))


def _rows(schema: Mapping[str, Any], prefix: str, updatable: frozenset[str], depth: int) -> Iterator[ParamRow]:
    required = set(schema.get("required", ()))
    for key, raw in (schema.get("properties") or {}).items():
        prop: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        name = f"{prefix}{key}"
        top = name.split(".")[0]
        nested = prop.get("properties")
        if prop.get("type") == "object" and isinstance(nested, Mapping) and nested and depth < _MAX_DEPTH:
            yield from _rows(prop, f"{name}.", updatable, depth + 1)
            continue
        yield ParamRow(
            name=name,
            type=_type(prop),
            default=_value(prop["default"]) if "default" in prop else ("required" if key in required else "-"),
            bounds=_bounds(prop),
            updatable=top in updatable,
            description=" ".join(str(prop.get("description", "")).split()),
            required=key in required,
        )


def _type(prop: Mapping[str, Any]) -> str:
    if "enum" in prop:
        return "one of"
    if "const" in prop:
        return "constant"
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        items = prop.get("items")
        inner = _type(items) if isinstance(items, Mapping) else "any"
        return f"list of {inner}"
    if kind:
        return str(kind)
    options = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(options, list) and options:
        return " | ".join(_type(o) for o in options if isinstance(o, Mapping))
    return "any"


def _bounds(prop: Mapping[str, Any]) -> str:
    parts = []
    if "enum" in prop:
        parts.append(", ".join(_value(v) for v in prop["enum"]))
    if "const" in prop:
        parts.append(f"= {_value(prop['const'])}")
    lower = [(">=", prop["minimum"])] if "minimum" in prop else []
    lower += [(">", prop["exclusiveMinimum"])] if "exclusiveMinimum" in prop else []
    upper = [("<=", prop["maximum"])] if "maximum" in prop else []
    upper += [("<", prop["exclusiveMaximum"])] if "exclusiveMaximum" in prop else []
    parts.extend(f"{op} {_value(v)}" for op, v in [*lower, *upper])
    if "multipleOf" in prop:
        parts.append(f"step {_value(prop['multipleOf'])}")
    for key, word in (("minLength", "length >="), ("maxLength", "length <="), ("minItems", "items >="),
                      ("maxItems", "items <=")):
        if key in prop:
            parts.append(f"{word} {prop[key]}")
    if "pattern" in prop:
        parts.append(f"matches {prop['pattern']}")
    items = prop.get("items")
    if isinstance(items, Mapping) and prop.get("type") == "array":
        inner = _bounds(items)
        if inner:
            parts.append(f"each {inner}")
    return ", ".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, default=str)
