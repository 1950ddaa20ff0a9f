"""Exact fixed-point money: prices in 1/10,000 dollar, counts in 1/100 contract.

Kalshi sends prices as strings such as ``"0.5600"`` and counts as ``"10.00"``. They are converted to
integers exactly, here and only here; nothing in mmframe holds money as a float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TypeAlias

Price: TypeAlias = int
"""A price (or any dollar amount) in units of 1/10,000 dollar: ``0.56`` is ``5600``."""

Count: TypeAlias = int
"""A number of contracts in units of 1/100 contract: ``10`` contracts is ``1000``."""

PRICE_DECIMALS = 4
COUNT_DECIMALS = 2
PRICE_SCALE: int = 10**PRICE_DECIMALS
"""Price units per dollar."""
COUNT_SCALE: int = 10**COUNT_DECIMALS
"""Count units per contract."""
ONE_DOLLAR: Price = PRICE_SCALE
"""What a winning contract pays, in price units."""


_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?=[0-9]|\.[0-9])(?P<whole>[0-9]*)(?:\.(?P<frac>[0-9]*))?")


class FixedPointError(ValueError):
    """A fixed-point string was malformed or more precise than its unit allows."""


def parse_fixed(text: str, decimals: int, *, what: str = "value") -> int:
    """Parse a decimal string into an integer number of ``10**-decimals`` units, exactly.

    Accepts an optional sign, digits, and an optional fraction. Extra fractional digits are allowed
    only when they are zeros (``"0.017500"`` is 175 at 4 decimals); anything that would need
    rounding raises `FixedPointError`, as does any non-string or malformed input.
    """
    if not isinstance(text, str):
        raise FixedPointError(f"{what} must be a decimal string, got {type(text).__name__} {text!r}")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise FixedPointError(f"{what} {text!r} is not a decimal number")
    sign, whole, frac = match.group("sign", "whole", "frac")
    frac = frac or ""
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise FixedPointError(f"{what} {text!r} has more than {decimals} decimal places")
        frac = frac[:decimals]
    units: int = int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    return -units if sign == "-" else units


def format_fixed(units: int, decimals: int, places: int | None = None) -> str:
    """Format an integer number of ``10**-decimals`` units as a decimal string.

    ``places`` (>= ``decimals``) pads the fraction with zeros, e.g. 6 places for Kalshi fee fields.
    """
    places = decimals if places is None else places
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}" + ("." + "0" * places if places else "")
    return f"{sign}{whole}.{frac:0{decimals}d}{'0' * (places - decimals)}"


def parse_price(text: str) -> Price:
    """Parse a Kalshi dollar string (``"0.5600"``, ``"0.56"``, ``"0.017500"``) into price units."""
    return parse_fixed(text, PRICE_DECIMALS, what="price")


def parse_count(text: str) -> Count:
    """Parse a Kalshi count string (``"10.00"``, ``"10"``) into count units."""
    return parse_fixed(text, COUNT_DECIMALS, what="count")


def format_price(price: Price, places: int = PRICE_DECIMALS) -> str:
    """Format price units as Kalshi's dollar string: ``5600`` -> ``"0.5600"``."""
    return format_fixed(price, PRICE_DECIMALS, places)


def format_count(count: Count) -> str:
    """Format count units as Kalshi's count string: ``1000`` -> ``"10.00"``."""
    return format_fixed(count, COUNT_DECIMALS)


def notional(price: Price, count: Count) -> Price:
    """The exact dollar value (in price units) of ``count`` contracts at ``price``, rounded up.

    ``price * count`` is in 1/1,000,000 dollar; cost is rounded up to the price unit so that
    collateral is never understated.
    """
    return -((-price * count) // COUNT_SCALE)


def decimal_to_units(value: Decimal | int, decimals: int, *, what: str = "value") -> int:
    """Convert a typed config number (a `Decimal` or an int, e.g. dollars) into integer ``10**-decimals``
    units, exactly: ``Decimal("0.04")`` at 4 decimals is 400.

    Raises `FixedPointError` for more precision than the unit (``0.00005`` dollars), for non-finite
    values, and for anything that is not a Decimal or an int (floats are rejected: they are inexact).
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise FixedPointError(f"{what} must be a decimal number, got {type(value).__name__} {value!r}")
    scale: int = 10**decimals
    if isinstance(value, int):
        return value * scale
    if not value.is_finite():
        raise FixedPointError(f"{what} must be a finite number, got {value}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    magnitude = int("".join(map(str, digits)) or "0")
    shift = exponent + decimals
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        units = magnitude * factor
    else:
        units, rest = divmod(magnitude, factor)
        if rest:
            raise FixedPointError(f"{what} {value} has more than {decimals} decimal places")
    return -units if sign else units


def dollars_to_price(value: Decimal | int, *, what: str = "amount") -> Price:
    """Dollars from a config (``Decimal("0.04")``) to price units (400), exactly; see `decimal_to_units`."""
    return decimal_to_units(value, PRICE_DECIMALS, what=what)


def contracts_to_count(value: Decimal | int, *, what: str = "size") -> Count:
    """Contracts from a config (``Decimal("10")``) to count units (1000), exactly; see `decimal_to_units`."""
    return decimal_to_units(value, COUNT_DECIMALS, what=what)
