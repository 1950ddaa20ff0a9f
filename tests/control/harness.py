"""Run a real engine with its control plane on a free loopback port, for tests."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx

from mmframe.api import Kind
from mmframe.control import serve_control
from mmframe.pipeline.model import ComponentRef, ControlConfig, MarketSelection, Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.app import build_engine
from mmframe.runtime.engine import Engine
from tests.control.memory_exchange import TICKERS

TOKEN = "test-token-0123456789"


def make_pipeline(
    *,
    token: str | None = TOKEN,
    host: str = "127.0.0.1",
    risk: tuple[tuple[str, dict[str, Any]], ...] = (),
    sinks: tuple[tuple[str, dict[str, Any]], ...] = (),
    strategy_config: dict[str, Any] | None = None,
    flatten_max_slippage: int | None = None,
    tickers: tuple[str, ...] = TICKERS,
) -> Pipeline:
    return Pipeline(
        name="control-test",
        path="<test>",
        venue=ComponentRef(Kind.VENUE, "memory-exchange", {}, None),
        markets=MarketSelection(tickers=tickers),
        strategy=ComponentRef(Kind.STRATEGY, "mid-quoter", strategy_config or {"spread": 0.04, "size": 1}, None),
        risk=tuple(ComponentRef(Kind.RISK, name, cfg, None) for name, cfg in risk),
        sinks=tuple(ComponentRef(Kind.SINK, name, cfg, None) for name, cfg in sinks),
        control=ControlConfig(host=host, port=0, token=token, flatten_max_slippage=flatten_max_slippage),
    )


def build(pipeline: Pipeline, registry: Registry) -> Engine:
    control = functools.partial(serve_control, config=pipeline.control)
    return build_engine(pipeline, registry, control=control)


async def wait_for(predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate`` (a cheap, synchronous check) until it holds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


def quoting_everywhere(engine: Engine) -> bool:
    """Every market has a resting bid and ask."""
    return all(
        {o.side.value for o in engine.core.tracker.working(t) if o.status.value == "resting"} == {"bid", "ask"}
        for t in engine.markets
    )


@asynccontextmanager
async def running(engine: Engine, *, settle: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``engine`` until the block ends; yields an HTTP client on its control plane."""
    result: dict[str, int] = {}

    async def run() -> None:
        result["code"] = await engine.run()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await wait_for(lambda: engine.control_url is not None or "code" in result, what="control plane")
        assert engine.control_url is not None, f"engine stopped early: {engine.error}"
        if settle:
            await wait_for(lambda: quoting_everywhere(engine), what="two-sided quotes")
        async with httpx.AsyncClient(base_url=engine.control_url, timeout=10) as client:
            try:
                yield client
            finally:
                engine.request_stop("test done")
        with anyio.fail_after(10):
            while "code" not in result:
                await anyio.sleep(0.01)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
