"""Alerts an operator reads on a phone: which events become alerts (`rules`), how repeats are folded
and rate-limited per kind (`throttle`), and delivery through apprise, one URL per target (`delivery`).
The sinks ``alerts`` and ``webhook`` (its older, single-URL form) are built from these parts."""
