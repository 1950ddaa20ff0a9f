"""Build a pipeline's components from the registry and run them until a signal or the duration."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from mmframe.clock import Clock, LiveClock
from mmframe.components import ComponentContext, Kind, venue_payout, venue_run_mode
from mmframe.domain.reconciler import ReconcilePolicy
from mmframe.pipeline.errors import PipelineError, PipelineIssue
from mmframe.pipeline.model import ComponentRef, Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.engine import Engine, EngineParts
from mmframe.runtime.errors import explain
from mmframe.runtime.quoting import NamedRule, QuotingCore

log = logging.getLogger("mmframe")


class BuildError(RuntimeError):
    """A component could not be built from its config; ``issue`` says where in the pipeline file
    (``FILE:LINE: key.path: reason``), exactly as ``mmframe check`` prints it."""

    def __init__(self, issue: PipelineIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def client_order_prefix(pipeline_name: str) -> str:
    """``<slug>-<run id>-``: the slug identifies our orders after a restart, the run id this run."""
    slug = re.sub(r"[^a-z0-9]+", "", pipeline_name.lower())[:12] or "mm"
    return f"{slug}-{secrets.token_hex(3)}-"


def _rule_names(refs: list[ComponentRef]) -> list[str]:
    names: list[str] = []
    for ref in refs:
        name = ref.name
        if name in names:
            name = f"{ref.name}#{sum(1 for n in names if n.split('#')[0] == ref.name) + 1}"
        names.append(name)
    return names


def _build(
    registry: Registry, kind: Kind, ref: ComponentRef, ctx: ComponentContext, pipeline: Pipeline, where: str
) -> Any:
    """``ref``'s factory called with its config; `BuildError` located at the key it refused."""
    spec = registry.get(kind, ref.name)
    try:
        return spec.factory(dict(ref.config), ctx)
    except Exception as exc:
        raise BuildError(build_issue(pipeline, ref, where, exc)) from exc


def build_issue(pipeline: Pipeline, ref: ComponentRef, where: str, exc: BaseException) -> PipelineIssue:
    """The issue for a factory that refused (or failed on) its config: at the line of the field the
    error names (`ConfigError.field`), else at the component's line."""
    field = getattr(exc, "field", None)
    field = field if isinstance(field, str) and field else None
    path = f"{where}.{field}" if field else where
    if isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):
        reason = " ".join(str(exc).split()) or type(exc).__name__
    else:  # a plugin bug or an environment problem: say what broke and where
        reason = f"the {ref.kind} '{ref.name}' failed to build: {explain(exc)}"
    return PipelineIssue(pipeline.path, ref.line_of(field), f"{path}: {reason}")


def _venue_key(ref: ComponentRef) -> str:
    return f"venue.{ref.name}" if ref.lines else "venue"


def pipeline_dir(pipeline: Pipeline) -> str | None:
    """The directory relative paths of ``pipeline`` are resolved against (its file's), None when it
    was not read from a file."""
    if not pipeline.path or pipeline.path.startswith("<"):
        return None
    return str(Path(pipeline.path).resolve().parent)


