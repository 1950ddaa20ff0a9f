"""Client-side token buckets mirroring Kalshi's rate limits (API.md §8), so we never see a 429.

Kalshi charges each request tokens from one of two buckets: **write** (order placement, amends,
cancels, order groups) and **read** (everything else). Refill rates and capacities come from
``GET /account/limits``, per-endpoint costs from ``GET /account/endpoint_costs``; until those are
loaded the Basic tier and the documented costs apply (10 per request, 2 for cancels and GetOrder,
batches charged per item).

Waiting requests are served by priority (cancels before amends before creates), then in arrival
order. Tokens are integers in nano-tokens (token x 1e9) and time comes from the injected clock,
so tests are exact.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mmframe.api import NANOS_PER_SECOND, Clock

_NANO = 1_000_000_000


class Bucket(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class Priority(enum.IntEnum):
    """Lower is served first while waiting."""

    CANCEL = 0
    AMEND = 1
    READ = 2
    CREATE = 3


@dataclass(frozen=True)
class BucketLimit:
    """Refill rate in tokens per second and capacity (burst) in tokens."""

    refill_rate: int
    capacity: int


@dataclass(frozen=True)
class AccountLimits:
    """The account's two buckets (``GET /account/limits``)."""

    read: BucketLimit
    write: BucketLimit
    usage_tier: str = "basic"

    @classmethod
    def basic(cls) -> AccountLimits:
        """Basic tier, the defaults until the real limits load (capacity = 1 s of budget)."""
        return cls(read=BucketLimit(200, 200), write=BucketLimit(100, 100), usage_tier="basic")


DEFAULT_COST = 10
_CANCEL_COST = 2
_BATCH_PATHS = frozenset({"/portfolio/events/orders/batched", "/portfolio/orders/batched"})
# Documented costs (API.md §8) used until /account/endpoint_costs loads. Paths are relative to
# /trade-api/v2 with {param} placeholders.
DEFAULT_ENDPOINT_COSTS: Mapping[tuple[str, str], int] = {
    ("DELETE", "/portfolio/events/orders/{order_id}"): _CANCEL_COST,
    ("DELETE", "/portfolio/events/orders/batched"): _CANCEL_COST,
    ("DELETE", "/portfolio/events/orders"): _CANCEL_COST,
    ("DELETE", "/portfolio/orders/{order_id}"): _CANCEL_COST,
    ("DELETE", "/portfolio/orders/batched"): _CANCEL_COST,
    ("GET", "/portfolio/orders/{order_id}"): _CANCEL_COST,
}
_WRITE_PREFIXES = ("/portfolio/events/orders", "/portfolio/orders", "/portfolio/order_groups")


def bucket_for(method: str, path: str) -> Bucket:
    """Which bucket a request draws from: writes to orders and order groups, everything else reads."""
    if method.upper() != "GET" and path.startswith(_WRITE_PREFIXES):
        return Bucket.WRITE
    return Bucket.READ


_MATCHED_KEPT = 8192


@dataclass
class EndpointCosts:
    """Token cost per (method, path template); batch endpoints are charged per item."""

    default_cost: int = DEFAULT_COST
    costs: dict[tuple[str, str], int] = field(default_factory=lambda: dict(DEFAULT_ENDPOINT_COSTS))
    _patterns: list[tuple[str, re.Pattern[str], int]] = field(default_factory=list, repr=False)
    _matched: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    """Templated paths already matched (an order's amend path recurs with every amend)."""

    def __post_init__(self) -> None:
        self._compile()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EndpointCosts:
        """From ``{"default_cost": 10, "endpoint_costs": [{"method", "path", "cost"}]}``.

        Paths may be given with or without the ``/trade-api/v2`` prefix.
        """
        costs = dict(DEFAULT_ENDPOINT_COSTS)
        for item in body.get("endpoint_costs") or ():
            path = str(item["path"]).removeprefix("/trade-api/v2")
            costs[(str(item["method"]).upper(), path)] = int(item["cost"])
        return cls(default_cost=int(body.get("default_cost", DEFAULT_COST)), costs=costs)

    def _compile(self) -> None:
        self._patterns = []
        self._matched = {}
        for (method, path), cost in self.costs.items():
            if "{" in path:
                regex = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
                self._patterns.append((method, regex, cost))

    def cost(self, method: str, path: str, items: int = 1) -> int:
        """Tokens for one request to ``path`` (relative to /trade-api/v2, no query) with ``items``."""
        method = method.upper()
        path = path.split("?", 1)[0]
        key = (method, path)
        unit = self.costs.get(key)
        if unit is None:
            unit = self._matched.get(key)
        if unit is None:
            unit = next(
                (c for m, rx, c in self._patterns if m == method and rx.match(path)), self.default_cost
            )
            if len(self._matched) >= _MATCHED_KEPT:
                self._matched.clear()
            self._matched[key] = unit
        return unit * max(items, 1) if path in _BATCH_PATHS else unit


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    cost: int = field(compare=False)


