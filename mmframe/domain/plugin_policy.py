"""What a plugin exception at run time does (pipeline ``runtime.plugin_errors``); the handling is
`mmframe.runtime.plugin_faults`."""

from __future__ import annotations

import enum


class PluginErrorPolicy(enum.StrEnum):
    """``quarantine`` the market the plugin failed on (the default), or ``stop`` the daemon."""

    QUARANTINE = "quarantine"
    STOP = "stop"
