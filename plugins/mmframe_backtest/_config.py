"""Config handling for the backtest components: schema defaults, validation, exact numbers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator


def decimal_of(value: Any) -> Decimal:
    """A config number as an exact Decimal (floats from hand-written Python by their repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")


def resolve(schema: Mapping[str, Any], config: Mapping[str, Any], component: str) -> dict[str, Any]:
    """``config`` with the schema's defaults filled in, validated; `ValueError` names the field."""
    resolved = {name: prop["default"] for name, prop in schema.get("properties", {}).items() if "default" in prop}
    resolved.update(config)
    plain = {key: float(value) if isinstance(value, Decimal) else value for key, value in resolved.items()}
    errors = sorted(Draft202012Validator(schema).iter_errors(plain), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "(config)"
        raise ValueError(f"{component}: {where}: {first.message}")
    return resolved
