"""Events as plain JSON-ready dicts: ``{"kind": "OrderFilled", "ts_ns": ..., <fields>}``.

Prices and counts stay exact integers in their units (1/10,000 dollar, 1/100 contract); enums are
their values; nested dataclasses become dicts.
"""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal
from typing import Any

import orjson

from mmframe.api import Event


def plain(value: Any) -> Any:
    """A JSON-ready copy of ``value``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def event_dict(event: Event) -> dict[str, Any]:
    """``event`` as a dict with its ``kind`` first."""
    body = plain(event)
    return {"kind": event.kind, **body}


def event_line(event: Event) -> bytes:
    """One JSON line (with the newline)."""
    return orjson.dumps(event_dict(event)) + b"\n"
