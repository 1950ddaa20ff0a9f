"""Extra feeds for live pipelines: ``fair-value`` (an external reference price per market)."""

from __future__ import annotations

from typing import Any

from mmframe.api import hookimpl
from mmframe_feeds import fair_value


@hookimpl
def register_feeds(register: Any) -> None:
    """The ``fair-value`` feed."""
    register(fair_value.SPEC)