class TokenBucket:
    """One bucket: ``capacity`` tokens, refilled at ``rate`` tokens/s, shared by priority waiters."""

    def __init__(self, limit: BucketLimit, clock: Clock, *, utilisation_pct: int = 100) -> None:
        self._clock = clock
        self._utilisation_pct = utilisation_pct
        self._last_ns = clock.monotonic_ns()
        self._rate = 0
        self._capacity = 0
        self._tokens = 0
        self.set_limit(limit)
        self._tokens = self._capacity
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()

    def set_limit(self, limit: BucketLimit) -> None:
        """Adopt new limits (scaled by the utilisation margin); tokens never exceed the new capacity."""
        if limit.refill_rate <= 0 or limit.capacity <= 0:
            raise ValueError(f"bucket limit must be positive, got {limit}")
        self._refill()
        # nano-tokens per ns == tokens per second
        self._rate = limit.refill_rate * self._utilisation_pct // 100 or 1
        self._capacity = limit.capacity * _NANO * self._utilisation_pct // 100
        self._tokens = min(self._tokens, self._capacity)

    @property
    def tokens(self) -> float:
        """Tokens available now (for display)."""
        self._refill()
        return self._tokens / _NANO

    @property
    def capacity(self) -> int:
        """Usable capacity in whole tokens (after the utilisation margin)."""
        return self._capacity // _NANO

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def waiting_tokens(self) -> int:
        """Tokens the requests waiting in this bucket will take before anything new."""
        return sum(w.cost for w in self._waiters)

    @property
    def refill_per_second(self) -> int:
        """Tokens added per second (after the utilisation margin)."""
        return self._rate

    def whole_tokens(self) -> int:
        """Whole tokens available now."""
        self._refill()
        return self._tokens // _NANO

    def seconds_until(self, tokens: int) -> float:
        """How long until ``tokens`` are available (0 if they are now); ignores waiters."""
        self._refill()
        deficit = tokens * _NANO - self._tokens
        return 0.0 if deficit <= 0 else deficit / self._rate / NANOS_PER_SECOND

    def refund(self, cost: int) -> None:
        """Give back ``cost`` tokens taken for a request that was then never sent."""
        self._refill()
        self._tokens = min(self._capacity, self._tokens + cost * _NANO)
        self._notify()

    def try_acquire(self, cost: int) -> bool:
        """Take ``cost`` tokens now if nobody waits and they are there."""
        self._refill()
        need = cost * _NANO
        if self._waiters or self._tokens < need:
            return False
        self._tokens -= need
        return True

    async def acquire(self, cost: int, priority: Priority = Priority.READ) -> None:
        """Wait until ``cost`` tokens are available and this request is first in priority order."""
        need = cost * _NANO
        if need > self._capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self._capacity // _NANO}")
        if self.try_acquire(cost):
            return
        waiter = _Waiter(int(priority), next(self._seq), cost)
        heapq.heappush(self._waiters, waiter)
        self._notify()
        try:
            while True:
                self._refill()
                head = self._waiters[0]
                if head is waiter:
                    if self._tokens >= need:
                        heapq.heappop(self._waiters)
                        self._tokens -= need
                        self._notify()
                        return
                    deficit_ns = -(-(need - self._tokens) // self._rate)
                    await self._clock.sleep(deficit_ns / NANOS_PER_SECOND)
                else:
                    await self._changed.wait()
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)
                self._notify()
            raise

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _refill(self) -> None:
        now = self._clock.monotonic_ns()
        elapsed = now - self._last_ns
        if elapsed > 0:
            self._last_ns = now
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)


