"""What the simulator's routes (`rest`, `ws`, `admin`) need of the server that runs them, and its clock.

`mmframe_sim.server.SimServer` implements `SimHost`; the routes depend on this module only, never on
the server that imports them (so the modules form layers, no cycle: see pyproject's import-linter
contracts).
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol

from mmframe.api import NANOS_PER_SECOND, Clock
from mmframe_sim.auth import KeyRegistry, SignatureVerifier
from mmframe_sim.engine import Exchange
from mmframe_sim.faults import FaultState, FaultStep
from mmframe_sim.ratelimit import RateLimiter
from mmframe_sim.write_log import WriteLog


class SimClock:
    """The exchange's clock: another clock plus an offset, which the admin API can freeze and advance."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._offset_ns = 0
        self._frozen_at: int | None = None
        self._frozen_mono: int | None = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now_ns(self) -> int:
        if self._frozen_at is not None:
            return self._frozen_at
        return self.base.now_ns() + self._offset_ns

    def monotonic_ns(self) -> int:
        if self._frozen_mono is not None:
            return self._frozen_mono
        return self.base.monotonic_ns() + self._offset_ns

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)

    def freeze(self) -> None:
        """Stop time (the synthetic market stops moving until `advance` or `resume`)."""
        if self._frozen_at is None:
            self._frozen_at = self.now_ns()
            self._frozen_mono = self.monotonic_ns()

    def resume(self) -> None:
        """Let time run again from where it stands (the frozen span is skipped, not replayed)."""
        if self._frozen_at is not None and self._frozen_mono is not None:
            self._offset_ns = self._frozen_at - self.base.now_ns()
            self._frozen_at = None
            self._frozen_mono = None

    def advance(self, seconds: float) -> None:
        """Jump forward ``seconds`` (frozen or running)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        step = int(seconds * NANOS_PER_SECOND)
        self._offset_ns += step
        if self._frozen_at is not None and self._frozen_mono is not None:
            self._frozen_at += step
            self._frozen_mono += step


class Connections(Protocol):
    """The WebSocket connections (`mmframe_sim.ws.WsHub`), as the admin API sees them."""

    @property
    def sessions(self) -> Sized: ...

    def drop_all(self, *, user_id: str | None = None, code: int = 1011, abort: bool = True) -> int:
        """Close the connections (of ``user_id``, or all); how many were closed."""
        ...


class SimHost(Protocol):
    """One running simulator's shared state, as its routes use it."""

    @property
    def exchange(self) -> Exchange: ...
    @property
    def clock(self) -> SimClock: ...
    @property
    def keys(self) -> KeyRegistry: ...
    @property
    def verifier(self) -> SignatureVerifier: ...
    @property
    def limiter(self) -> RateLimiter: ...
    @property
    def faults(self) -> FaultState: ...
    @property
    def write_log(self) -> WriteLog: ...
    @property
    def hub(self) -> Connections: ...
    @property
    def accounts(self) -> list[str]:
        """User ids of the accounts created through keys (not the synthetic traders)."""
        ...

    @property
    def fault_log(self) -> list[str]: ...

    def register_key(
        self, public_key_pem: bytes | str, *, account_id: str | None = None, balance: int | None = None,
        tier: str | None = None, key_id: str | None = None, read_only: bool = False,
    ) -> str:
        """Register a public key for an account; returns the key id."""
        ...

    def create_api_key(self, *, balance: int | None = None, tier: str | None = None,
                       account_id: str | None = None, read_only: bool = False) -> tuple[str, bytes]:
        """A new account (or ``account_id``) with a fresh key: ``(key_id, private key PEM)``."""
        ...

    def start_fault_plan(self, steps: list[FaultStep]) -> None:
        """Run a fault plan in the background."""
        ...
