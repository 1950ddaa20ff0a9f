"""``mmframe report``: read a journal and print (or export) what the trading did."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from mmframe_sinks import journal_db
from mmframe_sinks.report import MODES, ReportError, build_report, parse_since
from mmframe_sinks.report_render import print_text, render_html


@click.command("report")
@click.option("--journal", "journal_path", default="var/mmframe.sqlite", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The journal sink's SQLite file.")
@click.option("--since", default=None, help="A UTC date or datetime (2026-11-26, 2026-11-26T12:00) or an age (24h, 7d).")
@click.option("--mode", type=click.Choice(MODES), default="auto", show_default=True,
              help="Which runs: live, paper, backtest, all; auto = the live runs, else the paper runs, else the backtest runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write an HTML report with plots to this file.")
def report_command(
    journal_path: Path, since: str | None, mode: str, as_json: bool, html_path: Path | None
) -> None:
    """PnL per market and per day, fees, fills, spread captured, inventory and markouts from a journal."""
    try:
        db = journal_db.connect(journal_path, create=False)
    except (FileNotFoundError, OSError) as exc:
        raise click.ClickException(f"{exc} (the journal sink writes it: sinks: [{{use: journal}}])") from None
    try:
        now = time.time_ns()
        report: dict[str, Any] = build_report(db, since_ns=parse_since(since, now), now_ns=now, mode=mode)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(report), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_text(report, Console(width=160))
        if html_path is not None:
            click.echo(f"HTML report written to {html_path}")
