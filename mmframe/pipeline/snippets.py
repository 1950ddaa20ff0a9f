"""Render a component's example config as the pipeline YAML that would use it (for ``plugins show``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mmframe.components import Kind

_LIST_KINDS = {Kind.FEED: "feeds", Kind.RISK: "risk", Kind.SINK: "sinks"}
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@+-]*")


def component_snippet(kind: Kind, name: str, example: Mapping[str, Any]) -> str:
    """The lines of a pipeline file that use component ``name`` with ``example`` as its config."""
    if kind is Kind.VENUE:
        if not example:
            return f"venue: {name}"
        return "venue:\n" + _block({name: dict(example)}, 1)
    body: dict[str, Any] = {"use": name}
    if example:
        body["with"] = dict(example)
    if kind in _LIST_KINDS:
        lines = _block(body, 2).splitlines()
        lines[0] = "  - " + lines[0].lstrip()
        return f"{_LIST_KINDS[kind]}:\n" + "\n".join(lines)
    return f"{kind.value}:\n" + _block(body, 1)


def _block(value: Mapping[str, Any], depth: int) -> str:
    pad = "  " * depth
    lines = []
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            lines.append(f"{pad}{key}:")
            lines.append(_block(item, depth + 1))
        elif isinstance(item, list | tuple) and item and any(isinstance(i, Mapping) for i in item):
            lines.append(f"{pad}{key}:")
            for element in item:
                inner = _block(element, depth + 2) if isinstance(element, Mapping) else f"{pad}    {_scalar(element)}"
                first, *rest = inner.splitlines()
                lines.append(f"{pad}  - {first.lstrip()}")
                lines.extend(rest)
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}")
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    text = str(value)
    return text if _PLAIN.fullmatch(text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
