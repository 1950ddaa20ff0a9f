"""The ``backtest`` executor: fills our simulated orders against a recorded market, queue-aware.

The model itself is `mmframe.api.QueueFillModel` (shared with the ``paper`` venue, which runs it
on a live feed): our place in the queue at each price level, fills only when the market's trades
and cancels at our level reach us, Kalshi's fees. This module adds what a backtest needs: the
config schema, a reset between runs, and the refusal to run live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from mmframe.api import (
    QUEUE_FILL_MODEL_DOC,
    QUEUE_FILL_PROPERTIES,
    ComponentContext,
    ComponentSpec,
    Event,
    Kind,
    OrderAction,
    QueueFillModel,
    resolve_config,
)
from mmframe_backtest._orders import BacktestOnly

EXECUTOR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "backtest executor",
    "type": "object",
    "additionalProperties": False,
    "properties": dict(QUEUE_FILL_PROPERTIES),
}


class QueueExecutor(QueueFillModel, BacktestOnly):
    """Queue-aware simulated fills against recorded market data (`mmframe.api.QueueFillModel`)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        c = resolve_config("backtest", EXECUTOR_SCHEMA, config)
        super().__init__(fees=c["fees"], trade_match_ns=int(Decimal(c["trade_match_ms"]) * 1_000_000),
                         fill_on_cross=c["fill_on_cross"])

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> QueueExecutor:
        """The component factory."""
        return cls(config)

    # --- SimulatedExecutor ------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        self.reset_books()

    def execute(self, actions: Sequence[OrderAction], now_ns: int) -> list[Event]:
        return QueueFillModel.execute(self, actions, now_ns)

    def on_step(self, now_ns: int) -> list[Event]:
        return []


SPEC = ComponentSpec(
    kind=Kind.EXECUTOR,
    name="backtest",
    summary="Simulated fills against recorded data: queue position from book depth, trades at/through, fees.",
    factory=QueueExecutor.build,
    config_schema=EXECUTOR_SCHEMA,
    example={"fees": True, "trade_match_ms": 500},
    description=QUEUE_FILL_MODEL_DOC,
)
