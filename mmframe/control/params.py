"""``POST /params``: change a component's run-time params, validated whole, applied all or nothing.

A request names a target (``strategy`` or a risk rule's name in the pipeline) and the fields to
change. Only fields the component declares ``updatable`` are accepted; the current config merged
with the change is validated against the component's JSON Schema before anything is applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import jsonschema

from mmframe.config import bad_numbers
from mmframe.pipeline.coerce import decimalize
from mmframe.schema_words import error_path, first_error, reword, show, shown_value, suggest

if TYPE_CHECKING:
    from mmframe.components import RiskRule, Strategy
    from mmframe.runtime.build import Built
    from mmframe.runtime.engine import Engine


class ParamsError(ValueError):
    """A params request was refused; ``status`` is the HTTP status, the message the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


MAX_BODY_BYTES = 64 * 1024
"""The largest JSON body a mutating endpoint reads (a params change is a few hundred bytes)."""

MAX_BODY_DEPTH = 8
"""The deepest nesting of objects and arrays accepted (``{"params": {"x": [..]}}`` is 3)."""

_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def decode_body(raw: bytes) -> Any:
    """A request body as JSON, numbers with a fraction as `Decimal`; `ParamsError` with the reason for
    a body too large (413), not UTF-8, not JSON or nested deeper than `MAX_BODY_DEPTH` (400). NaN and
    Infinity, which JSON does not allow, come back as `NonFinite` markers, refused by `ParamsService`
    naming their field."""
    if len(raw) > MAX_BODY_BYTES:
        raise ParamsError(413, f"body too large: {len(raw):,} bytes, at most {MAX_BODY_BYTES:,}")
    depth = _depth(raw)
    if depth > MAX_BODY_DEPTH:
        raise ParamsError(400, f"malformed JSON: nested {depth} levels deep, at most {MAX_BODY_DEPTH}")
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=NonFinite)
    except ParamsError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ParamsError(400, f"malformed JSON: {reason}") from None


class NonFinite:
    """``NaN``, ``Infinity`` or ``-Infinity`` in a body (Python's JSON reader accepts them): kept as a
    marker so the refusal can name the field that holds it; never a number anywhere."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _non_finite(value: Any, path: str = "") -> list[tuple[str, NonFinite]]:
    if isinstance(value, NonFinite):
        return [(path, value)]
    found: list[tuple[str, NonFinite]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.extend(_non_finite(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_non_finite(item, f"{path}.{index}" if path else str(index)))
    return found


def _depth(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text, outside strings (one linear pass)."""
    deepest = depth = 0
    in_string = False
    skip_to = 0  # after a backslash in a string, the escaped character is not structure
    for match in _STRUCTURE.finditer(raw):
        if match.start() < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == b"\\":
                skip_to = match.end() + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


class ParamsService:
    """Changes the run-time params of a running pipeline's built components.

    The targets are the engine's configured components (``strategy`` and each risk rule by its
    name), each with the declaration it was built from and the config it runs with now: this
    service keeps no copy of its own; the engine records the merged config once it applied it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def _targets(self) -> Mapping[str, Built[Strategy | RiskRule]]:
        return self._engine.parts.configured

    def describe(self) -> dict[str, Any]:
        """Every target: the component it uses, its current params and which may change."""
        return {
            name: {"use": t.use, "params": dict(t.config), "updatable": sorted(t.spec.updatable)}
            for name, t in self._targets.items()
        }

    def apply(self, body: Any) -> dict[str, Any]:
        """Validate and apply ``{"target": ..., "params": {...}}``; returns the new params."""
        if not isinstance(body, Mapping):
            raise ParamsError(400, 'expected a JSON object: {"target": "strategy", "params": {...}}')
        unknown = sorted(set(body) - {"target", "params"})
        if unknown:
            raise ParamsError(400, f"unknown field(s) {', '.join(unknown)}: expected target and params")
        for path, marker in _non_finite(body):
            raise ParamsError(400, f"{path}: {marker.name} is not a finite number (JSON has no NaN or Infinity)")
        target_name, params = body.get("target"), body.get("params")
        if not isinstance(target_name, str) or not target_name:
            raise ParamsError(400, "target must be a string: 'strategy' or a risk rule's name")
        if not isinstance(params, Mapping) or not params:
            raise ParamsError(400, "params must be a non-empty JSON object of fields to change")
        target = self._targets.get(target_name)
        if target is None:
            raise ParamsError(404, f"unknown target {target_name!r}; known: {', '.join(self._targets)}")
        for path, value, problem in bad_numbers(params):
            raise ParamsError(400, f"{target_name} ({target.use}): {path}: {problem}, got {shown_value(value)}")
        known = target.spec.config_schema.get("properties", {})
        unknown = sorted(str(key) for key in params if key not in known)
        if unknown:
            hint = suggest(unknown[0], sorted(target.spec.updatable))
            raise ParamsError(400, f"{target_name} ({target.use}): unknown field {', '.join(map(repr, unknown))}{hint}")
        fixed = sorted(set(params) - target.spec.updatable)
        if fixed:
            allowed = ", ".join(sorted(target.spec.updatable)) or "none"
            raise ParamsError(
                400, f"{target_name} ({target.use}): {', '.join(fixed)} cannot change at run time (updatable: {allowed})"
            )
        self._validate(target_name, target, {**target.config, **params})
        try:
            self._engine.update_params(target_name, dict(params))
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise ParamsError(400, f"{target_name} ({target.use}) refused the params: {exc}") from exc
        return {"target": target_name, "use": target.use, "params": dict(target.config)}

    @staticmethod
    def _validate(name: str, target: Built[Strategy | RiskRule], config: Mapping[str, Any]) -> None:
        """The component's schema, worded as the pipeline loader words it."""
        validator = jsonschema.Draft202012Validator(decimalize(dict(target.spec.config_schema)))
        errors = list(validator.iter_errors(dict(config)))
        if errors:
            first = first_error(errors)
            where = error_path(first) or "(params)"
            got = shown_value(first.instance)
            if isinstance(first.instance, bool) or first.validator == "type":
                got = show(first.instance) if got is not None else _json_kind(first.instance)
            raise ParamsError(400, f"{name} ({target.use}): {where}: {reword(first, got)}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
