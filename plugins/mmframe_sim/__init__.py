"""mmframe_sim (placeholder until its issue lands)."""
