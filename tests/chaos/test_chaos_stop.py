"""A stop that always finishes (issue 11): SIGINT, SIGTERM and ``--duration`` while the venue misbehaves.

Each case runs ``mmframe run pipelines/symmetric.yaml`` as a process against ``mmframe sim serve`` with
the synthetic market frozen (so the stop's requests are the only ones that meet the fault), waits until
our bid and ask rest in all four markets, turns the fault on and stops the daemon. The venue judges:
where it recovers in time before the shutdown deadline, the daemon exits 0 and nothing of ours rests;
where it does not (a 429 burst the daemon's backoff has not used up, a venue gone for good), the exit
is non-zero and every order the venue still holds is named in the output. Exit 0 with an order of ours
resting fails every case.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.chaos.harness import (
    SHUTDOWN_DEADLINE_S,
    DaemonProcess,
    HarnessError,
    SimProcess,
    Venue,
    judge,
    run_daemon,
    sim_process,
    unnamed,
)
from tests.e2e.harness import MARKETS

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]

DURATION_S = 4.0
"""``--duration`` of the duration cases: long enough to be quoting everywhere, with the fault on,
before it ends (the daemon's order audit, every 10 s, must not run first)."""
RECOVER_AFTER_S = 3.0
RECOVERY_ALLOWANCE_S = 2.5
"""A venue that recovers at least this long before the shutdown deadline leaves the daemon time for
one more backoff and a cancel: it must then exit 0 with nothing resting."""


@dataclass(frozen=True)
class Fault:
    """A venue fault during the stop: how to start it, what to do once the stop's first cancel reached
    the venue, and when the venue counts as recovered (read from ``GET /_sim/faults``)."""

    name: str
    start: Callable[[Venue], Awaitable[object]]
    on_stop: Callable[[Venue], Awaitable[object]] | None = None
    healthy: Callable[[dict[str, Any]], bool] = lambda faults: True
    failing: bool = True
    """False for a fault that slows the venue without failing a request (latency)."""


async def _nothing(venue: Venue) -> None:
    return None


def _burst(count: int) -> Fault:
    # A burst answers the next `count` requests 429 whatever their pace: it is over only once the
    # daemon's own requests used it up (a daemon that backs off meets it for longer).
    return Fault(f"429x{count}", lambda v: v.fault("burst_429", count=count),
                 healthy=lambda faults: faults["burst_429_remaining"] == 0)


RECOVERING = [
    pytest.param(_burst(10), id="429x10"),
    pytest.param(_burst(200), id="429x200"),
    pytest.param(_burst(400), id="429x400"),
    pytest.param(
        Fault("fail-writes-then-recover-3s", lambda v: v.fault("fail_writes", share=1.0),
              on_stop=lambda v: v.plan({"at_seconds": RECOVER_AFTER_S, "action": "clear"}),
              healthy=lambda faults: faults["fail_write_share"] == 0),
        id="fail-writes-then-recover-3s",
    ),
    # Latency is not a failure: the venue answers every request, 800 ms late.
    pytest.param(Fault("latency-800ms", lambda v: v.fault("delay", ms=800), failing=False), id="latency-800ms"),
]
STOPS = ["SIGINT", "SIGTERM", "duration"]


def _stop(stop: str, daemon: DaemonProcess) -> None:
    if stop != "duration":  # the duration cases end by themselves
        daemon.send(signal.Signals[stop])


async def _quoting(venue: Venue, daemon: DaemonProcess, user_id: str) -> None:
    await daemon.wait_control()
    await venue.until_quoting(user_id, MARKETS)


def _started(stop: str) -> float | None:
    return DURATION_S if stop == "duration" else None


async def _stop_during(fault: Fault, stop: str, sim: SimProcess, venue: Venue, user_id: str,
                       daemon: DaemonProcess) -> int:
    """Quoting everywhere, the fault on, the stop begun, its first cancel at the venue, ``on_stop`` run;
    returns when the stop began (wall ns: the signal, or for ``--duration`` that first cancel's arrival)."""
    await _quoting(venue, daemon, user_id)
    since = time.time_ns()
    await fault.start(venue)
    # The market is frozen: until the stop the daemon has nothing to cancel. A cancel already seen
    # means the stop (the duration) began before the fault was on: the case would test nothing.
    early = [w for w in await venue.writes(user_id) if w["method"] == "DELETE"]
    if early or daemon.proc.poll() is not None:
        raise HarnessError(f"the stop began before the fault was on ({len(early)} cancel(s)):\n{daemon.tail()}")
    signalled = time.time_ns()
    _stop(stop, daemon)
    first_cancel = await venue.until_write(user_id, since, "DELETE", timeout=DURATION_S + 10)
    if fault.on_stop is not None:
        await fault.on_stop(venue)
    return signalled if stop != "duration" else int(first_cancel["ts_ns"])


async def _recovered(venue: Venue, fault: Fault, since_ns: int, into: list[float]) -> None:
    """Poll the venue's fault switches until ``fault`` is over; append how long after ``since_ns`` (s)."""
    while True:
        faults = (await venue._get("/faults"))["faults"]
        if fault.healthy(faults):
            into.append(max(0.0, (time.time_ns() - since_ns) / 1e9))
            return
        await anyio.sleep(0.05)


@pytest.mark.parametrize("stop", STOPS)
@pytest.mark.parametrize("fault", RECOVERING)
async def test_stop_during_venue_fault_exits_0_if_venue_recovers_else_names_every_order_left(
    standard_sim: SimProcess, tmp_path: Path, fault: Fault, stop: str, record_property: Callable[[str, object], None]
) -> None:
    """Stop (SIGINT, SIGTERM, --duration) during a 429 burst of 10/200/400, 100% failing writes that
    recover 3 s into the stop, or 800 ms REST latency. Where the venue recovered at least 2.5 s before
    the shutdown deadline: exit 0 and zero of our orders resting in `/_sim/truth` after the exit.
    Always: exit 0 only if nothing of ours rests, and every order still resting is named in the
    output (ticker, side, price, id) with a non-zero exit."""
    sim, venue = standard_sim, Venue(standard_sim)
    account = sim.new_account(tmp_path)
    await venue.freeze()
    recovered: list[float] = []
    try:
        async with run_daemon(sim, account, tmp_path, duration=_started(stop)) as daemon:
            stop_ns = await _stop_during(fault, stop, sim, venue, account.user_id, daemon)
            async with anyio.create_task_group() as tg:
                tg.start_soon(_recovered, venue, fault, stop_ns, recovered)
                code = await daemon.wait_exit()
                tg.cancel_scope.cancel()
        left = await venue.resting(account.user_id)
    finally:
        await venue.fault("clear")
        await venue.unfreeze()
        await venue.cancel_leftovers(sim, account)
    in_time = bool(recovered) and recovered[0] <= SHUTDOWN_DEADLINE_S - RECOVERY_ALLOWANCE_S
    if not fault.failing:
        observed = "venue slow but answering every request"
    elif recovered:
        observed = f"venue recovered {recovered[0]:.1f} s into the stop"
    else:
        observed = f"venue still failing when the daemon exited ({SHUTDOWN_DEADLINE_S:g} s deadline)"
    record_property("observed", f"{observed}; exit {code}, {len(left)} resting")
    missing = unnamed(daemon.output(), left)
    judge(not (code == 0 and left) and not missing and not (in_time and (code, len(left)) != (0, 0)), (
        f"{observed}: exit code {code}, {len(left)} order(s) of ours still resting on the venue, "
        f"{len(missing)} of them not named in the output {missing}; output:\n{daemon.tail()}"
    ))


@pytest.mark.parametrize("stop", STOPS)
async def test_stop_when_venue_gone_for_good_exits_nonzero_naming_every_order_left(
    tmp_path: Path, stop: str, record_property: Callable[[str, object], None]
) -> None:
    """Stop while the venue refuses every write, then kill the simulator process once the stop's first
    cancel reached it: the exit is non-zero and every order of ours that `/_sim/truth` showed resting
    just before the venue died is named in the output (ticker, side, price, id)."""
    with sim_process(tmp_path / "sim") as sim:
        venue = Venue(sim)
        account = sim.new_account(tmp_path)
        await venue.freeze()
        gone = Fault("venue-gone", lambda v: v.fault("fail_writes", share=1.0), on_stop=_nothing)
        async with run_daemon(sim, account, tmp_path, duration=_started(stop)) as daemon:
            await _stop_during(gone, stop, sim, venue, account.user_id, daemon)
            last = await venue.resting(account.user_id)  # writes are refused: this is what stays
            sim.kill()
            code = await daemon.wait_exit()
    if not last:
        raise HarnessError("nothing of ours rested when the venue went away")
    missing = unnamed(daemon.output(), last)
    record_property("observed", f"{len(last)} of ours resting when the venue died; exit {code}, "
                                f"{len(last) - len(missing)} of them named")
    judge(code != 0 and not missing, (
        f"exit code {code}; {len(missing)} of {len(last)} order(s) left on the venue not named in the output: "
        f"{missing}; output:\n{daemon.tail()}"
    ))
