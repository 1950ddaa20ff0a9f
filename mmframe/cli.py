"""The ``mmframe`` command line: run, check, plugins, schema (plugins add more through a hook).

Output formats here are contracts scripts rely on: ``check`` prints ``FILE: ok`` or
``FILE:LINE: message`` lines; ``plugins list --json`` prints an array of objects with the keys
name, kind, package, version, summary, status (and error). A user never sees a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from mmframe import __version__
from mmframe.components import ComponentSpec, Kind
from mmframe.pipeline import PipelineError, full_schema, load_pipeline
from mmframe.pipeline.coerce import suggest
from mmframe.pipeline.model import ComponentRef, Pipeline
from mmframe.pipeline.schema import schema_files, to_json
from mmframe.pipeline.snippets import component_snippet
from mmframe.plugins import Registry, RegistryEntry, UnknownComponentError, load_registry
from mmframe.research.sweep_cli import sweep
from mmframe.runtime.backtest_cli import backtest

KIND_NAMES = [kind.value for kind in Kind]
JSON_KEYS = ("name", "kind", "package", "version", "summary", "status")


@dataclass
class CliState:
    """What every command reads: the plugin registry and the global options."""

    registry: Registry
    log_format: str = "text"
    verbose: int = 0


def _state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    assert state is not None, "commands run under the mmframe group"
    return state


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"mmframe: error: {message}", err=True)
    sys.exit(code)


# --- run / check -----------------------------------------------------------------------------------

_SET_OPTION = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a value in the file, e.g. --set strategy.with.spread=0.04 (repeatable).",
)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop cleanly after this many seconds (default: run until SIGINT/SIGTERM).")
@click.option("--status/--no-status", default=None,
              help="Live status screen (the `terminal` sink) instead of INFO log lines; default: on when "
              "stdout is a terminal and logs are text.")
@click.option("--sim-time", "sim_time", is_flag=True,
              help="Simulated time (pipelines on `venue: sim` only): the daemon and the in-process "
              "simulator share a virtual clock that jumps from event to event, so --duration 28800 "
              "(8 hours) takes minutes. Latency is modelled (venue option `latency`); deterministic "
              "for a seed; the control plane stays off.")
@_SET_OPTION
@click.pass_context
def run(
    ctx: click.Context, file: str, duration: float | None, status: bool | None, sim_time: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run the pipeline in FILE until SIGINT/SIGTERM or --duration."""
    state = _state(ctx)
    try:
        pipeline = load_pipeline(file, state.registry, overrides)
    except PipelineError as exc:
        _echo_issues(exc, err=True)
        sys.exit(2 if exc.plugin_broken else 1)
    if sim_time:
        from mmframe.daemon import sim_time_refusal

        refusal = sim_time_refusal(pipeline)
        if refusal:
            click.echo(f"mmframe: {pipeline.name}: {refusal}", err=True)
            sys.exit(2)
        if duration is None:
            click.echo("mmframe: --sim-time needs --duration SECONDS (simulated time would never end)", err=True)
            sys.exit(2)
    if status is None:
        status = sys.stdout.isatty() and state.log_format == "text"
    if status:
        pipeline = _with_status_screen(pipeline, state.registry)
    try:
        import anyio

        from mmframe.daemon import run_pipeline
        from mmframe.runtime.logs import configure_logging
    except ImportError as exc:
        _fail(f"the runtime is not available: {exc}")
    configure_logging(state.log_format, verbose=state.verbose > 0, quiet=bool(status))
    task = functools.partial(
        run_pipeline, pipeline, state.registry, duration=duration, log_format=state.log_format, sim_time=sim_time
    )
    try:
        if sim_time:
            from mmframe.simtime import run_virtual

            code = run_virtual(task)
        else:
            code = anyio.run(task)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # the runtime reports its own failures; anything else is one line
        from mmframe.runtime.errors import explain

        _fail(f"{pipeline.name}: {explain(exc)}")
    sys.exit(int(code))


def _with_status_screen(pipeline: Pipeline, registry: Registry) -> Pipeline:
    """``pipeline`` with the `terminal` sink added (unless it has one or the sink is not installed)."""
    if any(ref.name == "terminal" for ref in pipeline.sinks):
        return pipeline
    try:
        spec = registry.get(Kind.SINK, "terminal")
    except UnknownComponentError:
        return pipeline
    config = {key: value.get("default") for key, value in spec.config_schema.get("properties", {}).items()}
    ref = ComponentRef(Kind.SINK, "terminal", {k: v for k, v in config.items() if v is not None}, None)
    return dataclasses.replace(pipeline, sinks=(*pipeline.sinks, ref))


MAX_ISSUES_SHOWN = 50
"""Problems printed per file; a file with more gets one line saying how many were left out."""


