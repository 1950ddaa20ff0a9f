"""What every backtest executor shares besides the order bookkeeping (`mmframe.api.SimulatedOrders`):
it refuses to run live, so ``mmframe run`` on a backtest pipeline stops cleanly with a message."""

from __future__ import annotations

from typing import Any

NOT_LIVE = "simulated executors run only in backtests: use `mmframe backtest FILE`"


class BacktestOnly:
    """The live `Executor` methods of a backtest executor: ``start`` refuses, the rest do nothing."""

    async def start(self, ctx: Any) -> Any:
        raise RuntimeError(NOT_LIVE)

    async def cancel_all(self) -> None:
        return None

    async def open_orders(self) -> list[Any]:
        return []

    async def stop(self) -> None:
        return None
