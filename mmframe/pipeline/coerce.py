"""Type the strings of a parsed tree from a JSON Schema, then validate the result with jsonschema.

YAML is parsed without implicit typing, so the schema decides what each scalar means: ``integer``
-> int, ``number`` -> Decimal, ``boolean`` -> bool (``true``/``false`` only), ``string`` -> str.
``oneOf``/``anyOf`` branches are tried in order. Absent properties with a ``default`` are filled in.
Every problem is reported against the node (and so the line) it came from; jsonschema's errors
are reworded here so that an environment variable's value is never echoed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from mmframe.config import number_out_of_range
from mmframe.pipeline.tree import Node
from mmframe.schema_words import describe_schema, reword, show, suggest
from mmframe.schema_words import types_of as _types

__all__ = ["SchemaCoercer", "decimalize", "describe_schema", "dotted", "suggest"]

Path = tuple[str | int, ...]
Report = Callable[[Node, str, str], None]
"""``report(node, dotted_key_path, message)``"""

_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
def dotted(path: Path) -> str:
    """``("risk", 0, "with", "x")`` -> ``risk.0.with.x``"""
    return ".".join(str(part) for part in path)


def decimalize(value: Any) -> Any:
    """A copy of a schema (or default) with every float as the Decimal it was written as.

    Typed values are Decimals, and ``Decimal("0.01") < 0.01`` is true for the float 0.01, so bounds
    written as floats must be compared as the decimals they were meant to be.
    """
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: decimalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [decimalize(item) for item in value]
    return value


@dataclass
class _Findings:
    """What the coercer reported, so jsonschema's duplicates of it can be dropped."""

    poisoned: set[Path] = field(default_factory=set)
    missing: set[tuple[Path, str]] = field(default_factory=set)
    chosen: dict[tuple[Path, int], int] = field(default_factory=dict)
    """``(path, id(branch list)) -> index`` of the ``oneOf``/``anyOf`` branch picked at ``path``."""
    messages: list[tuple[Node, str, str]] = field(default_factory=list)

    def merge(self, other: _Findings) -> None:
        self.poisoned |= other.poisoned
        self.missing |= other.missing
        self.chosen.update(other.chosen)
        self.messages.extend(other.messages)


