"""jsonschema's validation errors in plain words: ``what was expected, got what``.

Shared by the pipeline loader (which knows the YAML node, so it can hide an environment variable's
value), by `mmframe.config.resolve_config` (a factory's own validation) and by ``POST /params``, so
one bad value reads the same wherever it is refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from jsonschema.exceptions import ValidationError

TYPE_ORDER = ("null", "boolean", "integer", "number", "string", "object", "array")
TYPE_WORDS = {
    "null": "null",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
}

ERROR_KEYWORD = "x-error"
"""A schema may say in words what a value must be (``"x-error": "must be a ws:// or wss:// URL"``);
the loader and ``/params`` then say that instead of quoting a pattern or a bound."""


def suggest(word: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def show(value: Any) -> str:
    """A value as a user wrote it: ``true``, ``'text'``, ``0.04``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float | Decimal):
        return format_number(value)
    return str(value)


def format_number(value: Decimal | float | int) -> str:
    """``0.0001`` rather than ``1E-4``; long values shortened."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and value.is_finite():
        text = f"{value:f}" if -30 < value.adjusted() < 30 else str(value)
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def types_of(schema: Mapping[str, Any]) -> list[str]:
    """The schema's ``type`` names, most specific first."""
    raw = schema.get("type")
    if raw is None:
        return []
    names = [raw] if isinstance(raw, str) else list(raw)
    return sorted(names, key=lambda name: TYPE_ORDER.index(name) if name in TYPE_ORDER else 99)


def describe_schema(schema: Mapping[str, Any]) -> str:
    """What a schema expects, in words: ``an integer``, ``a mapping or a list``, ``one of: a, b``."""
    if "const" in schema:
        return f"{show(schema['const'])}"
    if "enum" in schema:
        return "one of: " + ", ".join(show(item) for item in schema["enum"])
    types = types_of(schema)
    if types:
        return " or ".join(TYPE_WORDS.get(name, name) for name in types)
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        return " or ".join(describe_schema(branch) for branch in branches)
    return "a value"


def _decimal_places(rule: Any) -> int | None:
    """``n`` when ``rule`` is ``10**-n`` (0.0001 -> 4), else None."""
    try:
        value = Decimal(repr(rule)) if isinstance(rule, float) else Decimal(rule)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if value <= 0 or value >= 1:
        return None
    normal = value.normalize()
    _sign, digits, exponent = normal.as_tuple()
    if digits == (1,) and isinstance(exponent, int):
        return -exponent
    return None


def reword(error: ValidationError, got: str | None, *, secret: bool = False) -> str:
    """``error`` as ``what was expected, got <got>``; ``got`` None leaves the value out (secrets,
    containers). ``secret`` also keeps suggestions (which would echo the value) out."""
    kind = error.validator
    rule: Any = error.validator_value
    tail = f", got {got}" if got is not None else ""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    custom = schema.get(ERROR_KEYWORD)
    if isinstance(custom, str) and kind not in ("type", "required"):
        return custom + tail
    places = _decimal_places(rule) if kind == "multipleOf" else None
    words: dict[str, str] = {
        "minimum": f"must be >= {show(rule)}",
        "maximum": f"must be <= {show(rule)}",
        "exclusiveMinimum": f"must be > {show(rule)}",
        "exclusiveMaximum": f"must be < {show(rule)}",
        "multipleOf": (f"has more than {places} decimal places" if places is not None
                       else f"must be a multiple of {show(rule)}"),
        "minLength": f"must be at least {rule} characters long",
        "maxLength": f"must be at most {rule} characters long",
        "pattern": f"must match the pattern {rule}",
        "const": f"must be {show(rule)}",
        "minItems": f"needs at least {rule} items",
        "maxItems": f"takes at most {rule} items",
        "uniqueItems": "items must be unique",
        "minProperties": f"needs at least {rule} keys",
        "maxProperties": f"takes at most {rule} keys",
        "format": f"must be a valid {rule}",
    }
    if kind in words:
        return words[kind] + (tail if kind not in ("minItems", "maxItems", "uniqueItems") else "")
    if kind == "enum":
        options = [show(item) for item in rule]
        hint = ""
        if isinstance(error.instance, str) and not secret:
            hint = suggest(error.instance, [str(item) for item in rule])
        return f"expected one of: {', '.join(options)}{tail}{hint}"
    if kind == "type":
        return f"expected {describe_schema({'type': rule})}{tail}"
    if kind == "required":
        missing = [k for k in rule if isinstance(error.instance, Mapping) and k not in error.instance]
        return "missing required key " + ", ".join(f"'{k}'" for k in missing)
    if kind in ("anyOf", "oneOf"):
        branches = rule if isinstance(rule, list) else []
        required_sets = [b.get("required") for b in branches if isinstance(b, Mapping)]
        if branches and all(required_sets) and all(len(b) == 1 for b in branches):
            keys = ", ".join(str(r[0]) for r in required_sets if r)
            return f"needs at least one of: {keys}"
        return f"expected {describe_schema({kind: branches})}{tail}"
    if kind == "not":
        return "is not allowed here"
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, Mapping):
        known = sorted(schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in known)
        hint = suggest(extra[0], known) if extra and not secret else ""
        listing = f"; expected one of: {', '.join(known)}" if known and not hint else ""
        return f"unknown key {', '.join(repr(k) for k in extra)}{hint}{listing}"
    if secret:
        return f"fails the '{kind}' rule of the schema"
    return str(error.message)


def shown_value(value: Any) -> str | None:
    """How a plain (already typed) value is quoted in an error, or None for containers."""
    if isinstance(value, bool | int | Decimal | float | str):
        return show(value)
    return None


def error_path(error: ValidationError) -> str:
    """The dotted path of the offending value (``levels`` or ``reject_storm.count``)."""
    return ".".join(str(part) for part in error.absolute_path)


def first_error(errors: Sequence[ValidationError]) -> ValidationError:
    """The error to show when only one is: the shallowest, in document order."""
    return sorted(errors, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))[0]
