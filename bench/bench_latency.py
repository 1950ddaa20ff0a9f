"""Event-to-order latency through the real daemon against the simulator, and the same at 2,000 markets.

Run: ``python bench/bench_latency.py [--seconds 15] [--markets 2000] [--activity quiet|busy]
[--skip-scale | --only-scale]``.

The simulator runs as its own process (``mmframe sim serve``), so its matching and synthetic traders
do not share this process's CPU (they do share the machine's cores); the daemon is
``pipelines/symmetric.yaml`` built exactly as ``mmframe run`` builds it, pointed at the simulator with
the mapping venue form. Timestamps (``time.monotonic_ns``) are taken at:

* frame in: the WebSocket client starts handling a text frame (before JSON parsing);
* actions: the quoting core has the reconciler's actions for the market. Only requotes that serve a
  WebSocket frame are samples (not housekeeping's periodic pass, nor REST answers); a requote serves
  every frame that dirtied its market since the last one and counts from the first of them. The
  engine quotes a market inline, in the WebSocket reader's step once the burst of frames that moved
  it is applied (`BurstContext.burst_done`); a market requoted inline less than 200 us earlier is
  left to the quoting task (conflated);
* request handed to HTTP (the budget's stamp, DESIGN.md): the executor's synchronous order path
  (`KalshiRestClient.begin_*`) hands the first request carrying those actions, signed, to its HTTP
  connection. When that path cannot go at once (no idle warm connection, no rate-limit tokens this
  instant) the request goes through httpx from its own task, and the stamp is where httpx gets it.
  For the synchronous path two more stamps follow the same request: its bytes handed to the kernel
  (``transport.write`` called) and ``transport.write`` returned (on loopback the ``send()`` also runs
  the simulator's TCP receive and wake-up: the network).

Samples of the first ``--warmup`` seconds after the daemon is ready are dropped (start-up places
every market's first orders at once).

Signing is shown separately: batch creates and cancels, and amends of resting orders, use signatures
made ahead of time by the pre-signer's thread; a miss (none ready) signs inline, and "excluding inline
signing" subtracts that time. The baseline row is one RSA-PSS-2048 signature, measured in the same
run. RSS is this (daemon) process's resident memory at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from mmframe_sim.scenario import BULK_ACTIVITY, bulk_scenario

from mmframe.pipeline import load_pipeline
from mmframe.plugins import load_registry
from mmframe.runtime.app import build_engine
from mmframe.runtime.engine import Engine

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "pipelines" / "symmetric.yaml"
MMFRAME = str(Path(sys.executable).parent / "mmframe")
SIM_CPU: int | None = None
"""With ``--pin`` (the default on 2+ CPUs): the simulator's CPU; the daemon runs on CPU 0."""


# --- the simulator as a separate process ------------------------------------------------------


@dataclass
class SimProcess:
    proc: subprocess.Popen[str]
    key_id: str
    rest_url: str
    ws_url: str
    key_path: Path


