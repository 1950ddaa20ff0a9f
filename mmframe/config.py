"""Component config helpers: schema defaults, validation, exact unit conversion, run-time updates.

Shared by every component that declares a JSON Schema (exported through `mmframe.api`). Configs arrive
typed from the pipeline loader (JSON-Schema ``number`` -> `Decimal`, ``integer`` -> int). Money is
written in dollars and contracts; it is converted to price and count units exactly here, and anything
more precise than the unit is refused with an error naming the field.

First-party schemas bound every value to what can be meant: prices strictly between $0 and $1,
spreads and distances below $1, sizes within the hard caps `MAX_ORDER_CONTRACTS` and
`MAX_CONTRACTS`, dollar amounts within `MAX_DOLLARS`, durations within a day or a week, and no more
decimals than the unit holds (``multipleOf``). Numbers are finite and of a sane magnitude
everywhere (`number_out_of_range`), whatever a schema says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from mmframe.domain.money import Count, FixedPointError, Price, contracts_to_count, dollars_to_price
from mmframe.schema_words import error_path, first_error, reword, shown_value

MAX_ORDER_CONTRACTS = 10_000
"""Hard cap on one order's size, contracts: no strategy size or order-size limit may exceed it."""

MAX_CONTRACTS = 1_000_000
"""Hard cap on any position or exposure limit, contracts (Kalshi's order-group limit tops out here)."""

MAX_PAYOUT_DOLLARS = 1000
"""The largest payout of one contract a venue may have, dollars: $1 on Kalshi, more only on synthetic
backtest markets (the Avellaneda-Stoikov paper's pays $1000). Schemas bound price distances by it;
components bound them by the venue's own payout (`ComponentContext.payout`) when they are built."""

MAX_DOLLARS = 10_000_000
"""Hard cap on any dollar amount in a config (loss limits, notional caps, balances), dollars."""

DAY_SECONDS = 86_400
WEEK_SECONDS = 7 * DAY_SECONDS

MAX_MAGNITUDE_DIGITS = 15
MAX_DECIMAL_PLACES = 12


class ConfigError(ValueError):
    """A component config is invalid; the message names the component and the field.

    ``field`` is the config key at fault (dotted for nested keys) when one is: the loader then points
    ``mmframe check`` at that key's line."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def number_out_of_range(value: Any) -> str | None:
    """Why ``value`` is not a number mmframe takes (not finite, 10^15 or more in magnitude, or more
    than 12 decimal places), or None. Every config and ``/params`` number passes through here first,
    so no later arithmetic (exact unit conversion, jsonschema's ``multipleOf``) meets a huge exponent."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "must be a finite number"
        value = Decimal(repr(value))
    if isinstance(value, int):
        return None if abs(value) < 10**MAX_MAGNITUDE_DIGITS else "is out of range (at most 15 digits)"
    if not value.is_finite():
        return "must be a finite number"
    if value and value.adjusted() >= MAX_MAGNITUDE_DIGITS:
        return "is out of range (at most 15 digits)"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        return f"has more than {MAX_DECIMAL_PLACES} decimal places"
    return None


def bad_numbers(value: Any, path: str = "") -> list[tuple[str, Any, str]]:
    """Every number inside ``value`` (nested dicts and lists too) that `number_out_of_range` refuses:
    ``(dotted path, value, why)``."""
    found: list[tuple[str, Any, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.extend(bad_numbers(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(bad_numbers(item, f"{path}.{index}" if path else str(index)))
    else:
        problem = number_out_of_range(value)
        if problem is not None:
            found.append((path, value, problem))
    return found


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
    for where, value, problem in bad_numbers(resolved):
        raise ConfigError(f"{component}: {where}: {problem}, got {shown_value(value)}", field=where)
    errors = list(_validator(schema).iter_errors(resolved))
    if errors:
        first = first_error(errors)
        where = error_path(first)
        message = reword(first, shown_value(first.instance))
        if first.validator == "additionalProperties" and isinstance(first.instance, Mapping):
            known = first.schema.get("properties", {}) if isinstance(first.schema, Mapping) else {}
            extra = sorted(str(key) for key in first.instance if key not in known)
            field = ".".join(part for part in (where, extra[0] if extra else "") if part)
            raise ConfigError(f"{component}: {where + ': ' if where else ''}{message}", field=field or None)
        raise ConfigError(f"{component}: {where or '(config)'}: {message}", field=where or None)
    return resolved


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` with its float bounds read as the decimals they were written as
    (configs hold Decimals; ``Decimal % float`` would fail in ``multipleOf``). Cached per schema."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    validator = Draft202012Validator(_decimalize(schema))
    if len(_VALIDATORS) > 256:  # schemas built on the fly: keep the cache bounded
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def _decimalize(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _decimalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_decimalize(item) for item in value]
    return value


def price_from_config(value: Any, field: str) -> Price:
    """Dollars (Decimal or int) to price units, exactly; `ConfigError` names ``field`` otherwise."""
    try:
        return dollars_to_price(_as_decimal(value, field), what=field)
    except FixedPointError as error:
        raise ConfigError(f"{error} (prices are in dollars with at most 4 decimals)", field=field) from None


def count_from_config(value: Any, field: str) -> Count:
    """Contracts (Decimal or int) to count units, exactly; `ConfigError` names ``field`` otherwise."""
    try:
        return contracts_to_count(_as_decimal(value, field), what=field)
    except FixedPointError as error:
        raise ConfigError(f"{error} (sizes are in contracts with at most 2 decimals)", field=field) from None


def fraction_from_config(value: Any, field: str) -> Fraction:
    """A plain (unitless) number, exactly."""
    return Fraction(_as_decimal(value, field))


def check_updatable(component: str, updatable: frozenset[str], params: Mapping[str, Any]) -> None:
    """Refuse run-time params that the component does not declare updatable."""
    fixed = sorted(set(params) - updatable)
    if fixed:
        raise ConfigError(
            f"{component}: {', '.join(fixed)} cannot change at run time (updatable: {', '.join(sorted(updatable))})",
            field=fixed[0],
        )


def check_writable_path(component: str, field: str, path: str | os.PathLike[str]) -> None:
    """Refuse (`ConfigError` naming ``field``) a file path this process could not create or write:
    a directory, a path through a file, or a place that is read-only or not ours. Only looks (no
    file is created), so a factory may call it and ``mmframe check`` refuses what ``run`` would."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(f"{component}: {field}: {target} is a directory; name a file", field=field)
    probe = target.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = None
    if target.exists():
        if not os.access(target, os.W_OK) or _read_only(target.parent):
            problem = f"{target} is not writable by this user"
    elif not probe.is_dir():
        problem = f"{probe} is a file, so {target} cannot be created"
    elif not os.access(probe, os.W_OK | os.X_OK):
        problem = f"cannot create {target}: {probe} is not writable by this user"
    elif _read_only(probe):
        problem = f"cannot create {target}: {probe} is on a read-only file system"
    if problem is not None:
        raise ConfigError(f"{component}: {field}: {problem} (choose a writable path)", field=field)


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False
