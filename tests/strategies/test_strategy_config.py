"""Config handling shared by the strategies (and mirrored in mmframe_risk): defaults, validation,
exact dollar and contract conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmframe.api import (
    ConfigError,
    FixedPointError,
    contracts_to_count,
    count_from_config,
    dollars_to_price,
    price_from_config,
    resolve_config,
)
from mmframe.config import check_updatable

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spread": {"type": "number", "exclusiveMinimum": 0, "default": 0.04},
        "levels": {"type": "integer", "minimum": 1, "default": 1},
    },
}


def test_resolve_config_when_fields_are_missing_fills_defaults_with_loader_types() -> None:
    config = resolve_config("demo", SCHEMA, {})
    assert config == {"spread": Decimal("0.04"), "levels": 1}
    assert isinstance(config["spread"], Decimal)


def test_resolve_config_when_a_field_is_unknown_raises_naming_component() -> None:
    with pytest.raises(ConfigError, match=r"demo: unknown key 'sprad' \(did you mean 'spread'\?\)"):
        resolve_config("demo", SCHEMA, {"sprad": 1})


def test_resolve_config_when_a_value_breaks_the_schema_names_the_field() -> None:
    with pytest.raises(ConfigError, match="demo: levels: must be >= 1, got 0"):
        resolve_config("demo", SCHEMA, {"levels": 0})


@pytest.mark.parametrize(
    ("value", "units"),
    [
        (Decimal("0.04"), 400),
        (Decimal("1E+3"), 10_000_000),
        (Decimal("0.0400000"), 400),
        (3, 30_000),
        (0.04, 400),
    ],
)
def test_price_from_config_when_value_fits_the_unit_converts_exactly(value: Decimal | int | float, units: int) -> None:
    assert price_from_config(value, "spread") == units


def test_price_from_config_when_more_precise_than_the_unit_raises_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"spread 0\.00005 has more than 4 decimal places"):
        price_from_config(Decimal("0.00005"), "spread")


def test_count_from_config_when_more_precise_than_a_hundredth_raises() -> None:
    assert count_from_config(Decimal("10"), "size") == 1000
    with pytest.raises(ConfigError, match="size"):
        count_from_config(Decimal("0.001"), "size")


@pytest.mark.parametrize("bad", [0.04, True, Decimal("NaN"), "0.04"])
def test_dollars_to_price_when_not_an_exact_number_raises(bad: object) -> None:
    with pytest.raises(FixedPointError):
        dollars_to_price(bad)  # type: ignore[arg-type]


def test_contracts_to_count_when_negative_keeps_the_sign() -> None:
    assert contracts_to_count(Decimal("-2.5")) == -250


def test_check_updatable_when_a_field_is_fixed_lists_what_is_updatable() -> None:
    with pytest.raises(ConfigError, match=r"levels cannot change at run time \(updatable: spread"):
        check_updatable("demo", frozenset({"spread"}), {"levels": 2})