@contextlib.contextmanager
def simulator(workdir: Path, scenario: Path | None, *, tier: str = "unlimited") -> Iterator[SimProcess]:
    key_path = workdir / "sim-key.pem"
    args = [MMFRAME, "sim", "serve", "--port", "0", "--tier", tier, "--key-out", str(key_path)]
    if scenario is not None:
        args += ["--scenario", str(scenario)]
    cpu = SIM_CPU
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        preexec_fn=None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu})),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        if "key_id" not in fields:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield SimProcess(proc, fields["key_id"], fields["rest"], fields["ws"], key_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


ACTIVITY = BULK_ACTIVITY
"""``busy`` saturates the simulator (one Python process, 2,000 markets of traders, on the same two
cores): its answers then take tens of ms and the executor's queue is the latency. ``quiet`` leaves
it headroom, so the figures are the daemon's own."""


# --- instrumentation ----------------------------------------------------------------------------


@dataclass
class _Send:
    """One executor send: the frame-in times of the requotes it carries."""

    since: list[int]
    done: bool = False
    sign_ns: int = 0
    handed_ns: int = 0
    """When the synchronous order path handed the send's first request, signed, to its HTTP
    connection (0: it went through httpx, stamped where httpx gets it)."""
    kernel_ns: int = 0
    """When that request's bytes were handed to the kernel (``transport.write`` called)."""
    written_ns: int = 0
    """When ``transport.write`` returned (the loopback ``send()`` includes the receiver's wake-up)."""


_fast_batch: list[_Send | None] = [None]
"""The send whose request the synchronous order path is writing right now (for the transport stamp)."""


_current: contextvars.ContextVar[_Send | None] = contextvars.ContextVar("bench_send", default=None)


def _owns(table: dict[int, tuple[Any, int]], action: Any) -> bool:
    entry = table.get(id(action))
    return entry is not None and entry[0] is action


def _take(table: dict[int, tuple[Any, int]], action: Any) -> int:
    return table.pop(id(action))[1]


@dataclass
class Probe:
    core_ns: list[int] = field(default_factory=list)
    total_ns: list[int] = field(default_factory=list)
    unsigned_ns: list[int] = field(default_factory=list)
    kernel_ns: list[int] = field(default_factory=list)
    written_ns: list[int] = field(default_factory=list)
    inline_sign_ns: list[int] = field(default_factory=list)
    handle_ns: list[int] = field(default_factory=list)
    queue_wait_ns: list[int] = field(default_factory=list)
    loop_lag_ns: list[int] = field(default_factory=list)
    drain_ns: list[int] = field(default_factory=list)
    requote_ns: list[int] = field(default_factory=list)
    before_requote_ns: list[int] = field(default_factory=list)
    burst_ns: list[int] = field(default_factory=list)
    core_inline_ns: list[int] = field(default_factory=list)
    acting_requote_ns: list[int] = field(default_factory=list)
    core_task_ns: list[int] = field(default_factory=list)
    background_sign_ns: list[int] = field(default_factory=list)
    frames: int = 0
    requests: int = 0
    fast_requests: int = 0

    def reset(self) -> None:
        """Forget every sample so far (the start-up phase is not the steady state measured)."""
        for name, value in vars(self).items():
            if isinstance(value, list):
                value.clear()
            elif isinstance(value, int):
                setattr(self, name, 0)

    def install(self, engine: Engine) -> None:
        """Wrap the venue's open() so the hooks go in once the session exists."""
        venue: Any = engine.parts.venue  # wrapped in place: a benchmark probe
        original_open = venue.open

        async def open_and_hook() -> None:
            await original_open()
            self._hook(engine, venue.require_open())

        venue.open = open_and_hook

    def _hook(self, engine: Engine, conn: Any) -> None:
        core: Any = engine.core  # its hooks are wrapped in place: a benchmark probe
        ws, rest, executor, signer = conn.session.ws, conn.session.rest, conn.executor, conn.session.signer
        # Keyed by id(action), holding the action too: an id is reused once its action is freed.
        stamps: dict[int, tuple[Any, int]] = {}
        handed: dict[int, tuple[Any, int]] = {}
        last_since: list[int] = [0]

        handle = ws._handle
        frame_in: list[int | None] = [None]
        frame_dirty: dict[str, int] = {}  # market -> frame-in time of the first frame that dirtied it

        def handle_frame(raw: Any) -> None:
            t_in = time.monotonic_ns()
            self.frames += 1
            frame_in[0] = t_in
            try:
                handle(raw)
            finally:
                frame_in[0] = None
            self.handle_ns.append(time.monotonic_ns() - t_in)

        ws._handle = handle_frame

        # The engine's inline path (`Engine._quote_inline`): inside the frame's `publish` before the
        # burst fix, at the end of the burst since (in the reader's step, or a loop callback for a
        # feed that does not say where a burst ends). Anything else is the quoting task.
        inline = [0]
        quote_inline = engine._quote_inline

        def quote_inline_traced(ticker: str) -> None:
            inline[0] += 1
            try:
                quote_inline(ticker)
            finally:
                inline[0] -= 1

        engine._quote_inline = quote_inline_traced  # type: ignore[method-assign]

        # The end of a burst (`Engine.burst_done`, called by the reader once no frame is buffered):
        # how long after the frame that dirtied a market the rest of its burst was applied.
        burst_done = getattr(engine, "burst_done", None)
        if burst_done is not None:

            def burst_done_traced() -> None:
                now = time.monotonic_ns()
                for ticker in engine._inline_pending:
                    since = frame_dirty.get(ticker)
                    if since is not None:
                        self.burst_ns.append(now - since)
                burst_done()

            engine.burst_done = burst_done_traced  # type: ignore[method-assign]

        mark_dirty = core.mark_dirty

        def mark_dirty_traced(ticker: str) -> None:
            t_in = frame_in[0]
            if t_in is not None and ticker not in frame_dirty:
                frame_dirty[ticker] = t_in
            mark_dirty(ticker)

        core.mark_dirty = mark_dirty_traced

        # The intent scheduler plans a market (`QuotingCore.plan`) and sends what the budget covers;
        # without it the engine calls `requote` (plan + commit in one step).
        name = "plan" if hasattr(engine, "scheduler") else "requote"
        requote = getattr(core, name)

        def requote_timed(ticker: str) -> Any:
            # Only requotes that serve a WebSocket frame are latency samples (not housekeeping's
            # periodic pass, nor REST answers); a requote serves every frame since the last one.
            since = frame_dirty.pop(ticker, None)
            start = time.monotonic_ns()
            if since is not None:
                self.before_requote_ns.append(start - since)
            actions = requote(ticker)
            end = time.monotonic_ns()
            self.requote_ns.append(end - start)
            if actions and since is not None:
                self.core_ns.append(end - since)
                (self.core_inline_ns if inline[0] else self.core_task_ns).append(end - since)
                self.acting_requote_ns.append(end - start)
            last_since[0] = since if actions and since is not None else 0
            return actions

        setattr(core, name, requote_timed)

        execute = executor.execute

        async def execute_stamped(actions: Any) -> None:
            now = time.monotonic_ns()
            for action in actions:
                if last_since[0]:
                    stamps[id(action)] = (action, last_since[0])
                handed[id(action)] = (action, now)
            await execute(actions)

        executor.execute = execute_stamped

        execute_nowait = executor.execute_nowait

        def execute_nowait_stamped(actions: Any) -> None:
            now = time.monotonic_ns()
            for action in actions:
                if last_since[0]:
                    stamps[id(action)] = (action, last_since[0])
                handed[id(action)] = (action, now)
            execute_nowait(actions)

        executor.execute_nowait = execute_nowait_stamped

        # The executor's send step: on the dispatcher of a split executor, with (action, decided_ns)
        # items; on the executor itself, with actions, before the split (for a baseline run).
        dispatch = getattr(executor, "dispatch", executor)
        send = dispatch._send

        def action_of(item: Any) -> Any:
            return item[0] if isinstance(item, tuple) else item

        def send_traced(items: Any) -> Any:
            # The executor turns a drain's actions into requests and starts each as a task: the
            # tasks copy this context, so each request finds the send it belongs to. Actions it
            # leaves queued (every request slot busy) are counted with the send that takes them.
            start = time.monotonic_ns()
            batch = _Send([])
            token = _current.set(batch)
            try:
                left = send(items)
            finally:
                _current.reset(token)
            kept = {id(action_of(i)) for i in left}
            sent = [action_of(i) for i in items if id(action_of(i)) not in kept]
            batch.since[:] = sorted({_take(stamps, a) for a in sent if _owns(stamps, a)})
            if batch.handed_ns:
                for since in batch.since:
                    self.total_ns.append(batch.handed_ns - since)
                    self.unsigned_ns.append(batch.handed_ns - since - batch.sign_ns)
                    if batch.written_ns:
                        self.kernel_ns.append(batch.kernel_ns - since - batch.sign_ns)
                        self.written_ns.append(batch.written_ns - since - batch.sign_ns)
            waits = [start - _take(handed, a) for a in sent if _owns(handed, a)]
            if waits:
                self.queue_wait_ns.append(max(waits))
            return left

        dispatch._send = send_traced

        run = dispatch._run

        async def run_timed(*args: Any, **kwargs: Any) -> None:
            start = time.monotonic_ns()
            try:
                await run(*args, **kwargs)
            finally:
                self.drain_ns.append(time.monotonic_ns() - start)

        dispatch._run = run_timed

        headers = signer.headers

        def headers_timed(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic_ns()
            result = headers(*args, **kwargs)
            spent = time.monotonic_ns() - start
            batch = _current.get()
            if batch is not None and not batch.done:
                batch.sign_ns += spent
                self.inline_sign_ns.append(spent)
            else:
                self.background_sign_ns.append(spent)
            return result

        signer.headers = headers_timed

        # Both transports of the Kalshi client (mmframe_kalshi.transport): httpx, and the fast path
        # that writes a signed request on a warm connection synchronously.
        http = rest.http_transport
        send_http = http.send

        async def send_http_timed(*args: Any, **kwargs: Any) -> Any:
            now = time.monotonic_ns()
            self.requests += 1
            batch = _current.get()
            if batch is not None and not batch.done:
                batch.done = True
                for since in batch.since:
                    self.total_ns.append(now - since)
                    self.unsigned_ns.append(now - since - batch.sign_ns)
            return await send_http(*args, **kwargs)

        http.send = send_http_timed

        fast = rest.fast_transport
        if fast is not None:
            fast_write = fast.try_send

            def fast_write_timed(*args: Any, **kwargs: Any) -> Any:
                # The synchronous order path: the signed request goes to its HTTP connection here and
                # is on the socket when this returns.
                now = time.monotonic_ns()
                batch = _current.get()
                first = batch is not None and not batch.done
                _fast_batch[0] = batch if first else None
                try:
                    future = fast_write(*args, **kwargs)
                finally:
                    _fast_batch[0] = None
                if future is not None:
                    self.requests += 1
                    self.fast_requests += 1
                    if first:
                        # Inside the executor's send: which actions it carries is known when it returns.
                        assert batch is not None
                        batch.done = True
                        batch.handed_ns = now
                return future

            fast.try_send = fast_write_timed

        transport_write = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

        def transport_write_timed(transport: Any, data: Any) -> None:
            batch = _fast_batch[0]
            if batch is None or batch.written_ns:
                transport_write(transport, data)
                return
            batch.kernel_ns = time.monotonic_ns()
            transport_write(transport, data)
            batch.written_ns = time.monotonic_ns()

        asyncio.selector_events._SelectorSocketTransport.write = transport_write_timed  # type: ignore[attr-defined]


async def run_daemon(
    sim: SimProcess, seconds: float, overrides: list[str], warmup: float = 0.0
) -> tuple[Probe, Engine, int]:
    registry = load_registry()
    pipeline = load_pipeline(PIPELINE, registry, [
        "venue=kalshi",
        f"venue.kalshi.rest_url={sim.rest_url}",
        f"venue.kalshi.ws_url={sim.ws_url}",
        f"venue.kalshi.key_id={sim.key_id}",
        f"venue.kalshi.private_key_path={sim.key_path}",
        "venue.kalshi.order_group_contracts_limit=0",
        "control.enabled=false",
        *overrides,
    ])
    engine = build_engine(pipeline, registry)
    probe = Probe()
    probe.install(engine)

    async def watch_loop() -> None:
        # How late a 1 ms timer fires: the event loop's own delay (other tasks, other processes).
        while True:
            start = time.monotonic_ns()
            await asyncio.sleep(0.001)
            probe.loop_lag_ns.append(max(0, time.monotonic_ns() - start - 1_000_000))

    async def end_warmup() -> None:
        # Start-up places every market's first orders at once (at 2,000 markets a burst of creates
        # that outruns the pre-signer); the steady state after it is what the budget is about.
        while not engine.ready:
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)
        probe.reset()

    watcher = asyncio.create_task(watch_loop())
    warmer = asyncio.create_task(end_warmup())
    try:
        code = await engine.run(seconds + warmup)
    finally:
        watcher.cancel()
        warmer.cancel()
    return probe, engine, code


# --- report -------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000 if ordered else float("nan")


def rsa_sign_ns(rounds: int = 200) -> list[int]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"1715793600123POST/trade-api/v2/portfolio/events/orders/batched"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    samples = []
    for _ in range(rounds):
        start = time.monotonic_ns()
        key.sign(message, pss, hashes.SHA256())
        samples.append(time.monotonic_ns() - start)
    return samples


def table(title: str, probe: Probe, engine: Engine, code: int, baseline: list[int]) -> None:
    base = statistics.median(baseline) / 1000
    if code:
        print(f"\n{title}: the daemon failed: {engine.error}")
    print(f"\n{title}: exit {code}, {len(engine.markets)} markets, {probe.frames} WS frames, "
          f"{probe.requests} HTTP requests ({probe.fast_requests} written synchronously), "
          f"{engine.stats.fills} fills, RSS {rss_mb():.0f} MB")
    print(f"{'path':44} {'n':>7} {'p50 us':>9} {'p99 us':>9} {'p50/RSA':>8}")
    rows = [
        ("CPU: one WS frame, parse -> book -> dirty", probe.handle_ns),
        ("CPU: one requote (strategy, risk, reconcile)", probe.requote_ns),
        ("frame in -> its burst applied (burst_done)", probe.burst_ns),
        ("frame in -> requote starts", probe.before_requote_ns),
        ("CPU: one requote that sends actions", probe.acting_requote_ns),
        ("frame in -> actions (quoting core)", probe.core_ns),
        ("  of which quoted inline (event path)", probe.core_inline_ns),
        ("  of which quoted by the quoting task", probe.core_task_ns),
        ("actions -> executor send starts (queue)", probe.queue_wait_ns),
        ("one executor request, with its round trip", probe.drain_ns),
        ("frame in -> request handed to HTTP (budget)", probe.total_ns),
        ("  same, excluding inline signing", probe.unsigned_ns),
        ("  bytes to the kernel (write called), excl.", probe.kernel_ns),
        ("  write returned (loopback send), excl.", probe.written_ns),
        ("inline signing on the critical path", probe.inline_sign_ns),
        ("signing in the background (pre-signer)", probe.background_sign_ns),
        ("event loop lag (a 1 ms timer, late by)", probe.loop_lag_ns),
        ("baseline: one RSA-PSS-2048 signature", baseline),
    ]
    for name, samples in rows:
        p50 = pct(samples, 0.5)
        print(f"{name:44} {len(samples):>7} {p50:>9.1f} {pct(samples, 0.99):>9.1f} {p50 / base:>8.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="Length of each run after the warm-up.")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="Seconds after the daemon is ready whose samples are dropped (start-up placement).")
    parser.add_argument("--markets", type=int, default=2000, help="Markets in the scale run.")
    parser.add_argument("--skip-scale", action="store_true", help="Only the four-market run.")
    parser.add_argument("--only-scale", action="store_true", help="Only the many-market run.")
    parser.add_argument("--activity", choices=sorted(ACTIVITY), default="quiet",
                        help="Synthetic trading in the many-market run (busy saturates the simulator).")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="Daemon on CPU 0, simulator on CPU 1 (default when there are 2+ CPUs).")
    args = parser.parse_args()
    global SIM_CPU
    if args.pin and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        # On one machine the kernel runs the receiver's wake-up inside the sender's send(): unpinned,
        # writing a request to the simulator's socket handed our core to the simulator mid-send
        # (send() 270-630 us instead of ~10-100). A remote venue does not take the daemon's core.
        first, second = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {first})
        SIM_CPU = second
    baseline = rsa_sign_ns()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.only_scale:
            with simulator(workdir, None) as sim:
                probe, engine, code = await run_daemon(sim, args.seconds, [], args.warmup)
            table(f"symmetric, standard scenario, {args.seconds:g} s after {args.warmup:g} s warm-up",
                  probe, engine, code, baseline)
        if args.skip_scale:
            return
        scenario = workdir / "bulk.yaml"
        bulk_scenario(scenario, args.markets, args.activity)
        with simulator(workdir, scenario) as sim:
            probe, engine, code = await run_daemon(sim, args.seconds, [
                "markets={series: [SIM-BULK]}",
                # symmetric.yaml's whole rule chain, with room for 2,000 markets' orders; in the
                # quiet scenario a book may see no change for minutes, which is not stale data
                "risk.1.with.max_age_seconds=3600",
                "risk.4.with.total=100000",
                "risk.6.with.max_loss=100000",
            ], args.warmup)
        table(f"symmetric, {args.markets} markets ({args.activity}), {args.seconds:g} s after {args.warmup:g} s warm-up",
              probe, engine, code, baseline)
    pinned = f"; daemon pinned to one CPU, simulator to CPU {SIM_CPU}" if SIM_CPU is not None else ""
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs; the simulator ran in its own process{pinned})")


if __name__ == "__main__":
    asyncio.run(main())
