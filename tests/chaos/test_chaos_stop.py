"""A stop that always finishes (issue 11): SIGINT, SIGTERM and ``--duration`` while the venue misbehaves.

Each case runs ``mmframe run pipelines/symmetric.yaml`` as a process against ``mmframe sim serve`` with
the synthetic market frozen (so the stop's requests are the only ones that meet the fault), waits until
our bid and ask rest in all four markets, turns the fault on and stops the daemon. The venue judges:
where it recovers before the shutdown deadline, the daemon exits 0 and nothing of ours rests; where it
is gone for good, the exit is non-zero and every order the venue still held is named in the output.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chaos.harness import (
    DaemonProcess,
    HarnessError,
    SimProcess,
    Venue,
    judge,
    known_bug,
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


@dataclass(frozen=True)
class Fault:
    """A venue fault during the stop: how to start it, and what to do once the stop reached the venue."""

    name: str
    start: Callable[[Venue], Awaitable[object]]
    on_stop: Callable[[Venue], Awaitable[object]] | None = None


async def _nothing(venue: Venue) -> None:
    return None


def _burst(count: int) -> Fault:
    return Fault(f"429x{count}", lambda v: v.fault("burst_429", count=count))


GIVES_UP = known_bug(
    "the stop gives up on the first venue error: the per-order cancel fallback only tolerates 'not "
    "found', a 429/500 escapes as 'ExceptionGroup: unhandled errors in a TaskGroup', the daemon exits 1 "
    "and leaves its orders resting (no retry until the deadline, no order-group fallback)"
)
RACES_RECOVERY = known_bug(
    "the stop gives up on the first venue error (see the 429 cases); whether its last per-order cancel "
    "falls before or after the venue recovers 3 s into the stop is a race today, so this case fails "
    "in about half the runs (exit 1, 8 orders resting) and passes in the others",
    strict=False,
)
NOT_NAMED = known_bug(
    "with the venue gone the daemon dies on an unhandled ExceptionGroup (exit 1) and names none of the "
    "orders left resting (its log names tickers only: no side, price or id)"
)
RECOVERING = [
    pytest.param(_burst(10), id="429x10", marks=GIVES_UP),
    pytest.param(_burst(200), id="429x200", marks=GIVES_UP),
    pytest.param(_burst(400), id="429x400", marks=GIVES_UP),
    pytest.param(
        Fault("fail-writes-then-recover-3s", lambda v: v.fault("fail_writes", share=1.0),
              on_stop=lambda v: v.plan({"at_seconds": RECOVER_AFTER_S, "action": "clear"})),
        id="fail-writes-then-recover-3s", marks=RACES_RECOVERY,
    ),
    pytest.param(Fault("latency-800ms", lambda v: v.fault("delay", ms=800)), id="latency-800ms"),
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
                       daemon: DaemonProcess) -> None:
    """Quoting everywhere, the fault on, the stop begun; runs ``on_stop`` once its first cancel arrived."""
    await _quoting(venue, daemon, user_id)
    since = time.time_ns()
    await fault.start(venue)
    # The market is frozen: until the stop the daemon has nothing to cancel. A cancel already seen
    # means the stop (the duration) began before the fault was on: the case would test nothing.
    early = [w for w in await venue.writes(user_id) if w["method"] == "DELETE"]
    if early or daemon.proc.poll() is not None:
        raise HarnessError(f"the stop began before the fault was on ({len(early)} cancel(s)):\n{daemon.tail()}")
    _stop(stop, daemon)
    if fault.on_stop is not None:
        await venue.until_write(user_id, since, "DELETE", timeout=DURATION_S + 10)
        await fault.on_stop(venue)


@pytest.mark.parametrize("stop", STOPS)
@pytest.mark.parametrize("fault", RECOVERING)
async def test_stop_when_venue_recovers_before_deadline_exits_0_with_nothing_resting(
    standard_sim: SimProcess, tmp_path: Path, fault: Fault, stop: str
) -> None:
    """Stop (SIGINT, SIGTERM, --duration) during a 429 burst of 10/200/400, 100% failing writes that
    recover 3 s into the stop, or 800 ms REST latency: exit 0 and zero of our orders resting in
    `/_sim/truth` after the exit."""
    sim, venue = standard_sim, Venue(standard_sim)
    account = sim.new_account(tmp_path)
    await venue.freeze()
    try:
        async with run_daemon(sim, account, tmp_path, duration=_started(stop)) as daemon:
            await _stop_during(fault, stop, sim, venue, account.user_id, daemon)
            code = await daemon.wait_exit()
        left = await venue.resting(account.user_id)
        judge((code, len(left)) == (0, 0), (
            f"exit code {code}, {len(left)} order(s) of ours still resting on the venue "
            f"({', '.join(sorted(o['ticker'] + ' ' + o['book_side'] for o in left))}); output:\n{daemon.tail()}"
        ))
    finally:
        await venue.fault("clear")
        await venue.unfreeze()
        await venue.cancel_leftovers(sim, account)


@pytest.mark.parametrize("stop", STOPS)
@NOT_NAMED
async def test_stop_when_venue_gone_for_good_exits_nonzero_naming_every_order_left(
    tmp_path: Path, stop: str
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
    judge(code != 0 and not missing, (
        f"exit code {code}; {len(missing)} of {len(last)} order(s) left on the venue not named in the output: "
        f"{missing}; output:\n{daemon.tail()}"
    ))
