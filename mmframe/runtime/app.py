"""Build a pipeline's engine from the registry (``run``, ``check``); `mmframe.daemon` runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmframe.clock import Clock, LiveClock
from mmframe.domain.reconciler import ReconcilePolicy
from mmframe.pipeline.errors import PipelineError, PipelineIssue
from mmframe.pipeline.model import Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.build import (
    BuildError,
    ComponentBuilder,
    build_issue,
    client_order_prefix,
    pipeline_context,
    pipeline_dir,
)
from mmframe.runtime.engine import Engine, EngineParts
from mmframe.runtime.errors import explain
from mmframe.runtime.quoting import NamedRule, QuotingCore

__all__ = ["BuildError", "build_engine", "build_issue", "check_pipeline", "pipeline_dir"]



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
    builder = ComponentBuilder(pipeline, registry, pipeline_context(pipeline, clock, credentials=credentials))
    venue = builder.venue()
    feeds = builder.feeds()
    executor = builder.executor()
    strategy = builder.strategy()
    rules = builder.rules()
    sinks = builder.sinks()
    runtime = pipeline.runtime
    core = QuotingCore(
        strategy=strategy.component,
        rules=[NamedRule(built.name, built.component) for built in rules],
        now_ns=clock.now_ns,
        monotonic_ns=clock.monotonic_ns,
        emit=lambda event: None,
        policy=ReconcilePolicy(price_tolerance=runtime.price_tolerance, size_tolerance=runtime.size_tolerance),
        client_order_prefix=client_order_prefix(pipeline.name),
        reject_policy=runtime.rejects,
        strategy_name=pipeline.strategy.name,
        plugin_errors=runtime.plugin_errors,
    )
    parts = EngineParts(
        venue=venue,
        feeds=feeds,
        executor=executor,
        sinks=sinks,
        core=core,
        markets=builder.ctx.markets,
        feed_names=(None, *(ref.name for ref in pipeline.feeds)),
        foreign_orders=str(
            getattr(runtime, "foreign_orders", None) or getattr(venue, "foreign_orders", None) or "cancel"
        ),
        configured={strategy.name: strategy, **{built.name: built for built in rules}},
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
