"""A deployed daemon shared by the deploy tests (one per package run) (starting one costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.daemon import RunningDaemon, deployed_daemon, wait_until


@pytest.fixture(scope="package")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """deploy/pipeline.yaml running on the simulator, holding a position in at least one market."""
    with deployed_daemon(Path(tmp_path_factory.mktemp("deployed"))) as running:
        wait_until(lambda: any(p["position"] != "0.00" for p in running.get("/state").json()["positions"]), 90,
                   "a fill on the simulator")
        yield running
