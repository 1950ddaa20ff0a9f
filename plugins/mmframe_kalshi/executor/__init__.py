"""The Kalshi executor, split by job (see `facade` for the map): `KalshiExecutor` is the component."""

from mmframe_kalshi.executor.account import ACCOUNT_CHANNELS
from mmframe_kalshi.executor.budget import KalshiWriteBudget
from mmframe_kalshi.executor.facade import KalshiExecutor
from mmframe_kalshi.executor.outcomes import GATE_CLOSED

__all__ = ["ACCOUNT_CHANNELS", "GATE_CLOSED", "KalshiExecutor", "KalshiWriteBudget"]
