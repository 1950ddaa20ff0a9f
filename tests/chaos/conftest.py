"""Fixtures of the chaos suite, and the hook that keeps docs/reliability.md's table current.

With ``MMFRAME_CHAOS_RESULTS=tests/chaos/results.json`` (any path) every chaos case's outcome is added
to that file (tries, passed, xfailed, failed per case); ``python tests/chaos/render_reliability.py``
then rewrites the table in docs/reliability.md from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import SimProcess, sim_process
from tests.chaos.results import Outcome, is_chaos_case, record

RESULTS_ENV = "MMFRAME_CHAOS_RESULTS"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def standard_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One standard-scenario simulator process per module; each case makes its own account."""
    with sim_process(tmp_path_factory.mktemp("sim")) as sim:
        yield sim


_outcomes: list[Outcome] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if RESULTS_ENV not in os.environ or not is_chaos_case(report.nodeid):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        xfail = hasattr(report, "wasxfail")
        outcome = ("xfailed" if report.skipped else "xpassed") if xfail else report.outcome
        observed = "; ".join(str(v) for k, v in report.user_properties if k == "observed")
        _outcomes.append(Outcome(node=report.nodeid, outcome=outcome, seconds=report.duration, observed=observed))


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path and _outcomes:
        record(Path(path), _outcomes)
