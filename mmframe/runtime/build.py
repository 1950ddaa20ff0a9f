"""One way to build a pipeline's components, for ``run``, ``check``, ``backtest`` and ``/params``.

`ComponentBuilder` calls each registered factory with its ``with:`` config and one shared
`ComponentContext`; a factory that refuses its config raises `BuildError` located at the key it
names (``FILE:LINE: key.path: reason``). Risk rules get their names here (a rule used twice is
``name#2``), strategies and rules come back as `Built` records that keep the declaration and the
config they run with, which the control plane's ``/params`` reads and updates, and the client
order id prefix is derived from the pipeline's name here only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from mmframe.clock import Clock
from mmframe.components import (
    ComponentContext,
    ComponentSpec,
    Executor,
    Feed,
    Kind,
    RiskRule,
    Sink,
    Strategy,
    Venue,
    venue_payout,
    venue_run_mode,
)
from mmframe.pipeline.errors import PipelineIssue
from mmframe.pipeline.model import ComponentRef, Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.errors import explain
from mmframe.simtime import in_virtual_time

T = TypeVar("T", covariant=True)


class BuildError(RuntimeError):
    """A component could not be built from its config; ``issue`` says where in the pipeline file
    (``FILE:LINE: key.path: reason``), exactly as ``mmframe check`` prints it; ``ref`` is the
    pipeline entry and ``__cause__`` what its factory raised."""

    def __init__(self, issue: PipelineIssue, ref: ComponentRef) -> None:
        super().__init__(issue.message)
        self.issue = issue
        self.ref = ref


@dataclass(eq=False)
class Built(Generic[T]):
    """A component built from a pipeline entry, with the declaration and the config it runs with.

    ``name`` is what addresses it (``strategy``, a risk rule's name, a sink's ``use``); ``config``
    is its current ``with:`` config, replaced by the merged config when ``/params`` changes it.
    """

    name: str
    spec: ComponentSpec
    config: dict[str, Any]
    component: T

    @property
    def use(self) -> str:
        """The registered name of the component (``use:`` in the pipeline)."""
        return self.spec.name


def order_id_slug(pipeline_name: str) -> str:
    """The pipeline's part of its client order ids: lower-case letters and digits, at most 12."""
    return re.sub(r"[^a-z0-9]+", "", pipeline_name.lower())[:12] or "mm"


def client_order_prefix(pipeline_name: str) -> str:
    """``<slug>-<run id>-``: the slug identifies our orders after a restart, the run id this run."""
    slug = order_id_slug(pipeline_name)
    if in_virtual_time():  # simulated time: a fresh simulator every run, and runs must repeat exactly
        return f"{slug}-{hashlib.sha256(slug.encode()).hexdigest()[:6]}-"
    return f"{slug}-{secrets.token_hex(3)}-"


def rule_names(names: Iterable[str]) -> list[str]:
    """The names risk rules report under, in pipeline order: a rule's ``use``, ``use#2`` for its
    second occurrence, and so on."""
    seen: list[str] = []
    for name in names:
        count = sum(1 for n in seen if n.split("#")[0] == name)
        seen.append(f"{name}#{count + 1}" if count else name)
    return seen


def pipeline_dir(pipeline: Pipeline) -> str | None:
    """The directory relative paths of ``pipeline`` are resolved against (its file's), None when it
    was not read from a file."""
    if not pipeline.path or pipeline.path.startswith("<"):
        return None
    return str(Path(pipeline.path).resolve().parent)


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


def pipeline_context(
    pipeline: Pipeline, clock: Clock, *, credentials: bool = True, backtest: bool = False
) -> ComponentContext:
    """The context every factory of ``pipeline`` is called with (the venue is added once built)."""
    return ComponentContext(
        pipeline=pipeline.name,
        markets=tuple(pipeline.markets.tickers),
        clock=clock,
        logger=logging.getLogger(f"mmframe.{pipeline.name}"),
        base_dir=pipeline_dir(pipeline),
        credentials=credentials,
        market_selection=pipeline.markets,
        backtest=backtest,
        run_mode="backtest" if backtest else "live",
    )


class ComponentBuilder:
    """Builds the components ``pipeline`` names, each through its registered factory.

    Build the venue first: feeds, the executor and the rest see it in ``ctx.venue`` (and its
    ``payout``). Strategy, rules and sinks may be built again (a backtest builds them fresh for
    every run); each call returns new instances.
    """

    def __init__(self, pipeline: Pipeline, registry: Registry, ctx: ComponentContext) -> None:
        self.pipeline = pipeline
        self.registry = registry
        self.ctx = ctx
        self._venue: Venue | None = None

    def build(self, ref: ComponentRef, where: str) -> Any:
        """``ref``'s factory called with its config; `BuildError` located at the key it refused."""
        spec = self.registry.get(ref.kind, ref.name)
        try:
            return spec.factory(dict(ref.config), self.ctx)
        except Exception as exc:
            raise BuildError(build_issue(self.pipeline, ref, where, exc), ref) from exc

    def venue(self) -> Venue:
        """The pipeline's venue, made the context's venue."""
        ref = self.pipeline.venue
        venue: Venue = self.build(ref, f"venue.{ref.name}" if ref.lines else "venue")
        self.ctx.venue = venue
        self.ctx.payout = venue_payout(venue)
        self.ctx.run_mode = "backtest" if self.ctx.backtest else venue_run_mode(venue)
        self._venue = venue
        return venue

    def _built_venue(self) -> Venue:
        return self._venue if self._venue is not None else self.venue()

    def feeds(self) -> list[Feed]:
        """The venue's feed, then the pipeline's extra feeds in order."""
        extra = [self.build(ref, f"feeds.{i}.with") for i, ref in enumerate(self.pipeline.feeds)]
        return [self._built_venue().feed(), *extra]

    def executor(self) -> Executor:
        """The pipeline's executor, else the venue's."""
        if self.pipeline.executor is not None:
            executor: Executor = self.build(self.pipeline.executor, "executor.with")
            return executor
        return self._built_venue().executor()

    def strategy(self) -> Built[Strategy]:
        """The strategy, addressed as ``strategy``."""
        ref = self.pipeline.strategy
        return Built("strategy", self.registry.get(Kind.STRATEGY, ref.name), dict(ref.config),
                     self.build(ref, "strategy.with"))

    def rules(self) -> list[Built[RiskRule]]:
        """The risk rules in pipeline order, each under its `rule_names` name."""
        refs = list(self.pipeline.risk)
        return [
            Built(name, self.registry.get(Kind.RISK, ref.name), dict(ref.config), self.build(ref, f"risk.{i}.with"))
            for i, (name, ref) in enumerate(zip(rule_names(ref.name for ref in refs), refs, strict=True))
        ]

    def sinks(self, refs: Iterable[tuple[int, ComponentRef]] | None = None) -> list[tuple[str, Sink]]:
        """The sinks (``refs``: a subset, with their indexes in the pipeline), named by their ``use``."""
        chosen = enumerate(self.pipeline.sinks) if refs is None else refs
        return [(ref.name, self.build(ref, f"sinks.{i}.with")) for i, ref in chosen]
