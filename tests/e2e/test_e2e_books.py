"""The daemon's books are the venue's, to the cent: fees as the venue charges them (per-order
rounding, API.md §9), and across kill -9 restarts with fills made while the daemon was down.

Judged by the simulator's ground truth (``GET /_sim/truth``) and the venue's own REST reads
(balance, positions, fills), never by the daemon's bookkeeping. The simulator is busy: noise takers
arrive often and trade a few contracts at a time, so our 10-lot orders fill in parts and the
per-order fee accumulator matters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmframe.api import BookSide, parse_count
from tests.e2e.harness import (
    MARKETS,
    MMFRAME,
    SYMMETRIC,
    Account,
    Admin,
    daemon,
    new_account,
    until_async,
    venue_overrides,
)
from tests.sim.kalshi_test_client import KalshiTestClient

pytestmark = pytest.mark.anyio
start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator
TOKEN = "books-test-token-0123456789abcdef"
_LISTENING = re.compile(r"control plane on (http://127\.0\.0\.1:\d+)")
ONE = Decimal(1)


def busy_scenario() -> Any:
    """The standard scenario with noise takers every second or so per market, 1 to 4 contracts each."""
    from mmframe_sim.scenario import standard_scenario

    scenario = standard_scenario()
    assert scenario.participants is not None
    busy = dataclasses.replace(scenario.participants, noise_rate_per_minute=60, noise_min_size=1, noise_max_size=4)
    return dataclasses.replace(scenario, participants=busy)


@asynccontextmanager
async def busy_sim() -> AsyncIterator[Any]:
    async with start_simulator(busy_scenario(), seed=7) as sim:
        yield sim


# --- the venue's ground truth ----------------------------------------------------------------------


def dollars(text: str | None) -> Decimal:
    return Decimal(text or "0")


def contracts(text: str) -> Decimal:
    return Decimal(parse_count(text)) / 100


async def _pages(client: KalshiTestClient, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await client.get(path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        response.raise_for_status()
        body = response.json()
        items += body[key]
        cursor = body.get("cursor") or ""
        if not cursor:
            return items


@dataclasses.dataclass
class VenueBooks:
    """The account as the venue has it (REST) plus the fees its cash paid (truth)."""

    cash: Decimal
    positions: dict[str, Decimal]
    realised: Decimal
    fees_charged: dict[str, Decimal]
    fills: list[dict[str, Any]]

    def yes_cash(self) -> Decimal:
        """Trading cash of every fill in YES terms (bids pay the YES price, asks receive it)."""
        total = Decimal(0)
        for fill in self.fills:
            amount = contracts(fill["count_fp"]) * dollars(fill["yes_price_dollars"])
            total += -amount if fill["book_side"] == "bid" else amount
        return total

    def net_at(self, start_cash: Decimal, marks: dict[str, Decimal]) -> Decimal:
        """Cash change plus each held leg valued at the YES ``marks`` (a NO contract at 1 - mark)."""
        value = Decimal(0)
        for ticker, held in self.positions.items():
            value += held * marks[ticker] if held > 0 else -held * (ONE - marks[ticker])
        return self.cash - start_cash + value


async def venue_books(sim: Any, account: Account, admin: Admin) -> VenueBooks:
    async with KalshiTestClient(sim.rest_url, sim.ws_url, account.key_id, account.key_path.read_bytes()) as client:
        balance = (await client.get("/portfolio/balance")).json()
        positions = await _pages(client, "/portfolio/positions", "market_positions")
        fills = await _pages(client, "/portfolio/fills", "fills")
    truth = [p for p in (await admin.truth())["positions"] if p["user_id"] == account.user_id]
    return VenueBooks(
        cash=Decimal(balance["balance"]) / 100,
        positions={p["ticker"]: contracts(p["position_fp"]) for p in positions if parse_count(p["position_fp"])},
        realised=sum((dollars(p["realized_pnl_dollars"]) for p in positions), Decimal(0)),
        fees_charged={p["ticker"]: dollars(p["fees_charged_dollars"]) for p in truth},
        fills=fills,
    )


async def start_cash(sim: Any, account: Account) -> Decimal:
    async with KalshiTestClient(sim.rest_url, sim.ws_url, account.key_id, account.key_path.read_bytes()) as client:
        return Decimal((await client.get("/portfolio/balance")).json()["balance"]) / 100


async def nothing_resting(admin: Admin, user_id: str) -> bool:
    return not await admin.resting(user_id)


async def quoting_everywhere(admin: Admin, user_id: str) -> bool:
    return {o["ticker"] for o in await admin.resting(user_id)} == set(MARKETS)


# --- the daemon as a real process -----------------------------------------------------------------


@dataclasses.dataclass
class Process:
    proc: asyncio.subprocess.Process
    log: Path
    url: str = ""

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(self.url + path)
            response.raise_for_status()
            return response.json()

    async def post(self, path: str) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
            response.raise_for_status()
            return response.json()


async def spawn(sim: Any, account: Account, journal: Path, log: Path) -> Process:
    args = ["run", str(SYMMETRIC)]
    for override in [*venue_overrides(sim, account), "control.enabled=true", "control.port=0"]:
        args += ["--set", override]
    env = {**os.environ, "MMFRAME_CONTROL_TOKEN": TOKEN, "MMFRAME_JOURNAL": str(journal)}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*MMFRAME, *args, stdout=out, stderr=asyncio.subprocess.STDOUT,
                                                    env=env)
    running = Process(proc, log)

    async def listening() -> bool:
        found = _LISTENING.search(log.read_text(errors="replace"))
        assert found or proc.returncode is None, f"mmframe run exited early:\n{log.read_text()}"
        if found:
            running.url = found.group(1)
        return bool(found)

    await until_async(listening, timeout=40, what="the control plane")
    await until_async(lambda: _ready(running), timeout=40, what="the daemon to be ready")
    return running


async def _ready(running: Process) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(running.url + "/health")).status_code == 200


async def kill(running: Process) -> None:
    running.proc.send_signal(signal.SIGKILL)
    await running.proc.wait()


# --- the tests ------------------------------------------------------------------------------------


async def test_books_when_killed_five_times_with_fills_while_down_equal_the_venue_to_the_cent(
    tmp_path: Path,
) -> None:
    async with busy_sim() as sim:
        account = new_account(sim, tmp_path)
        admin = Admin(sim)
        journal = tmp_path / "books.sqlite"
        cash0 = await start_cash(sim, account)
        downtime_fills = 0
        for cycle in range(5):
            running = await spawn(sim, account, journal, tmp_path / f"run{cycle}.log")
            try:
                await until_async(lambda: quoting_everywhere(admin, account.user_id), timeout=20, what="quotes")
                await asyncio.sleep(1.5)  # some fills while up
            finally:
                await kill(running)  # a crash: orders stay on the venue, nothing is closed
            # While the daemon is down, move one market's fair value far away: the liquidity
            # providers re-quote through our stale orders there (they refresh every ~5 s).
            ticker = MARKETS[cycle % len(MARKETS)]
            before = await admin.positions(account.user_id)
            await admin.fault("set_fair_value", ticker=ticker, probability=0.93 if cycle % 2 == 0 else 0.07)
            await until_async(
                lambda t=ticker, b=before: _moved(admin, account.user_id, t, b), timeout=15,
                what=f"a fill in {ticker} while the daemon is down",
            )
            downtime_fills += 1

        final = await spawn(sim, account, journal, tmp_path / "final.log")
        try:
            async with httpx.AsyncClient() as client:  # the traders stop: books and marks stay put
                (await client.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
            paused = await final.post("/pause")
            assert paused["orders_left"] == 0
            await until_async(lambda: nothing_resting(admin, account.user_id), timeout=10, what="no order resting")
            venue = await venue_books(sim, account, admin)
            truth_positions = {t: Decimal(q) / 100 for t, q in (await admin.positions(account.user_id)).items()}

            async def caught_up() -> dict[str, Any] | None:  # the last fills' reports may be on the wire
                state: dict[str, Any] = await final.get("/state")
                held = {p["ticker"]: Decimal(p["position"]) for p in state["positions"] if Decimal(p["position"])}
                return state if held == venue.positions else None

            state = await until_async(caught_up, timeout=5, what="the daemon to hold the venue's positions")
        finally:
            final.proc.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(final.proc.wait(), 30)
        assert code == 0, final.log.read_text()

    logs = "".join((tmp_path / f"run{cycle}.log").read_text() for cycle in range(1, 5))
    logs += (tmp_path / "final.log").read_text()
    assert logs.count("made while no run was up: booked and journaled") >= downtime_fills, logs
    assert "the journal's fills and the venue's since give" not in logs, "no position left unexplained"

    # Positions: the daemon's are the venue's (REST and truth).
    ours = {p["ticker"]: Decimal(p["position"]) for p in state["positions"] if Decimal(p["position"])}
    assert ours == venue.positions == truth_positions
    assert venue.positions, "the cycles left positions to carry"
    # Net PnL: the daemon's today's net equals the venue's cash change plus its positions valued at
    # the daemon's marks, to the cent (here: exactly).
    marks = {p["ticker"]: Decimal(p["mark"]) for p in state["positions"] if p["mark"] is not None}
    venue_net = venue.net_at(cash0, marks)
    assert Decimal(state["pnl"]["net"]) == venue_net, (state["pnl"], venue_net)

    # The journal's books (mmframe report): fees and realised PnL as the venue booked them; every
    # venue fill journaled exactly once; bought - sold = each position.
    report = _report(journal)
    assert Decimal(report["totals"]["fees"]) == sum(venue.fees_charged.values(), Decimal(0))
    shorts = sum((-q for q in venue.positions.values() if q < 0), Decimal(0))
    assert Decimal(report["totals"]["fees"]) == venue.yes_cash() - shorts - (venue.cash - cash0)
    # The venue reports realised PnL to the micro-dollar; the report floors to $0.0001.
    assert Decimal(report["totals"]["realised"]) == venue.realised.quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
    assert Decimal(report["totals"]["net_pnl"]) == venue_net
    by_market = {m["ticker"]: m for m in report["by_market"]}
    for ticker, held in venue.positions.items():
        market = by_market[ticker]
        assert Decimal(market["bought"]) - Decimal(market["sold"]) == held, market
        assert Decimal(market["position"]) == held
        assert Decimal(market["fees"]) == venue.fees_charged[ticker]
    with sqlite3.connect(journal) as db:
        journaled = [r[0] for r in db.execute("SELECT trade_id FROM fills")]
        runs = db.execute("SELECT stop_reason, error FROM runs ORDER BY started_ns").fetchall()
        stale = db.execute("SELECT COUNT(*) FROM orders WHERE status IN ('pending_new', 'resting', 'partially_filled')").fetchone()[0]
    assert sorted(journaled) == sorted(f["trade_id"] for f in venue.fills)
    assert len(venue.fills) >= 20, len(venue.fills)
    assert [r[1] for r in runs] == [1] * 5 + [0] and runs[-1][0] == "SIGINT"
    assert stale == 0, "every order's row followed it to the end"


async def _moved(admin: Admin, user_id: str, ticker: str, before: dict[str, int]) -> bool:
    return (await admin.positions(user_id)).get(ticker, 0) != before.get(ticker, 0)


def _report(journal: Path) -> dict[str, Any]:
    import json
    import subprocess

    done = subprocess.run([*MMFRAME, "report", "--journal", str(journal), "--json"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


async def test_ledger_fees_when_a_run_makes_fifty_fills_equal_the_venue_s_cash_change(tmp_path: Path) -> None:
    async with busy_sim() as sim:
        account = new_account(sim, tmp_path)
        admin = Admin(sim)
        cash0 = await start_cash(sim, account)
        async with daemon(sim, account, overrides=[f"sinks.0.with.path={tmp_path / 'j.sqlite'}"]) as d:
            fair = {"SIM-RAIN-NYC": 0.35, "SIM-FED-DEC": 0.62}
            swing = 0

            async def enough() -> bool:
                nonlocal swing
                if d.engine.stats.fills >= 50:
                    return True
                swing += 1
                if swing % 40 == 0:  # every 2 s: swing two fair values so the books move through us
                    for ticker, value in fair.items():
                        fair[ticker] = 1 - value
                        await admin.fault("set_fair_value", ticker=ticker, probability=fair[ticker])
                return False

            await until_async(enough, timeout=75, what="50 fills")
            d.engine.pause("test")
            await until_async(lambda: nothing_resting(admin, account.user_id), timeout=15, what="no order resting")
            async with httpx.AsyncClient() as client:
                (await client.post(f"{admin.url}/time", json={"freeze": True})).raise_for_status()
            await asyncio.sleep(0.3)  # the last fills' reports
            venue = await venue_books(sim, account, admin)
            ledger = d.engine.core.ledger
            fees = Decimal(ledger.fees()) / 10_000
            positions = {t: Decimal(p.position) / 100 for t, p in ledger.positions.items() if p.position}
            fills = d.engine.stats.fills

    assert fills >= 50 and len(venue.fills) == fills
    assert positions == venue.positions
    shorts = sum((-q for q in venue.positions.values() if q < 0), Decimal(0))
    from_cash = venue.yes_cash() - shorts - (venue.cash - cash0)  # what the cash paid beyond trading
    assert fees == from_cash == sum(venue.fees_charged.values(), Decimal(0)), (fees, from_cash)
    trade_fees = sum((dollars(f["fee_cost"]) for f in venue.fills), Decimal(0))
    assert fees > trade_fees, "the per-fill fee_cost sum understates what the balance paid"
    maker_fills = [f for f in venue.fills if f["ticker"] == "SIM-FED-DEC" and not f["is_taker"]]
    assert maker_fills and any(f["book_side"] == BookSide.BID.value for f in venue.fills)
