"""Every number a first-party pipeline can hold is bounded: each ``number``/``integer`` field of the
pipeline schema and of every first-party component's schema has a lower and an upper bound, and
every dollar or contract field says its unit's decimals (``multipleOf``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from mmframe.pipeline import pipeline_schema
from mmframe.pipeline.schema import FIRST_PARTY_PACKAGE
from mmframe.plugins import load_registry

LOWER = ("minimum", "exclusiveMinimum")
UPPER = ("maximum", "exclusiveMaximum")


def _numbers(schema: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every numeric (sub)schema under ``schema``, with its dotted path."""
    if not isinstance(schema, Mapping):
        return
    if schema.get("type") in ("number", "integer"):
        yield path, schema
    for key, child in schema.get("properties", {}).items():
        yield from _numbers(child, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from _numbers(schema[key], f"{path}.{key}")
    for key in ("oneOf", "anyOf", "allOf"):
        for index, branch in enumerate(schema.get(key, ())):
            yield from _numbers(branch, f"{path}.{key}.{index}")
    for name, definition in schema.get("$defs", {}).items():
        yield from _numbers(definition, f"$defs.{name}")


def _schemas() -> list[tuple[str, Mapping[str, Any]]]:
    found = [("pipeline", pipeline_schema())]
    for entry in load_registry().entries():
        if entry.spec is not None and entry.package == FIRST_PARTY_PACKAGE:
            found.append((f"{entry.kind.value}:{entry.name}", entry.spec.config_schema))
    return found


@pytest.mark.parametrize(("name", "schema"), _schemas(), ids=[name for name, _ in _schemas()])
def test_every_number_in_a_first_party_schema_has_both_bounds(name: str, schema: Mapping[str, Any]) -> None:
    unbounded = [
        path for path, field in _numbers(schema, name)
        if not any(k in field for k in LOWER) or not any(k in field for k in UPPER)
    ]
    assert unbounded == []


@pytest.mark.parametrize(("name", "schema"), _schemas(), ids=[name for name, _ in _schemas()])
def test_every_dollar_or_contract_field_says_its_unit(name: str, schema: Mapping[str, Any]) -> None:
    loose = []
    for path, field in _numbers(schema, name):
        words = str(field.get("description", "")).lower()
        money = "dollars" in words or words.endswith("contracts.") or "contracts;" in words
        if money and field.get("type") == "number" and "multipleOf" not in field and "per " not in words:
            loose.append(path)
    assert loose == []
