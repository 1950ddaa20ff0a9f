"""One rule for paths in a pipeline file: relative to the file, whatever the working directory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mmframe_kalshi.replay import ReplayFeed
from mmframe_sinks.journal import JournalSink
from mmframe_sinks.jsonl import JsonlSink

from mmframe.api import ComponentContext, TestClock
from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine, pipeline_dir


def _ctx(base: Path | None) -> ComponentContext:
    return ComponentContext("p", (), TestClock(), logging.getLogger("t"), base_dir=None if base is None else str(base))


def test_context_path_when_relative_absolute_or_home_resolves_by_the_one_rule(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "pipelines")
    assert ctx.path("../var/j.sqlite") == tmp_path / "pipelines" / "../var/j.sqlite"
    assert ctx.path("/abs/j.sqlite") == Path("/abs/j.sqlite")
    assert ctx.path("~/j.sqlite") == Path("~/j.sqlite").expanduser()
    assert _ctx(None).path("var/j.sqlite") == Path("var/j.sqlite")  # no file: as given


def test_sinks_and_replay_when_paths_are_relative_resolve_against_the_pipeline_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert JournalSink.build({"path": "var/j.sqlite"}, ctx).path == tmp_path / "var/j.sqlite"
    assert JournalSink.build({}, ctx).path == tmp_path / "var/mmframe.sqlite"  # the default too
    assert JsonlSink.build({"path": "logs/e.jsonl"}, ctx)._file.path == tmp_path / "logs/e.jsonl"
    (tmp_path / "r.jsonl").write_text("")
    assert ReplayFeed.build({"path": "r.jsonl"}, ctx).path == tmp_path / "r.jsonl"


def test_build_engine_when_run_from_elsewhere_puts_the_journal_beside_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipelines = tmp_path / "conf"
    pipelines.mkdir()
    file = pipelines / "p.yaml"
    file.write_text(
        "name: p\nvenue: sim\nmarkets: [SIM-RAIN-NYC]\nstrategy: {use: symmetric, with: {spread: 0.04, size: 1}}\n"
        "sinks:\n  - use: journal\n    with: {path: state/j.sqlite}\ncontrol: {enabled: false}\n"
    )
    monkeypatch.chdir(tmp_path)
    registry = load_registry()
    pipeline = load_pipeline("conf/p.yaml", registry)
    assert pipeline_dir(pipeline) == str(pipelines)
    engine = build_engine(pipeline, registry)
    journal = engine.parts.sinks[0][1]
    assert journal.path == pipelines / "state" / "j.sqlite"
