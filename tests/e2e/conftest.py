"""Fixtures for end-to-end tests: an in-process simulator on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator


@pytest.fixture
def anyio_backend() -> str:
    # websockets (the Kalshi client) is asyncio-only.
    return "asyncio"


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with start_simulator(seed=11) as running:
        yield running
