"""The composition root: a pipeline's engine and its control plane, put together and run.

The runtime (`mmframe.runtime`) and the control plane (`mmframe.control`) do not import each other
(an import-linter contract in pyproject.toml keeps it so; the control plane names the engine's type
only for type checking): this module is the one place that imports both and wires the control
plane into the engine it serves.
"""

from __future__ import annotations

import functools
import logging
import signal

import anyio

from mmframe.clock import Clock
from mmframe.pipeline.model import ControlConfig, Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.app import BuildError, build_engine
from mmframe.runtime.engine import Engine
from mmframe.runtime.errors import explain
from mmframe.simtime import stamp_logs_with, virtual_clock

log = logging.getLogger("mmframe")


async def _watch_signals(engine: Engine) -> None:
    """SIGINT/SIGTERM: the first stops cleanly (every order cancelled and verified on the venue), a
    second says what is still being cancelled, a third gives up the stop at once, naming what is left."""
    received = 0
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            received += 1
            if received == 1 and not engine.stop_reason:
                log.info("%s received: cancelling orders and stopping", name)
                engine.request_stop(name)
            elif received <= 2:
                log.warning("%s again: %s (once more to exit at once)", name, engine.stop_progress())
            else:
                log.error("%s a third time: exiting now; %s", name, engine.stop_progress())
                engine.abort()


async def run_pipeline(
    pipeline: Pipeline,
    registry: Registry,
    *,
    duration: float | None = None,
    log_format: str = "text",
    sim_time: bool = False,
) -> int:
    """Run ``pipeline`` until SIGINT/SIGTERM or ``duration`` seconds; returns the process exit code.

    0: clean stop with nothing left resting; 1: a fatal error during the run (or orders left
    resting); 2: the pipeline could not be built or started.

    ``sim_time``: on simulated time (the running loop must be a `mmframe.simtime.VirtualTimeLoop`;
    `mmframe.simtime.run_virtual` makes one): the clock is the loop's, the pipeline must be on
    ``venue: sim`` (else exit 2), and the control plane stays off (an outside request would make
    the run depend on when it came, and nothing outside can follow simulated time anyway).
    """
    if not sim_time:
        return await _run(pipeline, registry, duration, pipeline.control, None)
    refusal = sim_time_refusal(pipeline)
    if refusal:
        log.error("cannot start pipeline %s: %s", pipeline.name, refusal)
        return 2
    clock = virtual_clock()
    restore = stamp_logs_with(clock)
    try:
        if pipeline.control.enabled:
            log.info("simulated time: the control plane (port %s) stays off", pipeline.control.port)
        return await _run(pipeline, registry, duration, None, clock)
    finally:
        restore()


def sim_time_refusal(pipeline: Pipeline) -> str | None:
    """Why ``pipeline`` cannot run on simulated time (None: it can): only the in-process simulator
    (``venue: sim``) can follow a clock that jumps."""
    if pipeline.venue.name != "sim":
        return (f"--sim-time runs only pipelines on `venue: sim` (the in-process simulator); this one is on "
                f"`venue: {pipeline.venue.name}`, whose clock is the real one")
    return None


async def _run(
    pipeline: Pipeline, registry: Registry, duration: float | None, control_config: ControlConfig | None,
    clock: Clock | None,
) -> int:
    """`run_pipeline`'s body: ``control_config`` None leaves the control plane off."""
    control = None
    sock = None
    if control_config is not None and control_config.enabled:
        # imported only when the pipeline enables it (the web stack is not loaded otherwise)
        from mmframe.control import ControlConfigError, open_control_socket, serve_control

        # The port is taken before anything starts (the `sim` venue's simulator, a venue session):
        # a collision is a start-up failure, exit 2, with nothing to stop.
        try:
            sock = open_control_socket(pipeline.control)
        except ControlConfigError as exc:
            log.error("cannot start pipeline %s: %s", pipeline.name, exc)
            return 2
        control = functools.partial(serve_control, config=pipeline.control, sock=sock)

    try:
        engine = build_engine(pipeline, registry, control=control, clock=clock)
    except Exception as exc:
        if sock is not None:
            sock.close()
        reason = exc.issue if isinstance(exc, BuildError) else explain(exc)
        log.error("cannot start pipeline %s: %s", pipeline.name, reason)
        return 2
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, engine)
        log.info("running pipeline %s on %s markets", pipeline.name, len(engine.markets) or "selected")
        code = await engine.run(duration)
        tg.cancel_scope.cancel()
    if engine.error:
        log.error("pipeline %s stopped with an error: %s", pipeline.name, engine.error)
    return code
