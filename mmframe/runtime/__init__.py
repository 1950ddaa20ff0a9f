"""The engine: event loop, market state, quoting, order reconciliation, shutdown."""

from mmframe.runtime.app import run_pipeline

__all__ = ["run_pipeline"]
