"""``mmframe doctor FILE``: is this pipeline's Kalshi venue ready to trade? One line per check, plain
advice under each failure; exit 0 when nothing failed, 1 otherwise.

Checks, in order (a failure that makes the rest meaningless stops there): the credentials load; the
exchange answers; a signed read (``GET /portfolio/balance``) is accepted; the local clock agrees with
the server's ``Date`` header; the exchange is trading; the account's tier and rate limits; the
WebSocket handshake; the pipeline's markets exist and are open.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx

from mmframe.api import NANOS_PER_SECOND, PipelineError, format_price, load_pipeline
from mmframe_kalshi.errors import AuthenticationError, CredentialsError, KalshiError, PermissionDeniedError
from mmframe_kalshi.selection import resolve_markets
from mmframe_kalshi.session import KalshiSession

SKEW_WARN_S = 2.0
SKEW_FAIL_S = 10.0
_CLOSE_SOON_S = 3600


@dataclass
class Check:
    """One check's outcome: ``status`` is ``ok``, ``warn`` or ``FAIL``."""

    name: str
    status: str
    detail: str
    advice: str = ""


class Doctor:
    """Runs the checks against one pipeline's venue and collects the outcomes."""

    def __init__(self, registry: Any, pipeline: Any) -> None:
        self.registry = registry
        self.pipeline = pipeline
        self.checks: list[Check] = []

    def add(self, name: str, status: str, detail: str, advice: str = "") -> Check:
        check = Check(name, status, detail, advice)
        self.checks.append(check)
        return check

    @property
    def failed(self) -> bool:
        return any(c.status == "FAIL" for c in self.checks)

    async def run(self) -> None:
        from mmframe_kalshi.venue import build_venue

        pipeline = self.pipeline
        try:
            venue = build_venue(self.registry, pipeline.venue.name, pipeline.venue.config, pipeline.name,
                                pipeline.markets, base_dir=str(Path(pipeline.path).resolve().parent))
        except CredentialsError as exc:
            self.add("credentials", "FAIL", str(exc), _CREDENTIAL_ADVICE)
            return
        except ValueError as exc:
            self.add("venue", "FAIL", str(exc), "doctor checks Kalshi venues: sim, kalshi-demo or kalshi")
            return
        if venue.embedded:
            await venue.open()
            session = venue.require_open().session
            self.add("credentials", "ok", f"simulator key {session.credentials!r} (generated)")
        else:
            session = venue.new_session()
            self.add("credentials", "ok", repr(session.credentials))
        try:
            await self._checks(session, venue)
        finally:
            if venue.embedded:
                await venue.close()
            else:
                await session.close()

    async def _checks(self, session: KalshiSession, venue: Any) -> None:
        if not await self._reachable_and_clock(session):
            return
        if not await self._signed_read(session):
            return
        await self._exchange(session)
        await self._limits(session)
        await self._websocket(session, venue)
        await self._markets(session)

    async def _reachable_and_clock(self, session: KalshiSession) -> bool:
        url = session.rest.rest_url + "/exchange/status"
        # Signed, like every request (some deployments require it even for public data).
        headers = session.signer.headers("GET", session.rest.full_path("/exchange/status"))
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                sent = time.time()
                response = await client.get(url, headers=headers)
                received = time.time()
        except httpx.HTTPError as exc:
            self.add("exchange reachable", "FAIL", f"{url}: {type(exc).__name__}: {exc}",
                     "check the network, a proxy or firewall, and the venue's rest_url")
            return False
        self.add("exchange reachable", "ok", f"{url} answered HTTP {response.status_code}")
        date = response.headers.get("date")
        if not date:
            self.add("clock skew", "warn", "the server sent no Date header", "cannot compare clocks")
            return True
        server = email.utils.parsedate_to_datetime(date).timestamp()
        # The Date header is truncated to the second: its true time is on average half a second later.
        skew = (sent + received) / 2 - (server + 0.5)
        magnitude = max(0.0, abs(skew) - 0.5 - (received - sent) / 2)
        status = "FAIL" if magnitude > SKEW_FAIL_S else "warn" if magnitude > SKEW_WARN_S else "ok"
        self.add("clock skew", status, f"local clock {skew:+.1f} s (±0.5) from the server's Date header",
                 "" if status == "ok" else "signatures carry a timestamp that Kalshi rejects when the clock "
                 "is off: enable time sync (e.g. `timedatectl set-ntp true` or chrony)")
        return True

    async def _signed_read(self, session: KalshiSession) -> bool:
        try:
            balance = await session.rest.get_balance()
        except PermissionDeniedError as exc:
            self.add("signed read", "FAIL", f"GET /portfolio/balance: {exc}",
                     "the key lacks the read scope: create a key with read and trade scopes")
            return False
        except AuthenticationError as exc:
            self.add("signed read", "FAIL", f"GET /portfolio/balance: {exc}", _auth_advice(exc, session))
            return False
        except KalshiError as exc:
            self.add("signed read", "FAIL", f"GET /portfolio/balance: {exc}",
                     "the venue refused a signed read; retry later or check the venue's status page")
            return False
        self.add("signed read", "ok", f"GET /portfolio/balance accepted: balance ${format_price(balance.balance)}")
        if balance.balance <= 0:
            self.add("balance", "warn", "the account has no funds", "deposit funds before quoting")
        return True

    async def _exchange(self, session: KalshiSession) -> None:
        try:
            status = await session.rest.get_exchange_status()
        except KalshiError as exc:
            self.add("exchange status", "warn", f"GET /exchange/status: {exc}", "")
            return
        if status.exchange_active and status.trading_active:
            self.add("exchange status", "ok", "exchange and trading active")
        else:
            resume = f"; expected back {status.estimated_resume_time}" if status.estimated_resume_time else ""
            self.add("exchange status", "FAIL", f"exchange_active={status.exchange_active} "
                     f"trading_active={status.trading_active}{resume}",
                     "trading is paused (e.g. Thursday 03:00-05:00 ET maintenance): start after it resumes")

    async def _limits(self, session: KalshiSession) -> None:
        try:
            limits = await session.rest.get_account_limits()
        except KalshiError as exc:
            self.add("account limits", "warn", f"GET /account/limits: {exc}",
                     "the client keeps Basic-tier limits (10 creates/s) until it can read them")
            return
        creates = limits.write.refill_rate // 10
        self.add("account limits", "ok", f"tier {limits.usage_tier or '?'}: read {limits.read.refill_rate} "
                 f"and write {limits.write.refill_rate} tokens/s (about {creates} creates/s)")

    async def _websocket(self, session: KalshiSession, venue: Any) -> None:
        if not venue.embedded:
            try:
                await session.open()
                await session.wait_connected(10.0)
            except (TimeoutError, KalshiError, OSError) as exc:
                self.add("websocket", "FAIL", f"{session.ws.ws_url}: {type(exc).__name__}: {exc}",
                         "check the venue's ws_url and that outbound WebSocket (wss) traffic is allowed")
                return
        self.add("websocket", "ok", f"signed handshake accepted by {session.ws.ws_url}")

    async def _markets(self, session: KalshiSession) -> None:
        selection = self.pipeline.markets
        now = time.time_ns()
        try:
            tickers = await resolve_markets(session.rest, selection, now)
        except KalshiError as exc:
            self.add("markets", "FAIL", f"cannot list markets: {exc}", "")
            return
        if not tickers:
            self.add("markets", "FAIL", "the selection matched no market",
                     "check the series/events/patterns and loosen the filters")
            return
        found = {m.ticker: m for m in await _markets(session, tickers)}
        for ticker in tickers:
            market = found.get(ticker)
            if market is None:
                self.add(f"market {ticker}", "FAIL", "not found on this venue",
                         "check the ticker's spelling, and that demo and production list different markets")
            elif market.status not in ("active", "open"):
                self.add(f"market {ticker}", "FAIL", f"status {market.status}",
                         "only active markets can be quoted: pick another market or wait for it to open")
            elif market.close_ts_ns is not None and market.close_ts_ns - now < _CLOSE_SOON_S * NANOS_PER_SECOND:
                minutes = (market.close_ts_ns - now) // (60 * NANOS_PER_SECOND)
                self.add(f"market {ticker}", "warn", f"active, closes in {minutes} min",
                         "the market-lifecycle rule stops quoting before the close")
            else:
                self.add(f"market {ticker}", "ok", "active")


