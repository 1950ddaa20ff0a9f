"""Quoting under the write budget: two-sided uptime per market, 429s and intent age on the Basic tier.

The daemon (symmetric.yaml, every shipped risk rule) quotes N markets of a simulator running on a
Basic-tier account (100 write tokens/s: 10 creates or amends per second, cancels 2 tokens). After a
warm-up (start-up places 2·N creates: 0.2·N seconds of budget), the simulator's ground truth is
sampled every 0.5 s: a market is two-sided when at least one bid and one ask of ours rest there.

Printed per market count: median and 10th-percentile uptime, 429s seen by the client, the oldest
decision-to-write age the gate let through, and the upper bound the budget allows. A side stays
resting through amends; it needs a create only when it emptied (a fill, a cancel), so uptime is
bounded by how many refills the budget pays for:

    refill demand (tokens/s) = creates/s · 10                  (measured after the warm-up)
    bound                    = 1                    when refill demand <= 100 tokens/s
                             = 100 / refill demand  otherwise

Usage: python bench/bench_write_budget.py [--markets 50 200] [--seconds 60] [--warmup 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_latency import PIPELINE, SimProcess, simulator
from mmframe_sim.scenario import bulk_scenario

from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from mmframe.runtime.engine import Engine

WRITE_TOKENS_PER_S = 100
"""Basic tier (API.md §8)."""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _sample_uptime(
    sim: SimProcess, user_id: str | None, tickers: list[str], samples: dict[str, list[int]], stop: asyncio.Event
) -> None:
    base = sim.rest_url.split("/trade-api")[0]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while not stop.is_set():
            truth = (await http.get("/_sim/truth")).json()
            sides: dict[str, set[str]] = {}
            for order in truth["resting_orders"]:
                if user_id is not None and order.get("user_id") != user_id:
                    continue
                sides.setdefault(order["ticker"], set()).add(order["book_side"])
            for ticker in tickers:
                samples[ticker].append(1 if sides.get(ticker, set()) >= {"bid", "ask"} else 0)
            await asyncio.sleep(0.5)


async def _user_id(sim: SimProcess) -> str | None:
    base = sim.rest_url.split("/trade-api")[0]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        accounts = (await http.get("/_sim/truth")).json()["accounts"]
    return accounts[0] if len(accounts) == 1 else None


async def run(markets: int, seconds: float, warmup: float, workdir: Path) -> dict[str, Any]:
    scenario = workdir / f"bulk-{markets}.yaml"
    tickers = bulk_scenario(scenario, markets, "busy")
    with simulator(workdir, scenario, tier="basic") as sim:
        registry = load_registry()
        pipeline = load_pipeline(PIPELINE, registry, [
            "venue=kalshi",
            f"venue.kalshi.rest_url={sim.rest_url}",
            f"venue.kalshi.ws_url={sim.ws_url}",
            f"venue.kalshi.key_id={sim.key_id}",
            f"venue.kalshi.private_key_path={sim.key_path}",
            "control.enabled=false",
            "markets={series: [SIM-BULK]}",
            "risk.1.with.max_age_seconds=3600",
            "risk.4.with.total=100000",
            "risk.6.with.max_loss=100000",
        ])
        engine = build_engine(pipeline, registry)
        user_id = await _user_id(sim)
        samples: dict[str, list[int]] = {t: [] for t in tickers}
        stop = asyncio.Event()
        marks: dict[str, Any] = {}

        async def measure() -> None:
            while not engine.ready:
                await asyncio.sleep(0.1)
            await asyncio.sleep(warmup)
            marks["actions"] = dict(engine.stats.actions)
            marks["t0"] = time.monotonic()
            marks["limited0"] = _rate_limited(engine)
            sampler = asyncio.create_task(_sample_uptime(sim, user_id, tickers, samples, stop))
            await asyncio.sleep(seconds)
            stop.set()
            await sampler
            marks["t1"] = time.monotonic()
            marks["actions1"] = dict(engine.stats.actions)
            marks["limited1"] = _rate_limited(engine)
            engine.request_stop("bench done")

        task = asyncio.create_task(measure())
        code = await engine.run(None)
        await task
    elapsed = marks["t1"] - marks["t0"]
    delta = {k: marks["actions1"].get(k, 0) - marks["actions"].get(k, 0) for k in marks["actions1"]}
    demand = delta.get("create", 0) * 10 / elapsed
    spent = ((delta.get("create", 0) + delta.get("amend", 0) + delta.get("decrease", 0)) * 10
             + delta.get("cancel", 0) * 2) / elapsed
    uptimes = [sum(s) / len(s) for s in samples.values() if s]
    return {
        "markets": markets,
        "code": code,
        "median": statistics.median(uptimes) if uptimes else 0.0,
        "p10": _pct(uptimes, 0.10),
        "429s": marks["limited1"] - marks["limited0"],
        "oldest_ms": engine.core.gate.ages()["oldest_passed_ms"],
        "demand": demand,
        "spent": spent,
        "bound": min(1.0, WRITE_TOKENS_PER_S / demand) if demand else 1.0,
        "actions": delta,
    }


def _rate_limited(engine: Engine) -> int:
    rest = getattr(getattr(engine.parts.executor, "session", None), "rest", None)
    return int(getattr(rest, "rate_limited", 0))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markets", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=60.0, help="Measured window after the warm-up.")
    parser.add_argument("--warmup", type=float, default=60.0, help="Seconds after start-up not measured.")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for markets in args.markets:
            rows.append(await run(markets, args.seconds, args.warmup, Path(tmp)))
    print(f"\nBasic tier ({WRITE_TOKENS_PER_S} write tokens/s), {args.seconds:g} s after {args.warmup:g} s warm-up")
    print("| markets | uptime median | uptime p10 | bound | median/bound | 429s | oldest write (ms) "
          "| refill demand (tokens/s) | spent (tokens/s) | actions |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["median"] / r["bound"] if r["bound"] else 0.0
        print(
            f"| {r['markets']} | {r['median']:.2f} | {r['p10']:.2f} | {r['bound']:.2f} | {ratio:.2f} | {r['429s']} |"
            f" {r['oldest_ms']} | {r['demand']:.0f} | {r['spent']:.0f} | {r['actions']} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
