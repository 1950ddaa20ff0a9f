"""mmframe_kalshi (placeholder until its issue lands)."""
