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

from mmframe.api import ComponentSpec

HEADER = """# Strategies and risk rules: parameters

Generated from each component's config schema (`python -m tests.strategies.components_doc >
docs/components.md`; a test keeps it current). Money is written in dollars (`spread: 0.04`) and
sizes in contracts (`size: 10`); both are converted exactly to price units ($0.0001) and count
units (0.01 contract), and a value more precise than that is refused. Fields marked *run time* can
be changed while running with `POST /params`. `mmframe plugins show <kind> <name>` prints the same
reference with the full JSON Schema.

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
            out.append("\n| field | type | default | run time | description |\n|---|---|---|---|---|\n")
            for name, field in spec.config_schema.get("properties", {}).items():
                updatable = "yes" if name in spec.updatable else ""
                description = " ".join(str(field.get("description", "")).split()).replace("|", "\\|")
                out.append(
                    f"| `{name}` | {_type(field)} | {_default(field.get('default'))} | {updatable} | {description} |\n"
                )
            example = ", ".join(f"{key}: {json.dumps(value)}" for key, value in spec.example.items())
            out.append(f"\nExample: `{{use: {spec.name}, with: {{{example}}}}}`\n")
    return "".join(out)


if __name__ == "__main__":
    print(render(), end="")
