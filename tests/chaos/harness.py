"""The chaos harness: the real daemon (``mmframe run``) and the simulator (``mmframe sim serve``) as
separate processes, so SIGINT, SIGTERM and kill -9 are real signals and "the venue is gone" is a dead
process.

Everything is judged by the simulator: `Venue` reads its ground truth (``/_sim/truth``: resting orders
and positions), every order of an account whatever its status (``/_sim/orders``) and the write log
(``/_sim/requests``: each signed write that reached the exchange, with its arrival time on the
machine's wall clock). The daemon is only driven (signals, its control plane) and its output read.

One case, by hand::

    with sim_process(tmp) as sim:                                  # mmframe sim serve --port 0
        account = sim.new_account(tmp)                             # a funded key on that simulator
        venue = Venue(sim)
        async with run_daemon(sim, account, tmp) as daemon:        # mmframe run pipelines/symmetric.yaml
            await venue.until_quoting(account.user_id, MARKETS)
            await venue.fault("burst_429", count=200)
            daemon.send(signal.SIGINT)
            code = await daemon.wait_exit()
        assert code == 0 and await venue.resting(account.user_id) == []
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.e2e.harness import MMFRAME, SYMMETRIC, Account, Admin, until_async, venue_overrides
from tests.sim.kalshi_test_client import KalshiTestClient

SHUTDOWN_DEADLINE_S = 8.0
"""The daemon's shutdown deadline in every case (``runtime.shutdown_timeout_seconds``): the 3 s a
recovering venue stays down plus time to finish, short enough for the suite."""
EXIT_MARGIN_S = 25.0
"""How long past its deadline a stopping daemon may take before the case fails as "never finished"."""
CONTROL_TOKEN = secrets.token_urlsafe(24)
DAEMON_ENV = "MMFRAME_CHAOS_DAEMON"
"""Path of another build's ``mmframe`` executable to run as the daemon (e.g. a baseline commit installed
in its own venv), judged by this tree's simulator; unset: this environment's ``mmframe``."""
CREATE_ROUTES = frozenset({("POST", "/portfolio/events/orders"), ("POST", "/portfolio/events/orders/batched")})
AMEND_ROUTES = frozenset({("POST", "/portfolio/events/orders/{order_id}/amend")})
CANCEL_METHOD = "DELETE"


class ChaosFailure(AssertionError):
    """The daemon failed a case, as judged by the venue (what ``xfail(raises=ChaosFailure)`` expects).

    Anything else a case raises (a harness precondition, a timeout waiting to be quoting) is a
    failure of the harness or the machine, never an expected failure of the daemon."""


class HarnessError(RuntimeError):
    """The harness could not set a case up (never an expected failure)."""


def judge(ok: object, message: str) -> None:
    """Fail the case with `ChaosFailure` unless ``ok``."""
    if not ok:
        raise ChaosFailure(message)


def known_bug(reason: str, *, strict: bool = True) -> pytest.MarkDecorator:
    """``xfail`` for a case today's daemon fails because of a bug named in issue 11: only a
    `ChaosFailure` counts (a broken harness still fails), and with ``strict`` a pass fails the suite
    so the mark is removed when the bug is fixed."""
    return pytest.mark.xfail(reason=f"issue 11: {reason}", raises=ChaosFailure, strict=strict)


# --- the simulator process ------------------------------------------------------------------------


@dataclass
class SimProcess:
    """``mmframe sim serve`` running in its own process."""

    proc: subprocess.Popen[bytes]
    rest_url: str
    ws_url: str
    log_path: Path

    @property
    def admin_url(self) -> str:
        return self.rest_url.removesuffix("/trade-api/v2") + "/_sim"

    def new_account(self, directory: Path, *, tier: str = "advanced", name: str | None = None) -> Account:
        """A new funded account with its own key (private key written mode 0600 under ``directory``)."""
        response = httpx.post(f"{self.admin_url}/accounts", json={"tier": tier}, timeout=30)
        response.raise_for_status()
        body = response.json()
        path = directory / f"{name or body['key_id']}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(body["private_key_pem"])
        return Account(body["key_id"], path, body["user_id"])

    def kill(self) -> None:
        """SIGKILL: the venue is gone for good (no answer, connections refused)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@contextlib.contextmanager
