"""mmframe_strategies (placeholder until its issue lands)."""
