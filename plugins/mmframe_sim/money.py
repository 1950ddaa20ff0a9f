"""The simulator's own fixed-point money: integer units, and Kalshi's wire strings (API.md §3).

Written from API.md and the wire captures in ``shared/kalshi/samples``, on purpose independent of the
client's money code: the simulator is the judge of the client, so a parsing or formatting mistake must
not be shared by both sides (see ``tests/sim/test_sim_independence.py``).

Units (all plain ``int``):

- `Price`: 1/10,000 dollar. Order and trade prices, tick grids, trade fees (Kalshi rounds every trade fee
  up to $0.0001, API.md §9), balances.
- `Count`: 1/100 contract (``FixedPointCount``; fractional trading allows 0.01 contract).
- `Micros`: 1/1,000,000 dollar, the finest ``FixedPointDollars`` precision ("up to 6 decimal places").
  A price times a count is exact in micros (1/10,000 x 1/100), so costs, cost bases, PnL and cash are
  held here and never rounded by arithmetic.

Wire strings (API.md §3: "responses up to 6 dp (most price fields 4 dp, costs/fees 6 dp)"; counts
"always 2 dp out"): `format_price` gives ``"0.5200"``, `format_micros` ``"0.017500"``, `format_count`
``"10.00"``. Requests carry prices with 2-4 decimals and counts with 0-2 (`parse_price`,
`parse_count`); `parse_dollars` reads any ``FixedPointDollars`` string (up to 6 decimals).
"""

from __future__ import annotations

import re
from typing import TypeAlias

Price: TypeAlias = int
"""Dollars in units of 1/10,000 ($0.56 is 5,600)."""
Count: TypeAlias = int
"""Contracts in units of 1/100 (10 contracts is 1,000)."""
Micros: TypeAlias = int
"""Dollars in units of 1/1,000,000 ($0.017500 is 17,500)."""

PRICE_PLACES = 4
COUNT_PLACES = 2
MICRO_PLACES = 6
PRICE_PER_DOLLAR: int = 10**PRICE_PLACES
COUNT_PER_CONTRACT: int = 10**COUNT_PLACES
MICROS_PER_DOLLAR: int = 10**MICRO_PLACES
MICROS_PER_PRICE: int = MICROS_PER_DOLLAR // PRICE_PER_DOLLAR
"""Micros in one price unit (100)."""
ONE: Price = PRICE_PER_DOLLAR
"""$1 in price units: what a winning contract pays."""
CENT: Price = PRICE_PER_DOLLAR // 100
CENT_MICROS: Micros = MICROS_PER_DOLLAR // 100

# Digits, optionally a point and more digits. No exponent, no spaces, no "1." or ".5": Kalshi's strings
# always have a whole part, and anything else is a malformed request the venue would refuse.
_FIXED = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


class MoneyError(ValueError):
    """A fixed-point string is malformed, or more precise than its field allows."""


def _parse(text: object, places: int, what: str, *, signed: bool) -> int:
    """``text`` as an integer number of ``10**-places`` units, exactly (never rounded)."""
    if not isinstance(text, str):
        raise MoneyError(f"{what} must be a decimal string, got {type(text).__name__} {text!r}")
    match = _FIXED.fullmatch(text)
    if match is None:
        raise MoneyError(f"{what} {text!r} is not a decimal number")
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if sign and not signed:
        raise MoneyError(f"{what} {text!r} must not be negative")
    if len(frac) > places:
        raise MoneyError(f"{what} {text!r} has more than {places} decimal places")
    scale: int = 10**places
    units = int(whole) * scale + int(frac.ljust(places, "0"))
    return -units if sign else units


def _format(units: int, places: int) -> str:
    sign = "-" if units < 0 else ""
    scale: int = 10**places
    whole, frac = divmod(abs(units), scale)
    return f"{sign}{whole}.{frac:0{places}d}"


# --- parsing ---------------------------------------------------------------------------------------------


def parse_dollars(text: object, *, what: str = "amount", signed: bool = True) -> Micros:
    """A ``FixedPointDollars`` string (0-6 decimals, e.g. ``"0.040590"``, ``"-1.5"``) in micros."""
    return _parse(text, MICRO_PLACES, what, signed=signed)


def parse_price(text: object, *, what: str = "price") -> Price:
    """A request's dollar price (``"0.56"``, ``"0.5600"``) in price units.

    Up to 6 decimals are read (the type's precision), but a price must be a whole number of $0.0001:
    ``"0.515000"`` is 5,150, ``"0.51505"`` is refused. Negative prices are refused.
    """
    micros = parse_dollars(text, what=what, signed=False)
    price, rest = divmod(micros, MICROS_PER_PRICE)
    if rest:
        raise MoneyError(f"{what} {text!r} is finer than $0.0001")
    return price


def parse_count(text: object, *, what: str = "count") -> Count:
    """A request's ``FixedPointCount`` (``"10"``, ``"10.5"``, ``"10.00"``; 0-2 decimals) in count units."""
    return _parse(text, COUNT_PLACES, what, signed=False)


# --- formatting ------------------------------------------------------------------------------------------


def format_price(price: Price) -> str:
    """Price units as a 4-decimal dollar string, Kalshi's price fields: 5200 -> ``"0.5200"``."""
    return _format(price, PRICE_PLACES)


def format_micros(micros: Micros) -> str:
    """Micros as a 6-decimal dollar string, Kalshi's cost/fee/PnL fields: 17500 -> ``"0.017500"``."""
    return _format(micros, MICRO_PLACES)


def format_micros_short(micros: Micros) -> str:
    """4 decimals when exact at $0.0001, else 6 (``"0.5200"``, ``"0.523333"``).

    For the create/amend averages: the demo capture shows ``average_fill_price "0.5200"`` and
    ``average_fee_paid "0.0175"`` while the spec types them ``FixedPointDollars`` (up to 6 decimals).
    """
    if micros % MICROS_PER_PRICE == 0:
        return _format(micros // MICROS_PER_PRICE, PRICE_PLACES)
    return _format(micros, MICRO_PLACES)


def format_count(count: Count) -> str:
    """Count units as Kalshi's 2-decimal count string: 1000 -> ``"10.00"``."""
    return _format(count, COUNT_PLACES)


# --- arithmetic ------------------------------------------------------------------------------------------


def price_micros(price: Price) -> Micros:
    """Price units in micros (exact)."""
    return price * MICROS_PER_PRICE


def cost_micros(price: Price, count: Count) -> Micros:
    """What ``count`` contracts at ``price`` cost, exactly: 1/10,000 $ x 1/100 contract = 1/1,000,000 $."""
    return price * count


def micros_floor_price(micros: Micros) -> Price:
    """Micros to price units, toward minus infinity."""
    return micros // MICROS_PER_PRICE


def micros_ceil_price(micros: Micros) -> Price:
    """Micros to price units, toward plus infinity."""
    return -(-micros // MICROS_PER_PRICE)


def per_contract_micros(total: Micros, count: Count) -> Micros:
    """``total`` dollars spread over ``count`` contracts, per contract, to the nearest micro (half up).

    The volume-weighted averages of the create/amend answers; how Kalshi rounds them is unpublished.
    """
    if count <= 0:
        raise ValueError(f"an average needs a positive count, got {count}")
    # total/(count/100) = total*100/count; rounded half up without floats
    return (2 * total * COUNT_PER_CONTRACT + count) // (2 * count)
