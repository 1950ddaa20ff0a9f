"""First-party strategies: ``symmetric`` and ``avellaneda-stoikov``, written against `mmframe.api` only."""

from __future__ import annotations

from typing import Any

from mmframe.api import hookimpl
from mmframe_strategies import avellaneda_stoikov, symmetric

MMFRAME_API = ">=1.0,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


@hookimpl
def register_strategies(register: Any) -> None:
    """Register the first-party strategies."""
    register(symmetric.SPEC)
    register(avellaneda_stoikov.SPEC)
