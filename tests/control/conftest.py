"""Fixtures: a fresh in-memory exchange and a registry with the test components."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mmframe.plugins import load_registry
from tests.control import memory_exchange
from tests.control.memory_exchange import Exchange


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn runs on asyncio


@pytest.fixture
def exchange() -> Iterator[Exchange]:
    Exchange.current = Exchange()
    yield Exchange.current
    Exchange.current = None


@pytest.fixture(scope="session")
def registry() -> Any:
    return load_registry(extra_modules=[memory_exchange], environ={"MMFRAME_DISABLE_PLUGINS": ""})
