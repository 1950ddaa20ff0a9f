"""Component config helpers: schema defaults, validation, exact unit conversion, run-time updates.

Shared by every component that declares a JSON Schema (exported through `mmframe.api`). Configs arrive typed from the pipeline loader (JSON-Schema ``number`` -> `Decimal`, ``integer`` ->
int). Money is written in dollars and contracts; it is converted to price and count units exactly
here, and anything more precise than the unit is refused with an error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from jsonschema import Draft202012Validator

from mmframe.domain.money import Count, FixedPointError, Price, contracts_to_count, dollars_to_price


class ConfigError(ValueError):
    """A component config is invalid; the message names the component and the field."""


def _as_decimal(value: Any, field: str) -> Any:
    # Floats only reach us from hand-written Python (tests, notebooks); their repr is what was meant.
    # Anything else is left for the schema or the exact converters to accept or refuse.
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def resolve_config(component: str, schema: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the schema's defaults filled in, validated against ``schema``.

    Defaults of ``number`` fields become Decimals, so every value has the loader's typing.
    Raises `ConfigError` naming the component and the offending field.
    """
    resolved: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in config:
            value = config[name]
        elif "default" in prop:
            value = prop["default"]
        else:
            continue
        if prop.get("type") == "number" and not isinstance(value, bool):
            value = _as_decimal(value, f"{component}.{name}")
        resolved[name] = value
    resolved.update({k: v for k, v in config.items() if k not in resolved})
    errors = sorted(Draft202012Validator(schema).iter_errors(resolved), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "(config)"
        raise ConfigError(f"{component}: {where}: {first.message}")
    return resolved


def price_from_config(value: Any, field: str) -> Price:
    """Dollars (Decimal or int) to price units, exactly; `ConfigError` names ``field`` otherwise."""
    try:
        return dollars_to_price(_as_decimal(value, field), what=field)
    except FixedPointError as error:
        raise ConfigError(f"{error} (prices are in dollars with at most 4 decimals)") from None


def count_from_config(value: Any, field: str) -> Count:
    """Contracts (Decimal or int) to count units, exactly; `ConfigError` names ``field`` otherwise."""
    try:
        return contracts_to_count(_as_decimal(value, field), what=field)
    except FixedPointError as error:
        raise ConfigError(f"{error} (sizes are in contracts with at most 2 decimals)") from None


def fraction_from_config(value: Any, field: str) -> Fraction:
    """A plain (unitless) number, exactly."""
    return Fraction(_as_decimal(value, field))


def check_updatable(component: str, updatable: frozenset[str], params: Mapping[str, Any]) -> None:
    """Refuse run-time params that the component does not declare updatable."""
    fixed = sorted(set(params) - updatable)
    if fixed:
        raise ConfigError(
            f"{component}: {', '.join(fixed)} cannot change at run time (updatable: {', '.join(sorted(updatable))})"
        )
