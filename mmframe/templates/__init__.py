"""Templates for ``mmframe plugins new``: a pip-installable plugin package, one per component kind."""
