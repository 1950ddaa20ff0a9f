"""Render docs/components.md — the parameter reference of the first-party strategies and risk rules —
from their registered `ComponentSpec`s, so the page cannot drift from the schemas.

Regenerate with ``python -m tests.strategies.components_doc > docs/components.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import mmframe_risk
import mmframe_strategies

from mmframe.api import MAX_PAYOUT_DOLLARS, ComponentSpec

HEADER = """# Strategies and risk rules: parameters

Generated from each component's config schema (`python -m tests.strategies.components_doc >
docs/components.md`; a test keeps it current). Money is written in dollars (`spread: 0.04`) and
sizes in contracts (`size: 10`); both are converted exactly to price units ($0.0001) and count
units (0.01 contract), and a value more precise than that is refused. Fields marked *run time* can
be changed while running with `POST /params`. `mmframe plugins show <kind> <name>` prints the same
reference with the full JSON Schema.

Every number has a range (the *range* column; `(` and `)` exclude the bound, `[` and `]` include
it; *payout* is the market's, $1 on Kalshi): prices lie strictly between $0 and $1, spreads and price distances are below the market's
payout ($1 on Kalshi; only a synthetic backtest market such as `as2008-midprice`'s pays more, up
to $1,000), one order is at most **10,000 contracts** (`MAX_ORDER_CONTRACTS`, the hard cap on
every strategy size and order-size limit), position and exposure limits at most 1,000,000
contracts (`MAX_CONTRACTS`), dollar amounts at most $10,000,000 (`MAX_DOLLARS`), and no number is
infinite or has more than 15 digits. Fields that depend on each other are checked together when the
pipeline is built, by `mmframe check` as by `mmframe run` and `POST /params`: `price-band` refuses
`min_price` above `max_price`, `max-order-size` a `size_increment` above `max_size`, and the
strategies a `size` below `size_increment`.

Risk rules run in pipeline order; each returns pass, adjust (clip sizes, move or widen prices),
block (pull this market's orders) or halt (stop quoting everywhere, cancel every order, keep the
positions; optionally resume after a cool-down), and every non-pass verdict carries its reason.
"""


def _specs() -> list[ComponentSpec]:
    specs: list[ComponentSpec] = []
    mmframe_strategies.register_strategies(specs.append)
    mmframe_risk.register_risk_rules(specs.append)
    return specs


def _type(field: Mapping[str, Any]) -> str:
    if "enum" in field:
        return " \\| ".join(f"`{value}`" for value in field["enum"])
    return str(field.get("type", ""))


_CAPS = {10_000: "10,000", 1_000_000: "1,000,000", 10_000_000: "10,000,000", 1000: "1,000"}


def _bound(value: Any) -> str:
    return _CAPS.get(value, str(value)) if isinstance(value, int) else str(value)


def _range(field: Mapping[str, Any]) -> str:
    """``(0, 1)``, ``[0, 10,000]``, with the step: the value's bounds in interval notation."""
    if field.get("type") not in ("number", "integer"):
        return ""
    if "exclusiveMinimum" in field:
        low = f"({_bound(field['exclusiveMinimum'])}"
    elif "minimum" in field:
        low = f"[{_bound(field['minimum'])}"
    else:
        low = "(-∞"
    if field.get("exclusiveMaximum") == MAX_PAYOUT_DOLLARS:
        high = "payout)"  # the market's payout: $1 on Kalshi (checked when the pipeline is built)
    elif "exclusiveMaximum" in field:
        high = f"{_bound(field['exclusiveMaximum'])})"
    elif "maximum" in field:
        high = f"{_bound(field['maximum'])}]"
    else:
        high = "∞)"
    step = f", step {field['multipleOf']}" if "multipleOf" in field else ""
    return f"{low}, {high}{step}"


def _default(value: Any) -> str:
    return f"`{json.dumps(value)}`"


def render() -> str:
    """The whole page."""
    out = [HEADER]
    for kind, title in (("strategy", "Strategies"), ("risk", "Risk rules")):
        out.append(f"\n## {title}\n")
        for spec in (s for s in _specs() if s.kind.value == kind):
            out.append(f"\n### `{spec.name}`\n\n{spec.summary}\n")
            if spec.description:
                out.append(f"\n{spec.description}\n")
            out.append("\n| field | type | range | default | run time | description |\n|---|---|---|---|---|---|\n")
            for name, field in spec.config_schema.get("properties", {}).items():
                updatable = "yes" if name in spec.updatable else ""
                description = " ".join(str(field.get("description", "")).split()).replace("|", "\\|")
                out.append(
                    f"| `{name}` | {_type(field)} | {_range(field)} | {_default(field.get('default'))} | {updatable} "
                    f"| {description} |\n"
                )
            example = ", ".join(f"{key}: {json.dumps(value)}" for key, value in spec.example.items())
            out.append(f"\nExample: `{{use: {spec.name}, with: {{{example}}}}}`\n")
    return "".join(out)


if __name__ == "__main__":
    print(render(), end="")
