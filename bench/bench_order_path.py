"""Order request to the socket: the fast path (`KalshiRestClient.begin_amend_order`) vs httpx.

Run: ``python bench/bench_order_path.py [--iterations 2000] [--signing-thread] [--pin]``.

The simulator runs as its own process (``mmframe sim serve``). One resting order is amended back and
forth, alternating the two paths (same run, same connection warmth). Both use a ready pre-signed
signature, so signing is excluded: by default it is made between requests, outside the timed part;
with ``--signing-thread`` the `PreSigner` thread makes it, and since taking a signature wakes that
thread to sign a replacement at once, its GIL use competes with the measured path. Timestamps
(``time.perf_counter_ns``) are taken:

* start: just before ``begin_amend_order(...)``, or just before the executor-style
  ``asyncio.create_task(client.amend_order(...))``;
* first byte written: the first ``transport.write`` of the request's bytes (asyncio's socket
  transport is hooked; it sends at once when its buffer is empty, as it is here);
* returned: ``begin_amend_order`` returned (its synchronous part; the bytes are already written).

With ``--pin`` the bench runs on one CPU and the simulator on another (as ``bench_latency.py`` does):
unpinned, the simulator woken by a request can take this process's core inside its ``send()``,
which lands in the "returned" row.

The loop is otherwise idle here: in the daemon, every other ready callback runs before httpx's next
step, so the httpx row is a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bench_latency
from bench_latency import simulator  # the same simulator process as the latency bench
from mmframe_kalshi.auth import PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.rest import CreateOrderRequest, KalshiRestClient, amend_path

from mmframe.api import BookSide, LiveClock

TICKER = "SIM-RAIN-NYC"


class WriteProbe:
    """Records when asyncio's socket transport first writes after `arm`."""

    def __init__(self) -> None:
        self.armed = False
        self.written_ns = 0

    def arm(self) -> None:
        self.armed, self.written_ns = True, 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from asyncio import selector_events

        cls: Any = vars(selector_events)["_SelectorSocketTransport"]  # private: patched to time writes
        original = cls.write
        probe = self

        def write(transport: Any, data: Any) -> None:
            if probe.armed:
                probe.written_ns = time.perf_counter_ns()
                probe.armed = False
            original(transport, data)

        cls.write = write
        try:
            yield
        finally:
            cls.write = original


async def run(iterations: int, signing_thread: bool) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {"begin_returned": [], "begin_written": [], "httpx_written": []}
    with tempfile.TemporaryDirectory() as tmp, simulator(Path(tmp), None) as sim:
        key_id, rest_url, key_path = sim.key_id, sim.rest_url, sim.key_path
        clock = LiveClock()
        credentials = KalshiCredentials.from_file(key_id, key_path)
        signer = RequestSigner(credentials, clock)
        presigner = PreSigner(signer, clock)
        client = KalshiRestClient(rest_url, signer, clock, presigner=presigner)
        probe = WriteProbe()
        try:
            await client.load_rate_limits()
            await client.open_fast_path()
            if signing_thread:
                presigner.start()
            placed = await client.create_order(
                CreateOrderRequest(TICKER, BookSide.BID, 200, 100, client_order_id="bench-0")
            )
            order_id = placed.order_id
            with probe.installed():
                for i in range(2 * iterations + 20):
                    client.presign_order(order_id)
                    full = client.full_path(amend_path(order_id))
                    if signing_thread:
                        await asyncio.to_thread(presigner.wait_ready, "POST", full, 5.0)
                    else:
                        presigner.refill()
                    price = 300 if i % 2 else 200
                    args: dict[str, Any] = {"ticker": TICKER, "side": BookSide.BID, "price": price,
                                            "total_count": 100}
                    fast = i % 4 < 2
                    probe.arm()
                    start = time.perf_counter_ns()
                    if fast:
                        pending = client.begin_amend_order(order_id, **args)
                        returned = time.perf_counter_ns()
                        if pending is None:
                            raise RuntimeError("no idle fast-path connection")
                        result = await pending
                    else:
                        result = await asyncio.create_task(client.amend_order(order_id, **args))
                    if i < 20:
                        continue  # warm-up
                    written = probe.written_ns - start
                    if fast:
                        samples["begin_returned"].append(returned - start)
                        samples["begin_written"].append(written)
                    else:
                        samples["httpx_written"].append(written)
                    if result.order_id != order_id:
                        client.forget_order(order_id)
                        order_id = result.order_id
        finally:
            presigner.stop()
            await client.aclose()
    return samples


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=2000, help="amends per path")
    parser.add_argument("--signing-thread", action="store_true", help="pre-sign in the PreSigner thread")
    parser.add_argument("--pin", action="store_true", help="this process on CPU 0, the simulator on CPU 1")
    args = parser.parse_args()
    if args.pin and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {first})
        bench_latency.SIM_CPU = second
    samples = asyncio.run(run(args.iterations, args.signing_thread))
    base = statistics.median(samples["httpx_written"]) / 1_000
    rows = [
        ("httpx: create_task(amend_order) -> first byte written (baseline)", "httpx_written"),
        ("fast: begin_amend_order -> first byte written", "begin_written"),
        ("fast: begin_amend_order returned (sync part)", "begin_returned"),
    ]
    print(f"{'measure':<66} {'n':>5} {'p50 us':>8} {'p99 us':>8} {'p50/base':>9}")
    for label, key in rows:
        values = samples[key]
        p50 = statistics.median(values) / 1_000
        print(f"{label:<66} {len(values):>5} {p50:>8.1f} {_pct(values, 0.99):>8.1f} {p50 / base:>9.3f}")


if __name__ == "__main__":
    main()