async def _markets(session: KalshiSession, tickers: Sequence[str]) -> list[Any]:
    markets: list[Any] = []
    for start in range(0, len(tickers), 100):
        chunk = tickers[start : start + 100]
        markets.extend(await session.rest.list_markets(tickers=chunk, limit=len(chunk)))
    return markets


_CREDENTIAL_ADVICE = (
    "set KALSHI_API_KEY to the key id and KALSHI_PRIVATE_KEY_PATH to the private key file (or "
    "KALSHI_PRIVATE_KEY to its PEM text), or the venue's key_id and private_key_path"
)


def _auth_advice(exc: KalshiError, session: KalshiSession) -> str:
    if exc.code == "header_timestamp_expired":
        return "the signature's timestamp was rejected: fix the local clock (time sync)"
    demo = "demo" in session.rest.rest_url
    return (
        "the key id or private key was not accepted: check that KALSHI_API_KEY matches the private key, "
        f"and that it is a {'demo' if demo else 'production'} key ({'demo' if demo else 'production'} "
        "and demo/production keys are separate)"
    )


def _print(checks: Sequence[Check]) -> None:
    width = max(len(c.name) for c in checks)
    for check in checks:
        click.echo(f"  {check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.advice and check.status != "ok":
            click.echo(f"        {'':<{width}}  -> {check.advice}")


@click.command("doctor")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a value in the file (repeatable).")
@click.pass_context
def doctor_command(ctx: click.Context, file: str, overrides: tuple[str, ...]) -> None:
    """Check that FILE's venue is ready: credentials (a signed read), clock skew, account tier and
    limits, the WebSocket, and the markets' status. Exit 0 when nothing failed."""
    registry = getattr(ctx.find_root().obj, "registry", None)
    if registry is None:
        raise click.ClickException("the plugin registry is not available")
    try:
        pipeline = load_pipeline(file, registry, overrides)
    except PipelineError as exc:
        for issue in exc.errors:
            click.echo(str(issue), err=True)
        raise SystemExit(1) from None
    doctor = Doctor(registry, pipeline)
    click.echo(f"mmframe doctor {file}: venue {pipeline.venue.name}")
    try:
        asyncio.run(doctor.run())
    except Exception as exc:  # one line, never a traceback
        doctor.add("doctor", "FAIL", f"{type(exc).__name__}: {exc}", "")
    _print(doctor.checks)
    failed = [c for c in doctor.checks if c.status == "FAIL"]
    click.echo(f"{len(failed)} problem(s) found" if failed else "all checks passed")
    raise SystemExit(1 if failed else 0)