def _echo_issues(exc: PipelineError, *, err: bool = False) -> None:
    for issue in exc.errors[:MAX_ISSUES_SHOWN]:
        click.echo(str(issue), err=err)
    left = len(exc.errors) - MAX_ISSUES_SHOWN
    if left > 0:
        click.echo(f"{exc.errors[0].file}: ... and {left:,} more problem(s) like these", err=err)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_SET_OPTION
@click.option("--no-credentials", "no_credentials", is_flag=True,
              help="Do not load the venue's credentials (CI without secrets); everything else is built "
              "exactly as `run` builds it.")
@click.pass_context
def check(ctx: click.Context, files: tuple[str, ...], overrides: tuple[str, ...], no_credentials: bool) -> None:
    """Validate pipeline FILES offline, building every component as `run` does (no connection):
    `FILE: ok`, or one `FILE:LINE: message` per problem. Exit 1 when a file is wrong, 2 when a
    plugin it uses failed to load (its error named with file and line)."""
    from mmframe.runtime.app import check_pipeline  # the runtime loads only when a file parses

    registry = _state(ctx).registry
    code = 0
    for file in files:
        try:
            pipeline = load_pipeline(file, registry, overrides)
            check_pipeline(pipeline, registry, credentials=not no_credentials)
        except PipelineError as exc:
            code = max(code, 2 if exc.plugin_broken else 1)
            _echo_issues(exc)
        except Exception as exc:  # a loader bug must still come out as one line per file
            code = max(code, 1)
            click.echo(f"{file}: internal error: {type(exc).__name__}: {exc}")
        else:
            click.echo(f"{file}: ok")
    sys.exit(code)


# --- plugins ----------------------------------------------------------------------------------------


@click.group()
def plugins() -> None:
    """Inspect installed plugins and create new ones."""