def sim_process(
    directory: Path, *, scenario: Path | None = None, tier: str = "advanced", seed: int = 11,
    start_timeout: float = 60.0,
) -> Iterator[SimProcess]:
    """Start ``mmframe sim serve --port 0`` (its own key goes unused: cases make accounts) and stop it."""
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "sim.log"
    args = [*MMFRAME, "sim", "serve", "--port", "0", "--tier", tier, "--seed", str(seed),
            "--key-out", str(directory / "sim-key.pem")]
    if scenario is not None:
        args += ["--scenario", str(scenario)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
    try:
        assert proc.stdout is not None
        line = _read_line(proc, start_timeout)
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "rest" not in fields:
            raise RuntimeError(f"the simulator did not start: {line!r}; log: {log_path.read_text()[-2000:]}")
        yield SimProcess(proc, fields["rest"], fields["ws"], log_path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line of ``proc`` (the simulator prints one), or "" after ``timeout`` s."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline().decode()


# --- the venue's ground truth -----------------------------------------------------------------------


class Venue(Admin):
    """The simulator's admin API: faults, time, and the ground truth every case is judged by."""

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{self.url}{path}", params=params)
            response.raise_for_status()
            return dict(response.json())

    async def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{self.url}{path}", json=dict(body))
            response.raise_for_status()
            return dict(response.json())

    async def plan(self, *steps: Mapping[str, Any]) -> None:
        """Schedule faults: ``{"at_seconds": 3, "action": "clear"}``, counted from now."""
        await self._post("/faults/plan", {"faults": list(steps)})

    async def freeze(self) -> None:
        """Stop the synthetic market (no trader moves, no fills): only the daemon acts."""
        await self._post("/time", {"freeze": True})

    async def unfreeze(self) -> None:
        await self._post("/time", {"resume": True})

    async def orders(self, user_id: str) -> list[dict[str, Any]]:
        """Every order the account ever had on the venue, any status, each with ``created_ns``."""
        return list((await self._get("/orders", user_id=user_id))["orders"])

    async def writes(self, user_id: str, since_ns: int | None = None) -> list[dict[str, Any]]:
        """The account's writes that reached the venue (at or after ``since_ns``, wall ns), oldest first."""
        params: dict[str, Any] = {"user_id": user_id}
        if since_ns is not None:
            params["since_ns"] = since_ns
        return list((await self._get("/requests", **params))["requests"])

    async def sides(self, user_id: str) -> set[tuple[str, str]]:
        """``(ticker, bid|ask)`` of every order of ours resting now."""
        return {(o["ticker"], o["book_side"]) for o in await self.resting(user_id)}

    async def until_quoting(self, user_id: str, markets: Sequence[str], *, timeout: float = 30.0) -> None:
        """Wait until our bid and ask rest in every one of ``markets``."""
        want = {(t, side) for t in markets for side in ("bid", "ask")}

        async def quoting() -> bool:
            return want <= await self.sides(user_id)

        await until_async(quoting, timeout=timeout, what=f"a bid and an ask of ours in {len(markets)} markets")

    async def until_resting_at_least(self, user_id: str, count: int, *, timeout: float = 60.0) -> int:
        """Wait until at least ``count`` orders of ours rest; returns how many."""

        async def enough() -> int:
            n = len(await self.resting(user_id))
            return n if n >= count else 0

        return int(await until_async(enough, timeout=timeout, what=f"{count} resting orders of ours"))

    async def until_write(self, user_id: str, since_ns: int, method: str | None = None,
                          *, timeout: float = 20.0) -> dict[str, Any]:
        """Wait for the first write of ours (of ``method``) to reach the venue at or after ``since_ns``."""

        async def seen() -> dict[str, Any] | None:
            return next((w for w in await self.writes(user_id, since_ns) if method in (None, w["method"])), None)

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await seen()
            if found is not None:
                return found
            await anyio.sleep(0.01)
        raise ChaosFailure(f"no {method or 'write'} request of ours reached the venue in {timeout}s")

    async def cancel_leftovers(self, sim: SimProcess, account: Account) -> None:
        """Cancel whatever the account left resting (so a shared simulator stays clean between cases)."""
        if not await self.resting(account.user_id):
            return
        async with KalshiTestClient(sim.rest_url, sim.ws_url, account.key_id, account.key_path.read_bytes()) as client:
            await client.delete("/portfolio/events/orders")


@dataclass(frozen=True)
class AfterCount:
    """What reached the venue after a moment: orders created, create/amend requests, orders resting."""

    created: int
    create_requests: int
    amend_requests: int
    resting: int

    @property
    def clean(self) -> bool:
        return not (self.created or self.create_requests or self.amend_requests or self.resting)

    def __str__(self) -> str:
        return (f"{self.created} order(s) created, {self.create_requests} create and {self.amend_requests} "
                f"amend request(s) reached the venue, {self.resting} resting")


async def after(venue: Venue, user_id: str, since_ns: int) -> AfterCount:
    """Count what reached the venue from ``user_id`` at or after ``since_ns`` (wall ns)."""
    created = [o for o in await venue.orders(user_id) if o["created_ns"] >= since_ns]
    writes = await venue.writes(user_id, since_ns)
    return AfterCount(
        created=len(created),
        create_requests=sum(w["items"] for w in writes if (w["method"], w["route"]) in CREATE_ROUTES),
        amend_requests=sum(1 for w in writes if (w["method"], w["route"]) in AMEND_ROUTES),
        resting=len(await venue.resting(user_id)),
    )


# --- the daemon process -----------------------------------------------------------------------------


_CONTROL_LINE = re.compile(r"control plane on (http://\S+)")


@dataclass
class DaemonProcess:
    """``mmframe run`` in its own process; stdout and stderr go to one log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    control_url: str | None = None
    exit_code: int | None = None
    events: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def send(self, sig: signal.Signals) -> None:
        """Deliver ``sig`` to the daemon (SIGINT, SIGTERM, SIGKILL)."""
        if self.proc.poll() is None:
            self.events.append(f"{time.time_ns()} {sig.name}")
            self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.send(signal.SIGKILL)

    async def wait_exit(self, timeout: float = SHUTDOWN_DEADLINE_S + EXIT_MARGIN_S) -> int:
        """The exit code; fails the case (after a kill -9) if the daemon is still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (code := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait(10)
                raise ChaosFailure(f"the daemon did not exit within {timeout:g}s (killed); output:\n{self.tail()}")
            await anyio.sleep(0.02)
        self.exit_code = code
        return code

    async def wait_control(self, timeout: float = 60.0) -> str:
        """The control plane's URL, read from the daemon's log line (it listens on a port the OS picked)."""
        deadline = time.monotonic() + timeout
        while self.control_url is None:
            match = _CONTROL_LINE.search(self.output())
            if match:
                self.control_url = match.group(1)
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.proc.returncode}) before its control plane "
                                     f"listened:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no control plane after {timeout:g}s:\n{self.tail()}")
            await anyio.sleep(0.02)
        return self.control_url

    async def control(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                      *, timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
        """One control-plane request with the bearer token: ``(status, JSON body)``."""
        url = await self.wait_control()
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(
                method, url + path, json=None if body is None else dict(body),
                headers={"Authorization": f"Bearer {CONTROL_TOKEN}"},
            )
        return response.status_code, dict(response.json())


def daemon_args(
    sim: SimProcess, account: Account, *, pipeline: Path = SYMMETRIC, overrides: Sequence[str] = (),
    duration: float | None = None,
) -> list[str]:
    """The ``mmframe run`` command line for ``pipeline`` on ``sim`` as ``account``, control plane on a
    free port, shutdown deadline `SHUTDOWN_DEADLINE_S`."""
    sets = [*venue_overrides(sim, account), "control.enabled=true", "control.port=0",
            f"runtime.shutdown_timeout_seconds={SHUTDOWN_DEADLINE_S:g}", *overrides]
    daemon = os.environ.get(DAEMON_ENV)
    args = [*([daemon] if daemon else MMFRAME), "run", str(pipeline), "--no-status"]
    for item in sets:
        args += ["--set", item]
    if duration is not None:
        args += ["--duration", f"{duration:g}"]
    return args


@contextlib.asynccontextmanager
async def run_daemon(
    sim: SimProcess, account: Account, directory: Path, *, pipeline: Path = SYMMETRIC,
    overrides: Sequence[str] = (), duration: float | None = None, name: str = "daemon",
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[DaemonProcess]:
    """Start the daemon (``env``: extra environment, e.g. a PYTHONPATH holding a test's plugin); on
    exit a daemon still running is stopped (SIGINT, then kill -9 after the deadline and margin) so no
    case leaves a process behind."""
    log_path = directory / f"{name}.log"
    env = {**os.environ, "MMFRAME_CONTROL_TOKEN": CONTROL_TOKEN, **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            daemon_args(sim, account, pipeline=pipeline, overrides=overrides, duration=duration),
            stdout=log, stderr=subprocess.STDOUT, cwd=directory, env=env,
        )
    daemon = DaemonProcess(proc, log_path)
    try:
        yield daemon
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(ChaosFailure):
                await daemon.wait_exit()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --- judging the daemon's output ---------------------------------------------------------------------


def _price_forms(dollars: str) -> set[str]:
    """``0.4580`` -> {"0.4580", "0.458"}: the forms a daemon may print a price in."""
    return {dollars, dollars.rstrip("0").rstrip(".")}


_SIDES = {"bid": ("bid", "yes", "buy"), "ask": ("ask", "no", "sell")}


def named(output: str, order: Mapping[str, Any]) -> bool:
    """Whether one line of ``output`` names ``order`` (a venue order: ticker, side, price, id)."""
    ids = {order["order_id"], order.get("client_order_id") or order["order_id"]}
    prices = _price_forms(order["yes_price_dollars"])
    sides = _SIDES[order["book_side"]]
    for line in output.splitlines():
        if order["ticker"] not in line or not any(i in line for i in ids):
            continue
        if not any(re.search(rf"(?<![\d.]){re.escape(p)}(?!\d)", line) for p in prices):
            continue
        if any(re.search(rf"\b{s}\b", line, re.IGNORECASE) for s in sides):
            return True
    return False


def unnamed(output: str, orders: Sequence[Mapping[str, Any]]) -> list[str]:
    """The orders of ``orders`` no line of ``output`` names, as ``ticker side price id`` strings."""
    return [f"{o['ticker']} {o['book_side']} {o['yes_price_dollars']} {o['order_id']}"
            for o in orders if not named(output, o)]
