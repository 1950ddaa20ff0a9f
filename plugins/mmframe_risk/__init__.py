"""mmframe_risk (placeholder until its issue lands)."""
