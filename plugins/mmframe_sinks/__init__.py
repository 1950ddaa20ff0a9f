"""First-party sinks — ``journal`` (SQLite), ``jsonl``, ``terminal``, ``alerts`` (and its older
single-URL form ``webhook``) — and the
``mmframe report`` command that reads the journal."""

from __future__ import annotations

from typing import Any

from mmframe.api import hookimpl
from mmframe_sinks import alerts, journal, jsonl, terminal, webhook

MMFRAME_API = ">=1.0,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


SPECS = (journal.SPEC, jsonl.SPEC, terminal.SPEC, alerts.SPEC, webhook.SPEC)


@hookimpl
def register_sinks(register: Any) -> None:
    """Register the first-party sinks."""
    for spec in SPECS:
        register(spec)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``mmframe report``."""
    from mmframe_sinks.commands import report_command

    cli.add_command(report_command)