class RateLimiter:
    """The read and write buckets plus the endpoint cost table of one account."""

    def __init__(
        self,
        clock: Clock,
        limits: AccountLimits | None = None,
        costs: EndpointCosts | None = None,
        *,
        utilisation_pct: int = 90,
    ) -> None:
        limits = limits or AccountLimits.basic()
        self.limits = limits
        self.costs = costs or EndpointCosts()
        self.buckets = {
            Bucket.READ: TokenBucket(limits.read, clock, utilisation_pct=utilisation_pct),
            Bucket.WRITE: TokenBucket(limits.write, clock, utilisation_pct=utilisation_pct),
        }

    def max_batch_items(self, method: str, path: str) -> int:
        """The most items one batch request to ``path`` may carry within the bucket's capacity."""
        bucket = self.buckets[bucket_for(method, path)]
        unit = self.costs.cost(method, path, 1)
        return max(1, bucket.capacity // max(unit, 1))

    def set_limits(self, limits: AccountLimits) -> None:
        self.limits = limits
        self.buckets[Bucket.READ].set_limit(limits.read)
        self.buckets[Bucket.WRITE].set_limit(limits.write)

    def set_costs(self, costs: EndpointCosts) -> None:
        self.costs = costs

    def try_acquire(self, method: str, path: str, *, items: int = 1) -> bool:
        """Take the tokens ``method path`` costs if they are there now and nobody waits; never waits."""
        return self.buckets[bucket_for(method, path)].try_acquire(self.costs.cost(method, path, items))

    def refund(self, method: str, path: str, *, items: int = 1) -> None:
        """Give back what `acquire` or `try_acquire` took for ``items`` of ``method path`` that were
        then not sent (a guard refused them at the last moment)."""
        if items > 0:
            self.buckets[bucket_for(method, path)].refund(self.costs.cost(method, path, items))

    async def acquire(
        self, method: str, path: str, *, items: int = 1, priority: Priority | None = None
    ) -> int:
        """Wait for the tokens ``method path`` costs; returns the cost charged."""
        bucket = bucket_for(method, path)
        cost = self.costs.cost(method, path, items)
        if priority is None:
            priority = _default_priority(method, path)
        await self.buckets[bucket].acquire(cost, priority)
        return cost


def _default_priority(method: str, path: str) -> Priority:
    method = method.upper()
    if method == "GET":
        return Priority.READ
    if method == "DELETE":
        return Priority.CANCEL
    if path.endswith(("/amend", "/decrease")):
        return Priority.AMEND
    return Priority.CREATE


def limits_from_json(body: Mapping[str, Any]) -> AccountLimits:
    """``GET /account/limits``: ``{usage_tier, read:{refill_rate, bucket_capacity}, write:{...}}``
    (or the older ``{usage_tier, read_limit, write_limit}``, capacity = 1 s of budget)."""

    def bucket(name: str) -> BucketLimit:
        item = body.get(name)
        if isinstance(item, Mapping):
            rate = int(item["refill_rate"])
            return BucketLimit(rate, int(item.get("bucket_capacity") or rate))
        rate = int(body[f"{name}_limit"])
        return BucketLimit(rate, rate)

    return AccountLimits(
        read=bucket("read"), write=bucket("write"), usage_tier=str(body.get("usage_tier", ""))
    )


def split_batches(items: Iterable[Any], size: int) -> list[list[Any]]:
    """Chunk ``items`` into lists of at most ``size``."""
    chunk: list[Any] = []
    out: list[list[Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            out.append(chunk)
            chunk = []
    if chunk:
        out.append(chunk)
    return out
