"""Exact fixed-point money: prices in 1/10,000 dollar, counts in 1/100 contract, and dollar amounts
reported by a venue in 1/1,000,000 dollar.

Kalshi sends prices as strings such as ``"0.5600"`` and counts as ``"10.00"``. They are converted to
integers exactly, here and only here; nothing in mmframe holds money as a float.

Two dollar units exist because Kalshi's ``FixedPointDollars`` strings carry up to 6 decimals:

* `Price` (1/10,000 dollar) is the domain's unit for prices and every amount the core books. An
  order price or a book level is on the market's tick grid, so it always fits; a price string with
  a nonzero 5th or 6th decimal is malformed (`parse_price` refuses it).
* `Micros` (1/1,000,000 dollar) holds what the venue *reports* as an amount — a fill's fee, an
  average fill price, exposure, realised PnL, fees paid, a balance — exactly as sent
  (``"0.017486"`` is 17,486). `micros_to_price` rounds it to the domain's unit only where the domain
  needs a `Price`, in the direction that never flatters us: costs and fees up, gains down,
  averages to the nearest unit.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal, TypeAlias

Price: TypeAlias = int
"""A price (or any dollar amount) in units of 1/10,000 dollar: ``0.56`` is ``5600``."""

Count: TypeAlias = int
"""A number of contracts in units of 1/100 contract: ``10`` contracts is ``1000``."""

Micros: TypeAlias = int
"""A dollar amount as a venue reports it, in 1/1,000,000 dollar: ``0.017486`` is ``17486``."""

Rounding: TypeAlias = Literal["up", "down", "nearest"]
"""How `micros_to_price` rounds: ``up`` (toward +infinity: costs, fees), ``down`` (toward -infinity:
gains, balances), ``nearest`` (half toward +infinity: averages)."""

PRICE_DECIMALS = 4
COUNT_DECIMALS = 2
PRICE_SCALE: int = 10**PRICE_DECIMALS
"""Price units per dollar."""
COUNT_SCALE: int = 10**COUNT_DECIMALS
"""Count units per contract."""
ONE_DOLLAR: Price = PRICE_SCALE
"""What a winning contract pays, in price units."""
MICROS_DECIMALS = 6
MICROS_SCALE: int = 10**MICROS_DECIMALS
"""Micros per dollar."""
MICROS_PER_PRICE: int = MICROS_SCALE // PRICE_SCALE
"""Micros per price unit (100)."""


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


def parse_micros(text: str, *, what: str = "amount") -> Micros:
    """Parse a Kalshi dollar amount (``"0.017486"``, ``"2.5"``, ``"-0.0400"``) into micros, exactly.

    Up to 6 decimals (Kalshi's ``FixedPointDollars``); a nonzero 7th decimal raises `FixedPointError`.
    """
    return parse_fixed(text, MICROS_DECIMALS, what=what)


def format_micros(micros: Micros, places: int = MICROS_DECIMALS) -> str:
    """Format micros as a dollar string: ``17486`` -> ``"0.017486"``."""
    return format_fixed(micros, MICROS_DECIMALS, places)


def micros_to_price(micros: Micros, rounding: Rounding) -> Price:
    """Micros to price units, rounded as ``rounding`` says (see `Rounding`); exact when it divides.

    ``17486`` (``$0.017486``) is 175 ``up``, 174 ``down`` and 175 ``nearest``.
    """
    if rounding == "up":
        return -(-micros // MICROS_PER_PRICE)
    if rounding == "down":
        return micros // MICROS_PER_PRICE
    if rounding == "nearest":
        return (2 * micros + MICROS_PER_PRICE) // (2 * MICROS_PER_PRICE)
    raise ValueError(f"rounding must be up, down or nearest, got {rounding!r}")


def price_to_micros(price: Price) -> Micros:
    """Price units to micros (exact): ``5600`` -> ``560000``."""
    return price * MICROS_PER_PRICE


def notional(price: Price, count: Count) -> Price:
    """The exact dollar value (in price units) of ``count`` contracts at ``price``, rounded up.

    ``price * count`` is in 1/1,000,000 dollar; cost is rounded up to the price unit so that
    collateral is never understated.
    """
    return -((-price * count) // COUNT_SCALE)


_MAX_UNIT_DIGITS = 30


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
    if value and value.adjusted() + decimals > _MAX_UNIT_DIGITS:
        # 10 ** shift below would take memory and time without bound (1e999999999)
        raise FixedPointError(f"{what} {value} is out of range")
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
