"""The engine: event loop, market state, quoting, order reconciliation, shutdown.

`mmframe.daemon` runs it together with the control plane; the runtime never imports the control plane.
"""
