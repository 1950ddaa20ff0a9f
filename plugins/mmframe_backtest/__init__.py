"""mmframe_backtest (placeholder until its issue lands)."""
