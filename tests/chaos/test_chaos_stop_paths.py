"""The stop's other ends (issue 11): an operator who loses patience, and a run that dies of a bug.

Real processes: ``mmframe run pipelines/symmetric.yaml`` against ``mmframe sim serve`` with the
synthetic market frozen, judged by the simulator's ground truth (``/_sim/truth``) and by the journal
file the daemon leaves behind, never by what the daemon says about itself.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from tests.chaos.harness import SHUTDOWN_DEADLINE_S, SimProcess, Venue, judge, run_daemon, unnamed
from tests.core.distfactory import REPO, make_dist
from tests.e2e.harness import MARKETS

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]

ABORT_WITHIN_S = 3.0
"""A third SIGINT ends the process within this long (the stop's own deadline is `SHUTDOWN_DEADLINE_S`)."""

FATAL_STRATEGY = '''\
"""A test strategy: symmetric quotes until its trigger file exists, then a bug (an exception)."""
from pathlib import Path

from mmframe.api import ComponentSpec, Kind, Level, Quote, hookimpl


class Fatal:
    def __init__(self, config, ctx):
        self.trigger = Path(config["trigger"])

    def quote(self, market):
        if self.trigger.exists():
            raise RuntimeError("a strategy bug: division by zero in the skew")
        mid = market.book.mid() if market.book.valid else None
        if mid is None:
            return Quote.empty(market.ticker)
        return Quote(market.ticker, (Level(max(mid - 400, 100), 100),), (Level(min(mid + 400, 9_900), 100),))

    def on_fill(self, fill, market):
        return None

    def update_params(self, params):
        return None


@hookimpl
def register_strategies(register):
    register(ComponentSpec(kind=Kind.STRATEGY, name="fatal-after-trigger", summary="raises once triggered",
                           factory=Fatal, config_schema={"type": "object", "properties": {"trigger": {"type": "string"}},
                                                  "required": ["trigger"]}))
'''


async def _log_line(output: Callable[[], str], pattern: str, *, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, output())
        if match:
            return match.group(0)
        await anyio.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r} within {timeout:g}s")


async def test_second_sigint_during_a_slow_stop_reports_progress_and_a_third_exits_at_once_naming_every_order_left(
    standard_sim: SimProcess, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Every write refused, so the stop keeps retrying its cancels: a second SIGINT logs what is still
    being cancelled; a third ends the process at once (well inside the stop's deadline) with exit 1,
    and every order `/_sim/truth` still shows resting is named in the output (ticker, side, price, id)."""
    sim, venue = standard_sim, Venue(standard_sim)
    account = sim.new_account(tmp_path)
    await venue.freeze()
    try:
        async with run_daemon(sim, account, tmp_path) as daemon:
            await daemon.wait_control()
            await venue.until_quoting(account.user_id, MARKETS)
            since = time.time_ns()
            await venue.fault("fail_writes", share=1.0)
            daemon.send(signal.SIGINT)
            await venue.until_write(account.user_id, since, "DELETE")  # the stop is cancelling, in vain
            daemon.send(signal.SIGINT)
            progress = await _log_line(daemon.output, r"SIGINT again: stop [^\n]*order\(s\) still being cancelled[^\n]*")
            daemon.send(signal.SIGINT)
            third = time.monotonic()
            code = await daemon.wait_exit()
            took = time.monotonic() - third
            left = await venue.resting(account.user_id)
    finally:
        await venue.fault("clear")
        await venue.unfreeze()
        await venue.cancel_leftovers(sim, account)
    missing = unnamed(daemon.output(), left)
    record_property("observed", f"{len(left)} of ours resting after the third SIGINT; exit {code} "
                                f"{took:.1f} s after it; {len(left) - len(missing)} named")
    judge(left, f"nothing of ours rested after the abort: the case tested nothing; output:\n{daemon.tail()}")
    judge("order(s) still being cancelled" in progress and re.search(r"\b[1-9]\d* order\(s\)", progress),
          f"the second SIGINT did not say what is being cancelled: {progress!r}")
    judge(code == 1 and took < ABORT_WITHIN_S < SHUTDOWN_DEADLINE_S and not missing, (
        f"exit {code} {took:.1f} s after the third SIGINT; {len(missing)} of {len(left)} resting orders "
        f"not named: {missing}; output:\n{daemon.tail()}"
    ))


async def test_run_ending_in_a_fatal_error_cancels_everything_and_closes_its_journal_run_with_the_error(
    standard_sim: SimProcess, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """A strategy that starts raising mid-run (a bug), with `runtime.plugin_errors: stop`: the daemon
    stops by itself with exit 1, nothing of ours rests in `/_sim/truth`, and the journal file's run
    row is closed: `stopped_ns` set, `error` 1, the reason naming the failure."""
    sim, venue = standard_sim, Venue(standard_sim)
    account = sim.new_account(tmp_path)
    site, trigger, journal = tmp_path / "site", tmp_path / "trigger", tmp_path / "journal.sqlite"
    make_dist(site, "mmframe-fatal-test", "fatal-test", "mmframe_fatal_test", FATAL_STRATEGY)
    env = {"PYTHONPATH": f"{site}:{REPO}", "MMFRAME_JOURNAL": str(journal)}
    # `stop`: a plugin's exception ends the run (the default quarantines the market instead).
    overrides = [f"strategy={{use: fatal-after-trigger, with: {{trigger: '{trigger}'}}}}", "runtime.plugin_errors=stop"]
    await venue.freeze()
    try:
        async with run_daemon(sim, account, tmp_path, overrides=overrides, env=env) as daemon:
            await daemon.wait_control()
            await venue.until_quoting(account.user_id, MARKETS)
            trigger.touch()  # housekeeping requotes every market each second: the next requote meets the bug
            code = await daemon.wait_exit()
        left = await venue.resting(account.user_id)
    finally:
        await venue.unfreeze()
        await venue.cancel_leftovers(sim, account)
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT started_ns, stopped_ns, stop_reason, error FROM runs").fetchall()
    judge(len(runs) == 1, f"expected one run in the journal, found {runs}")
    started, stopped, reason, error = runs[0]
    record_property("observed", f"exit {code}, {len(left)} of ours resting; the journal's run row: stopped_ns "
                                f"{'set' if stopped else 'NULL'}, error {error}, reason {reason!r}")
    judge(code == 1 and not left, f"exit {code}, {len(left)} of ours resting; output:\n{daemon.tail()}")
    judge(stopped is not None and stopped >= started and error == 1 and "a strategy bug" in (reason or ""),
          f"the journal's run row was not closed with the error: {runs[0]}; output:\n{daemon.tail()}")
