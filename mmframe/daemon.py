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

from mmframe.pipeline.model import Pipeline
from mmframe.plugins import Registry
from mmframe.runtime.app import BuildError, build_engine
from mmframe.runtime.engine import Engine
from mmframe.runtime.errors import explain

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
    pipeline: Pipeline, registry: Registry, *, duration: float | None = None, log_format: str = "text"
) -> int:
    """Run ``pipeline`` until SIGINT/SIGTERM or ``duration`` seconds; returns the process exit code.

    0: clean stop with nothing left resting; 1: a fatal error during the run (or orders left
    resting); 2: the pipeline could not be built or started.
    """
    control = None
    sock = None
    if pipeline.control.enabled:
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
        engine = build_engine(pipeline, registry, control=control)
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
