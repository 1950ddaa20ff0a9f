"""A plugin that raises while the daemon runs: named, located, and contained to its market.

What happens is the pipeline's ``runtime.plugin_errors``:

* ``quarantine`` (the default): the market the failing call was about is quarantined exactly as a
  reject storm quarantines it (`RejectGuard.quarantine`): its orders are pulled, it is not quoted
  until an operator resumes it or the reject cool-down passes, and a `MarketQuarantined` event (the
  alerts sink's quarantine alert) says which plugin failed where. Every other market keeps quoting.
  A failure that concerns no single market (a risk rule observing an account-wide event) halts
  trading instead (`TradingHalted`, an alert too).
* ``stop``: the daemon stops cleanly (every order cancelled and verified), naming the plugin.

Either way the log says, without ``-v``, which plugin raised in which call, and where (the file and
line in the plugin's own code). Sinks are the exception: they are off the quoting path, so a sink
that raises is logged (named and located) and the run goes on (`mmframe.runtime.sinks`).
"""

from __future__ import annotations

import os
import sys
import traceback

from mmframe.domain.plugin_policy import PluginErrorPolicy

__all__ = ["PluginErrorPolicy", "PluginFault", "describe_fault", "plugin_location"]


class PluginFault(RuntimeError):
    """A plugin raised at run time under ``plugin_errors: stop``: the run stops, naming it."""

    advice = "fix the plugin, or set runtime.plugin_errors: quarantine to pull only the market it failed on"


def plugin_location(exc: BaseException, component: object) -> str:
    """``file:line`` where ``exc`` was raised in ``component``'s own package (the deepest such frame),
    else the innermost frame with source; "" when the traceback has none."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if not frames:
        return ""
    root = _package_dir(component)
    if root is not None:
        own = [f for f in frames if os.path.abspath(f.filename).startswith(root)]
        if own:
            return f"{own[-1].filename}:{own[-1].lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}"


def _package_dir(component: object) -> str | None:
    """The directory of the top-level package that defines ``component``'s class."""
    top = type(component).__module__.split(".")[0]
    module = sys.modules.get(top)
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path:
        return None
    directory = os.path.dirname(os.path.abspath(path))
    return directory + os.sep if os.path.basename(path) == "__init__.py" else os.path.abspath(path)


def describe_fault(kind: str, name: str, call: str, exc: BaseException, component: object) -> str:
    """``strategy 'x' raised in quote(): ZeroDivisionError: division by zero at FILE:LINE``."""
    text = " ".join(str(exc).split())
    where = plugin_location(exc, component)
    return f"{kind} '{name}' raised in {call}: {type(exc).__name__}" + (f": {text}" if text else "") + (
        f" at {where}" if where else ""
    )