def _row(entry: RegistryEntry) -> dict[str, str]:
    row = {
        "name": entry.name,
        "kind": str(entry.kind),
        "package": entry.package,
        "version": entry.version,
        "summary": entry.summary,
        "status": entry.status,
    }
    if entry.error is not None:
        row["error"] = entry.error
    return row


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@plugins.command("list")
@click.option("--kind", type=click.Choice(KIND_NAMES), default=None, help="Only components of this kind.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per component.")
@click.pass_context
def plugins_list(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """List installed components (broken plugins included, with status error; exit 2 if any is).

    With --kind, a plugin that failed to load is listed too: it may be the one providing that kind."""
    registry = _state(ctx).registry
    entries = registry.entries(Kind(kind) if kind else None)
    if kind is not None:
        entries = sorted([*entries, *(e for e in registry.entries() if e.kind == "plugin")],
                         key=lambda e: (e.kind != kind, e.name))
    rows = [_row(entry) for entry in entries]
    broken = [r for r in rows if r["status"] != "ok"]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        sys.exit(2 if broken else 0)
    if not rows:
        click.echo("no plugins installed" if kind is None else f"no {kind} components installed")
        return
    table = [[r["name"], r["kind"], r["package"], r["version"],
              _truncate(r.get("error") or r["summary"], 64), r["status"]] for r in rows]
    header = ["NAME", "KIND", "PACKAGE", "VERSION", "SUMMARY", "STATUS"]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    for r in broken:
        click.echo(f"error: {r['kind']} {r['name']} ({r['package']}): {r.get('error', '')}", err=True)
    sys.exit(2 if broken else 0)


@plugins.command("show")
@click.argument("kind", type=click.Choice(KIND_NAMES))
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The declaration as one JSON object.")
@click.pass_context
def plugins_show(ctx: click.Context, kind: str, name: str, as_json: bool) -> None:
    """Show one component: summary, description, a table of its parameters (name, type, default,
    bounds, updatable at run time, description) and an example; --json for the declaration with
    the raw config schema."""
    registry = _state(ctx).registry
    matches = [e for e in registry.entries(Kind(kind)) if e.name == name]
    working = [e for e in matches if e.spec is not None]
    if not working:
        if matches:
            _fail(f"{kind} '{name}' is broken: {matches[0].error}", 2)
        try:
            registry.get(Kind(kind), name)
        except UnknownComponentError as exc:
            if exc.plugin_broken:
                _fail(f"{exc} (see mmframe plugins list)", 2)
        known = registry.names(Kind(kind))
        hint = suggest(name, known)
        listing = "" if hint else f"; installed: {', '.join(known) or 'none'}"
        _fail(f"unknown {kind} '{name}'{hint}{listing}")
    entry = working[0]
    spec = entry.spec
    assert spec is not None
    if as_json:
        document = {
            **_row(entry),
            "description": spec.description,
            "config_schema": spec.config_schema,
            "example": spec.example,
            "updatable": sorted(spec.updatable),
        }
        click.echo(to_json(document).rstrip())
        return
    click.echo(f"{spec.kind} {spec.name}  ({entry.package} {entry.version})")
    click.echo(f"  {spec.summary}")
    if spec.description:
        click.echo("")
        click.echo(inspect.cleandoc(spec.description))
    click.echo("")
    _echo_params(spec)
    click.echo("")
    click.echo("example:")
    click.echo(component_snippet(spec.kind, spec.name, spec.example))
    click.echo("")
    click.echo("updatable at run time: " + (", ".join(sorted(spec.updatable)) or "none"))


def _echo_params(spec: ComponentSpec) -> None:
    """The parameters of ``spec`` as a table (rich; plain text when stdout is not a terminal)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from mmframe.pipeline.params_table import param_rows

    rows = param_rows(spec)
    if not rows:
        click.echo("parameters: none")
        return
    table = Table(title="parameters (with:)", title_justify="left", box=box.SIMPLE_HEAD, show_lines=False)
    for header in ("name", "type", "default", "bounds", "updatable", "description"):
        table.add_column(header, overflow="fold", ratio=3 if header == "description" else None)
    for row in rows:
        table.add_row(row.name, row.type, row.default, row.bounds, "yes" if row.updatable else "no",
                      row.description)
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140, highlight=False)
    console.print(table)


@plugins.command("new")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--kind", required=True, type=click.Choice([k.value for k in Kind if k is not Kind.VENUE]),
              help="The kind of component the package provides.")
@click.option("--name", required=True, help="The component's name, e.g. my-strategy.")
def plugins_new(path: str, kind: str, name: str) -> None:
    """Write a pip-installable plugin package at PATH with one working component."""
    from mmframe.templates.scaffold import ScaffoldError, write_plugin_package

    try:
        written = write_plugin_package(Path(path), Kind(kind), name)
    except ScaffoldError as exc:
        _fail(str(exc))
    for file in written:
        click.echo(f"wrote {file}")
    click.echo(f"next: pip install -e {path} && mmframe plugins show {kind} {name}")


# --- schema -------------------------------------------------------------------------------------------


@click.command()
@click.option("--write", "directory", type=click.Path(file_okay=False), default=None,
              help="Write pipeline.schema.json and one file per first-party component into this directory.")
@click.pass_context
def schema(ctx: click.Context, directory: str | None) -> None:
    """Print the JSON Schema of a pipeline file with every installed component's config."""
    registry = _state(ctx).registry
    if directory is None:
        click.echo(to_json(full_schema(registry)).rstrip())
        return
    root = Path(directory)
    files = schema_files(registry)
    components = root / "components"
    if components.is_dir():
        for stale in components.rglob("*.schema.json"):
            if stale.relative_to(root).as_posix() not in files:
                stale.unlink()
                click.echo(f"removed {stale}")
    for relative, text in sorted(files.items()):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")


# --- the group ----------------------------------------------------------------------------------------


def create_cli(registry: Registry, *, plugin_commands: bool = True) -> click.Group:
    """The ``mmframe`` group over ``registry``, with every plugin's commands added (in isolation)."""

    problems: list[str] = []

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="mmframe")
    @click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                  help="Logs as human-readable text or JSON lines.")
    @click.option("-v", "--verbose", count=True, help="More logging (repeatable).")
    @click.pass_context
    def cli(ctx: click.Context, log_format: str, verbose: int) -> None:
        """mmframe: a market-making daemon for Kalshi, built from pipeline files and plugins."""
        ctx.obj = CliState(registry, log_format, verbose)
        for problem in problems:
            click.echo(f"mmframe: warning: {problem}", err=True)

    for command in (run, check, plugins, schema):
        cli.add_command(command)
    cli.add_command(backtest)
    cli.add_command(sweep)
    if plugin_commands:
        problems.extend(add_plugin_commands(cli, registry))
    return cli


def add_plugin_commands(cli: click.Group, registry: Registry) -> list[str]:
    """Call every plugin's ``register_commands(cli=...)`` hook; one line per plugin whose hook raised."""
    return registry.add_commands(cli)


def main(argv: Sequence[str] | None = None) -> Any:
    """The console script: load plugins, build the CLI, run it; never a traceback."""
    if argv is None and "--sim-time" in sys.argv and os.environ.get("PYTHONHASHSEED") is None:
        # Simulated time repeats exactly for a seed only if set iteration does too: fix str hashing
        # (randomised per process) by starting again with a fixed hash seed.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    try:
        registry = load_registry()
        cli = create_cli(registry)
    except Exception as exc:  # discovery itself failed: say so in one line
        _fail(f"cannot load plugins: {type(exc).__name__}: {exc}")
    try:
        return cli.main(args=list(argv) if argv is not None else None, prog_name="mmframe")
    except Exception as exc:  # a bug somewhere below: one line (its root cause), not a traceback
        from mmframe.runtime.errors import explain

        _fail(explain(exc))