class SchemaCoercer:
    """Types and validates one tree against one root schema (local ``$ref``s resolve within it)."""

    def __init__(self, root_schema: Mapping[str, Any], *, prefix: Path = ()) -> None:
        self.root = decimalize(root_schema)
        self.prefix = prefix
        self._validator = jsonschema.Draft202012Validator(self.root)

    # --- public ---------------------------------------------------------------------------------

    def check(self, node: Node, report: Report) -> Any:
        """Type ``node`` against the root schema, validate, report every problem; the typed value."""
        findings = _Findings()
        value = self._coerce(node, self.root, (), findings)
        for problem_node, path_text, message in findings.messages:
            report(problem_node, path_text, message)
        for error in self._validator.iter_errors(value):
            for leaf in self._leaves(error, findings):
                self._report_validation(leaf, node, findings, report)
        return value

    # --- typing ---------------------------------------------------------------------------------

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow a local ``$ref`` and fold ``allOf`` members into one schema, for typing purposes."""
        seen = 0
        while "$ref" in schema and seen < 32:
            target = self._pointer(schema["$ref"])
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for member in schema["allOf"]:
                part = self._resolve(member)
                for key, item in part.items():
                    if key == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **item}
                    elif key == "required":
                        merged["required"] = [*merged.get("required", []), *item]
                    else:
                        merged.setdefault(key, item)
            schema = merged
        return schema

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {}
        target: Any = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                return {}
        return target if isinstance(target, Mapping) else {}

    def _say(self, findings: _Findings, node: Node, path: Path, message: str) -> None:
        findings.messages.append((node, dotted(self.prefix + path), message))

    def _coerce(self, node: Node, schema: Mapping[str, Any], path: Path, findings: _Findings) -> Any:
        if node.reported:
            findings.poisoned.add(path)
            return node.to_plain()
        schema = self._resolve(schema)
        branches = schema.get("oneOf") or schema.get("anyOf")
        if branches and not _types(schema):
            return self._coerce_branches(node, schema, branches, path, findings)
        if isinstance(node.value, dict):
            return self._coerce_mapping(node, schema, path, findings)
        if isinstance(node.value, list):
            return self._coerce_list(node, schema, path, findings)
        return self._coerce_scalar(node, schema, path, findings)

    def _coerce_branches(
        self, node: Node, schema: Mapping[str, Any], branches: Sequence[Mapping[str, Any]],
        path: Path, findings: _Findings,
    ) -> Any:
        matching = [i for i, branch in enumerate(branches) if self._accepts_shape(branch, node)]
        for index in matching:
            trial = _Findings()
            value = self._coerce(node, branches[index], path, trial)
            if not trial.messages and self._branch_valid(branches[index], value):
                trial.chosen[path, id(branches)] = index
                findings.merge(trial)
                return value
        if not matching:
            findings.poisoned.add(path)
            self._say(findings, node, path, f"expected {describe_schema(schema)}, got {_got(node)}")
            return node.to_plain()
        # No branch fits: report against the first one shaped like the value (most likely meant).
        index = matching[0]
        findings.chosen[path, id(branches)] = index
        return self._coerce(node, branches[index], path, findings)

    def _branch_valid(self, branch: Mapping[str, Any], value: Any) -> bool:
        return bool(self._validator.evolve(schema=branch).is_valid(value))

    def _accepts_shape(self, schema: Mapping[str, Any], node: Node) -> bool:
        schema = self._resolve(schema)
        types = _types(schema)
        if not types:
            inner = schema.get("oneOf") or schema.get("anyOf")
            return not inner or any(self._accepts_shape(branch, node) for branch in inner)
        if isinstance(node.value, dict):
            return "object" in types
        if isinstance(node.value, list):
            return "array" in types
        if node.value == "" and ("object" in types or "array" in types):
            return True
        return bool({"null", "boolean", "integer", "number", "string"} & set(types))

    def _coerce_mapping(self, node: Node, schema: Mapping[str, Any], path: Path, findings: _Findings) -> Any:
        assert isinstance(node.value, dict)
        types = _types(schema)
        if types and "object" not in types:
            findings.poisoned.add(path)
            self._say(findings, node, path, f"expected {describe_schema(schema)}, got {_got(node)}")
            return node.to_plain()
        properties: Mapping[str, Any] = schema.get("properties", {})
        patterns: Mapping[str, Any] = schema.get("patternProperties", {})
        additional = schema.get("additionalProperties", schema.get("unevaluatedProperties", True))
        result: dict[str, Any] = {}
        for key, child in node.value.items():
            child_schema: Mapping[str, Any] | None = properties.get(key)
            if child_schema is None:
                child_schema = next((s for p, s in patterns.items() if re.search(p, key)), None)
            if child_schema is None:
                if additional is False:
                    findings.poisoned.add((*path, key))
                    known = sorted(properties)
                    where = f"unknown key '{key}'" + ("" if path or self.prefix else " at the top level")
                    hint = suggest(key, known)
                    expected = f"; expected one of: {', '.join(known)}" if known and not hint else ""
                    self._say(findings, child, path, f"{where}{hint}{expected}")
                    result[key] = child.to_plain()
                    continue
                child_schema = additional if isinstance(additional, Mapping) else {}
            result[key] = self._coerce(child, child_schema, (*path, key), findings)
        for key in schema.get("required", ()):
            if key not in node.value:
                findings.missing.add((path, key))
                self._say(findings, node, path, f"missing required key '{key}'")
        for key, child_schema in properties.items():
            if key not in result and isinstance(child_schema, Mapping):
                resolved = self._resolve(child_schema)
                if "default" in resolved:
                    result[key] = resolved["default"]
        return result

    def _coerce_list(self, node: Node, schema: Mapping[str, Any], path: Path, findings: _Findings) -> Any:
        assert isinstance(node.value, list)
        types = _types(schema)
        if types and "array" not in types:
            findings.poisoned.add(path)
            self._say(findings, node, path, f"expected {describe_schema(schema)}, got {_got(node)}")
            return node.to_plain()
        prefix_items: Sequence[Mapping[str, Any]] = schema.get("prefixItems", ())
        items = schema.get("items", {})
        result = []
        for index, child in enumerate(node.value):
            child_schema = prefix_items[index] if index < len(prefix_items) else items
            child_schema = child_schema if isinstance(child_schema, Mapping) else {}
            result.append(self._coerce(child, child_schema, (*path, index), findings))
        return result

    def _coerce_scalar(self, node: Node, schema: Mapping[str, Any], path: Path, findings: _Findings) -> Any:
        text = node.value
        assert isinstance(text, str)
        types = _types(schema)
        if not types:
            if "const" in schema or "enum" in schema:
                options = [schema["const"]] if "const" in schema else list(schema["enum"])
                for option in options:
                    typed = _scalar_as(text, _json_type(option))
                    if typed is not _NO and typed == option:
                        return typed
            return text
        for type_name in types:
            typed = _scalar_as(text, type_name)
            if typed is not _NO:
                problem = number_out_of_range(typed) if type_name in ("integer", "number") else None
                if problem is not None:
                    findings.poisoned.add(path)
                    self._say(findings, node, path, f"{problem}, got {_got(node)}")
                    return text
                return typed
        findings.poisoned.add(path)
        self._say(findings, node, path, f"expected {describe_schema(schema)}, got {_got(node)}")
        return text

    # --- jsonschema errors -----------------------------------------------------------------------

    def _leaves(self, error: ValidationError, findings: _Findings) -> Iterator[ValidationError]:
        """Descend into the branch the coercer chose for a failed ``oneOf``/``anyOf``."""
        if error.validator in ("oneOf", "anyOf") and error.context:
            chosen = findings.chosen.get((tuple(error.absolute_path), id(error.validator_value)))
            if chosen is not None:
                for sub in error.context:
                    if sub.relative_schema_path and sub.relative_schema_path[0] == chosen:
                        yield from self._leaves(sub, findings)
                return
        yield error

    def _report_validation(
        self, error: ValidationError, root: Node, findings: _Findings, report: Report
    ) -> None:
        path: Path = tuple(error.absolute_path)
        if any(path[: len(bad)] == bad for bad in findings.poisoned):
            return
        instance = error.instance
        if error.validator == "required" and isinstance(instance, Mapping):
            required: Any = error.validator_value
            missing = [k for k in required if k not in instance]
            if all((path, key) in findings.missing for key in missing):
                return
        if error.validator in ("additionalProperties", "unevaluatedProperties"):
            return  # unknown keys were reported, with suggestions, while typing
        node = _node_at(root, path)
        report(node, dotted(self.prefix + path), _reword(error, node))


_NO = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "number"
    return "string"


def _scalar_as(text: str, type_name: str) -> Any:
    """``text`` as a value of JSON type ``type_name``, or ``_NO``."""
    stripped = text.strip()
    if type_name == "string":
        return text
    if type_name == "integer":
        return int(stripped) if _INTEGER.fullmatch(stripped) else _NO
    if type_name == "number":
        if not _NUMBER.fullmatch(stripped):
            return _NO
        try:
            return Decimal(stripped)
        except InvalidOperation:
            return _NO
    if type_name == "boolean":
        return {"true": True, "false": False}.get(stripped, _NO)
    if type_name == "null":
        return None if stripped in ("", "null", "~") else _NO
    if type_name == "object":
        return {} if stripped == "" else _NO
    if type_name == "array":
        return [] if stripped == "" else _NO
    return _NO


def _got(node: Node, typed: Any = None) -> str:
    if node.secret:
        names = ", ".join(f"${{{name}}}" for name in node.env_vars)
        return f"the value of {names} (not shown)"
    if isinstance(typed, bool):
        return show(typed)
    if isinstance(typed, int | Decimal):
        return show(typed)
    if isinstance(node.value, str) and node.value != "":
        return repr(node.value)
    return node.shape()


def _node_at(root: Node, path: Path) -> Node:
    node = root
    for part in path:
        value = node.value
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            node = value[part]
            continue
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            node = value[part]
            continue
        break
    return node


def _reword(error: ValidationError, node: Node) -> str:
    """jsonschema's error as ``what was expected, got what`` without echoing secrets."""
    got = _got(node, error.instance) if isinstance(error.instance, str | int | Decimal) else None
    return reword(error, got, secret=node.secret)
