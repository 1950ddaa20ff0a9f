"""CONTRIBUTING.md's plugin walk-through states the integer units and the price helpers' full
signatures; this keeps the signatures true to `mmframe.api` and the units to its constants."""

from __future__ import annotations

import inspect
import re
from decimal import Decimal
from pathlib import Path

import mmframe.api as api

DOC = (Path(__file__).resolve().parents[2] / "CONTRIBUTING.md").read_text(encoding="utf-8")
HELPERS = DOC[DOC.index("### The price helpers"):DOC.index("### 1. Generate")]
SIGNATURE = re.compile(r"^(\w+)(?:\.(\w+))?(\(.*?\)) -> ([^#\n]+?)\s*(?:#.*)?$", re.MULTILINE)


def _actual(owner: str, method: str | None) -> str:
    target = getattr(api, owner) if method is None else getattr(getattr(api, owner), method)
    text = str(inspect.signature(target)).replace("'", "")
    return text.replace("(self, ", "(").replace("(self)", "()")


def test_contributing_when_it_lists_a_helper_signature_it_is_the_real_one() -> None:
    found = SIGNATURE.findall(HELPERS)
    assert len(found) >= 15
    for owner, method, params, returns in found:
        written = f"{params} -> {returns}".replace('"', "")
        assert written == _actual(owner, method or None), f"{owner}.{method}" if method else owner


def test_contributing_when_it_states_the_units_they_are_the_apis() -> None:
    assert api.PRICE_SCALE == api.ONE_DOLLAR == 10_000 and "1/10,000 dollar (`PRICE_SCALE = 10_000`" in DOC
    assert api.COUNT_SCALE == 100 and "1/100 contract (`COUNT_SCALE = 100`)" in DOC
    assert api.price_from_config(Decimal("0.04"), "width") == 400 and "0.04 becomes `400`" in DOC
