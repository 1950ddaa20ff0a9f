"""mmframe_sinks (placeholder until its issue lands)."""