def build_engine(
    pipeline: Pipeline,
    registry: Registry,
    *,
    clock: Clock | None = None,
    control: Callable[[Engine], Any] | None = None,
    credentials: bool = True,
) -> Engine:
    """Instantiate venue, feeds, strategy, risk rules, executor and sinks for ``pipeline``.

    Nothing connects or writes here (venues connect in ``open``, sinks in ``start``), so ``mmframe
    check`` calls this too: whatever ``run`` would refuse, ``check`` refuses, at the same line.
    ``credentials=False`` (``check --no-credentials``) lets venues skip loading their keys.
    Raises `BuildError`."""
    clock = clock or LiveClock()
    markets = tuple(pipeline.markets.tickers)
    ctx = ComponentContext(
        pipeline=pipeline.name,
        markets=markets,
        clock=clock,
        logger=logging.getLogger(f"mmframe.{pipeline.name}"),
        base_dir=pipeline_dir(pipeline),
    )
    ctx.credentials = credentials
    ctx.extra["market_selection"] = pipeline.markets
    ctx.extra["pipeline_path"] = pipeline.path
    p = pipeline
    venue = _build(registry, Kind.VENUE, p.venue, ctx, p, _venue_key(p.venue))
    ctx.venue = venue
    ctx.payout = venue_payout(venue)
    ctx.run_mode = venue_run_mode(venue)
    feeds = [venue.feed()] + [
        _build(registry, Kind.FEED, ref, ctx, p, f"feeds.{i}.with") for i, ref in enumerate(p.feeds)
    ]
    executor = (
        _build(registry, Kind.EXECUTOR, p.executor, ctx, p, "executor.with") if p.executor else venue.executor()
    )
    strategy = _build(registry, Kind.STRATEGY, p.strategy, ctx, p, "strategy.with")
    rules = [
        NamedRule(name, _build(registry, Kind.RISK, ref, ctx, p, f"risk.{i}.with"))
        for i, (name, ref) in enumerate(zip(_rule_names(list(p.risk)), p.risk, strict=True))
    ]
    sinks = [(ref.name, _build(registry, Kind.SINK, ref, ctx, p, f"sinks.{i}.with")) for i, ref in enumerate(p.sinks)]
    runtime = pipeline.runtime
    policy = ReconcilePolicy(
        price_tolerance=runtime.price_tolerance,
        size_tolerance=runtime.size_tolerance,
    )
    core = QuotingCore(
        strategy=strategy,
        rules=rules,
        now_ns=clock.now_ns,
        monotonic_ns=clock.monotonic_ns,
        emit=lambda event: None,
        policy=policy,
        client_order_prefix=client_order_prefix(pipeline.name),
        reject_policy=runtime.rejects,
    )
    parts = EngineParts(
        venue=venue,
        feeds=feeds,
        executor=executor,
        sinks=sinks,
        core=core,
        markets=markets,
        foreign_orders=str(
            getattr(runtime, "foreign_orders", None) or getattr(venue, "foreign_orders", None) or "cancel"
        ),
    )
    return Engine(
        parts,
        clock=clock,
        pipeline_name=pipeline.name,
        housekeeping_seconds=runtime.housekeeping_seconds,
        shutdown_timeout_seconds=runtime.shutdown_timeout_seconds,
        control=control,
        max_intent_age_ms=runtime.max_intent_age_ms,
    )


async def _watch_signals(engine: Engine) -> None:
    """SIGINT/SIGTERM: the first stops cleanly (every order cancelled and verified on the venue), a
    second says what is still being cancelled, a third gives up the stop at once, naming what is left."""
    received = 0
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            received += 1
            if received == 1 and not engine.stop_reason:
                log.info("%s received: cancelling orders and stopping", name)
                engine.request_stop(name)
            elif received <= 2:
                log.warning("%s again: %s (once more to exit at once)", name, engine.stop_progress())
            else:
                log.error("%s a third time: exiting now; %s", name, engine.stop_progress())
                engine.abort()


async def run_pipeline(
    pipeline: Pipeline, registry: Registry, *, duration: float | None = None, log_format: str = "text"
) -> int:
    """Run ``pipeline`` until SIGINT/SIGTERM or ``duration`` seconds; returns the process exit code.

    0: clean stop with nothing left resting; 1: a fatal error during the run (or orders left
    resting); 2: the pipeline could not be built or started.
    """
    control = None
    sock = None
    if pipeline.control.enabled:
        # imported only when the pipeline enables it
        from mmframe.control import ControlConfigError, open_control_socket, serve_control

        # The port is taken before anything starts (the `sim` venue's simulator, a venue session):
        # a collision is a start-up failure, exit 2, with nothing to stop.
        try:
            sock = open_control_socket(pipeline.control)
        except ControlConfigError as exc:
            log.error("cannot start pipeline %s: %s", pipeline.name, exc)
            return 2
        control = functools.partial(
            serve_control, config=pipeline.control, pipeline=pipeline, registry=registry, sock=sock
        )

    try:
        engine = build_engine(pipeline, registry, control=control)
    except Exception as exc:
        if sock is not None:
            sock.close()
        reason = exc.issue if isinstance(exc, BuildError) else explain(exc)
        log.error("cannot start pipeline %s: %s", pipeline.name, reason)
        return 2
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, engine)
        log.info("running pipeline %s on %s markets", pipeline.name, len(engine.markets) or "selected")
        code = await engine.run(duration)
        tg.cancel_scope.cancel()
    if engine.error:
        log.error("pipeline %s stopped with an error: %s", pipeline.name, engine.error)
    return code


def check_pipeline(pipeline: Pipeline, registry: Registry, *, credentials: bool = True) -> None:
    """Build ``pipeline`` exactly as ``run`` does, connecting nothing; `PipelineError` with the
    located issue when a component refuses its config (``mmframe check``)."""
    try:
        build_engine(pipeline, registry, credentials=credentials)
    except BuildError as exc:
        raise PipelineError([exc.issue]) from None
    except Exception as exc:  # the engine itself refused the parts: still one located line
        issue = PipelineIssue(pipeline.path, None, f"cannot build the pipeline: {explain(exc)}")
        raise PipelineError([issue]) from None
