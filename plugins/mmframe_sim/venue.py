"""The ``sim`` venue: the simulator started inside the daemon, traded on through the ``kalshi`` venue.

This plugin only runs the exchange (`EmbeddedSimulator`, an `mmframe.api.EmbeddedExchange`): the
spec names ``kalshi`` as its client (`mmframe.api.ClientVenue`), so the registry offers the Kalshi
venue's trading and signing options under ``venue: {sim: ...}`` too and builds the Kalshi venue
around the simulator. Neither plugin imports the other; the simulator stays the client's judge.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmframe.api import (
    MAX_DOLLARS,
    ClientVenue,
    Clock,
    ComponentContext,
    ComponentSpec,
    Kind,
    VenueEndpoint,
    in_virtual_time,
)
from mmframe_sim.money import parse_price
from mmframe_sim.ratelimit import TIERS

if TYPE_CHECKING:
    from mmframe_sim.serve import RunningSimulator

logger = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 10.0

SIM_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "scenario": {
            "type": "string",
            "minLength": 1,
            "default": "standard",
            "description": "Simulator scenario: `standard`, `news` or a scenario YAML file (relative to the pipeline file).",
        },
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1,
                 "description": "Random seed (default: the scenario's)."},
        "balance": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_DOLLARS,
            "multipleOf": 0.0001,
            "description": "Starting balance of the generated account, dollars (default: the scenario's).",
        },
        "tier": {
            "enum": list(TIERS),
            "default": "advanced",
            "description": "Rate-limit tier of the generated key.",
        },
        "latency": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "network_ms": {"type": "number", "minimum": 0, "maximum": 60_000, "default": 0.5,
                               "description": "One-way network latency, milliseconds."},
                "processing_ms": {"type": "number", "minimum": 0, "maximum": 60_000, "default": 0.5,
                                  "description": "The daemon's event-to-request time, milliseconds."},
            },
            "description": "Modelled latency under `mmframe run --sim-time` (ignored on wall-clock time, "
                           "where the latency is real). Defaults from docs/benchmarks.md.",
        },
        "truth_path": {
            "type": "string",
            "minLength": 1,
            "description": "Write the simulator's ground truth (our fills with counterparty class and fair "
                           "value, refused creates, orders, the fair-value series and news) to this JSON "
                           "file when the run ends (relative to the pipeline file); `bench/trading.py` "
                           "scores runs from it.",
        },
    },
}
"""The simulator's own keys; the registry adds the ``kalshi`` venue's trading and signing keys."""

CLIENT = ClientVenue(
    "kalshi",
    # The simulator supplies the endpoint and a fresh key; its generated account has no subaccounts.
    omit=frozenset({"rest_url", "ws_url", "key_id", "private_key_path", "subaccount"}),
)


class EmbeddedSimulator:
    """The simulator of one ``venue: sim``: started by the Kalshi venue's ``open`` in its own task,
    with a funded account and a fresh RSA key; stopped by its ``close``."""

    name = "sim"

    def __init__(self, scenario: str, seed: int | None, balance: int | None, tier: str, *, clock: Clock,
                 latency: Mapping[str, Any] | None = None, truth_path: str | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.balance = balance
        """Starting balance, price units (None: the scenario's)."""
        self.tier = tier
        self.clock = clock
        """The pipeline's clock: the exchange runs on it under simulated time."""
        self.latency = latency
        """The ``latency`` config, modelled under simulated time only."""
        self.truth_path = truth_path
        """Where `stop` writes the ground truth (`mmframe_sim.admin.truth_record`); None: nowhere."""
        self.simulator: RunningSimulator | None = None
        self._scratch: str | None = None  # the simulated-time simulator's socket directory
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> EmbeddedSimulator:
        """The component factory: a shipped scenario by name, else a scenario file relative to the
        pipeline file's directory."""
        from mmframe_sim.scenario import SHIPPED_SCENARIOS

        scenario = str(config.get("scenario", "standard"))
        if scenario not in SHIPPED_SCENARIOS:
            scenario = str(ctx.path(scenario))
        seed = config.get("seed")
        balance = config.get("balance")
        return cls(
            scenario,
            None if seed is None else int(seed),
            None if balance is None else _dollars(balance),
            str(config.get("tier", "advanced")),
            clock=ctx.clock,
            latency=config.get("latency"),
            truth_path=None if config.get("truth_path") is None else str(ctx.path(str(config["truth_path"]))),
        )

    async def start(self) -> VenueEndpoint:
        """Serve the simulator in the running loop and open the account: its URLs and key."""
        # Imported here: only a running `venue: sim` needs the server (uvicorn, starlette).
        from mmframe_sim.serve import start_simulator

        ready: asyncio.Future[RunningSimulator] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        options: dict[str, Any] = {}
        if in_virtual_time():
            # Simulated time: the exchange runs on the pipeline's clock, behind a Unix socket (whose
            # delivery is synchronous, so the run is deterministic) and the modelled latency.
            from mmframe_sim.latency import Latency

            scratch = self._scratch = tempfile.mkdtemp(prefix="mmframe-sim-")
            options = {
                "clock": self.clock, "wall_clock": self.clock,
                "unix_socket": os.path.join(scratch, "sim.sock"),
                "latency": Latency.from_config(self.latency),
            }

        async def serve() -> None:
            # The simulator lives in its own task: its task group then never has to nest with the
            # caller's cancel scopes between the venue's open() and close().
            try:
                async with start_simulator(self.scenario, self.seed, **options) as sim:
                    ready.set_result(sim)
                    await stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                raise

        self._stop = stop
        self._task = asyncio.create_task(serve(), name="mmframe-sim")
        sim = await ready
        self.simulator = sim
        key_id, pem = sim.create_api_key(self.balance, tier=self.tier)
        logger.info("simulator (%s scenario) on %s; admin API %s", self.scenario, sim.base_url, sim.admin_url)
        return VenueEndpoint(sim.rest_url, sim.ws_url, key_id, pem,
                             details={"simulator": {"admin_url": sim.admin_url}}, unix_socket=sim.unix_socket)

    async def stop(self) -> None:
        """Stop the simulator (a no-op when it never started)."""
        task, self._task = self._task, None
        if task is None:
            return
        assert self._stop is not None
        if self.truth_path is not None and self.simulator is not None:
            self._write_truth(self.truth_path)
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), _STOP_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception as exc:
            logger.warning("simulator stopped with an error: %s", exc)
        self.simulator = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _write_truth(self, path: str) -> None:
        """The simulator's ground truth for the scoreboard; the simulator dies with the run."""
        import orjson

        from mmframe_sim.admin import truth_record

        assert self.simulator is not None
        try:
            with open(path, "wb") as out:
                out.write(orjson.dumps(truth_record(self.simulator.server)))
        except OSError as exc:
            logger.warning("could not write the simulator's truth to %s: %s", path, exc)


def _dollars(value: Any) -> int:
    """A config balance (int or Decimal dollars) in price units, by the simulator's own money code."""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return parse_price(text, what="balance")


SPEC = ComponentSpec(
    kind=Kind.VENUE,
    name="sim",
    summary="The local Kalshi simulator, started in-process on a free loopback port with a fresh key.",
    factory=EmbeddedSimulator.build,
    config_schema=SIM_SCHEMA,
    example={"scenario": "standard", "seed": 7},
    description=(
        "Starts the simulator (standard scenario unless told otherwise) inside the daemon on a free "
        "loopback port, creates a funded account with a fresh RSA key, and connects the `kalshi` venue "
        "to it: the same Kalshi feed and executor over real sockets, with the same trading and signing "
        "options. Needs no credentials: this is what `mmframe run pipelines/symmetric.yaml` uses on a "
        "fresh machine."
    ),
    client=CLIENT,
)
