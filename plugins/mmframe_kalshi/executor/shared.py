"""What the executor's parts share: the session, the runtime's context, the account's order group and
request state. No order state lives here: the runtime's order tracker (`FeedContext.orders`) is the
one place that knows an order's venue id, size, fills and renames."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mmframe.api import Count, Event, FeedContext, OrderView, RateLimitedLog
from mmframe_kalshi.session import KalshiSession

logger = logging.getLogger("mmframe_kalshi.executor")


@dataclass(frozen=True)
class ExecutorOptions:
    """How orders are placed (see `KalshiExecutor`)."""

    contracts_limit: Count | None = 100_000
    max_batch: int = 20
    fill_lookback_s: int = 86_400
    self_trade_prevention: str = "taker_at_cross"
    cancel_order_on_pause: bool = False
    max_in_flight: int = 10


@dataclass
class PendingRequests:
    """Request state: what was asked of the venue and is not yet settled (never an order's state)."""

    creating: set[str] = field(default_factory=set)
    """Client ids of creates whose request is in flight (handed to the REST client, not answered)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Client id -> ticker of creates whose outcome stayed unknown: settled later by reading orders."""
    deferred_cancels: set[str] = field(default_factory=set)
    """Client ids of creates cancelled while in flight: the cancel goes once the create is acknowledged."""

    def unsettled(self, client_order_id: str) -> bool:
        """Whether a create of ``client_order_id`` is in flight or its outcome is unknown."""
        return client_order_id in self.creating or client_order_id in self.unknown


class Shared:
    """The session, the runtime's context (set by `KalshiExecutor.start`), the markets reported, the
    order group, and the requests not yet settled."""

    def __init__(self, session: KalshiSession, options: ExecutorOptions) -> None:
        self.session = session
        self.rest = session.rest
        self.options = options
        self.ctx: FeedContext | None = None
        self.markets: frozenset[str] = frozenset()
        self.order_group_id: str | None = None
        self.group_triggered = False
        self.pending = PendingRequests()
        self.malformed = 0
        """Account-channel frames dropped because they did not parse."""
        self.repeats = RateLimitedLog(logger, session.clock.monotonic_ns)
        """For conditions that repeat (malformed frames, settle retries, fills of unknown orders)."""

    def require_ctx(self) -> FeedContext:
        if self.ctx is None:
            raise RuntimeError("KalshiExecutor.start has not run")
        return self.ctx

    @property
    def orders(self) -> OrderView:
        """The runtime's order tracker (read only)."""
        return self.require_ctx().orders

    def now_ns(self) -> int:
        return self.require_ctx().clock.now_ns()

    def publish(self, event: Event) -> None:
        self.require_ctx().publish(event)
