"""Kalshi's token-bucket rate limits (API.md §8): a read and a write bucket per API key, per tier.

Buckets hold integer "token-nanoseconds" (tokens x 1e9) so refills are exact under any clock,
including a `TestClock`. `/account/limits` and `/account/endpoint_costs` are built from the same
tables this module enforces.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mmframe.api import NANOS_PER_SECOND, Clock

DEFAULT_COST = 10


class Bucket(enum.StrEnum):
    """Which of the two budgets a request draws on."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Tier:
    """Refill rates (tokens/s) and capacities (tokens) of one usage tier."""

    name: str
    read_rate: int
    write_rate: int
    read_capacity: int
    write_capacity: int


def _tier(name: str, read: int, write: int, *, write_burst_seconds: int = 2) -> Tier:
    # The write bucket holds 2 s of budget (API.md §8); reads hold 1 s.
    return Tier(name, read, write, read, write * write_burst_seconds)


TIERS: dict[str, Tier] = {
    "basic": _tier("basic", 200, 100, write_burst_seconds=1),
    "advanced": _tier("advanced", 300, 300),
    "premier": _tier("premier", 1_000, 1_000),
    "paragon": _tier("paragon", 2_000, 2_000),
    "prime": _tier("prime", 4_000, 4_000),
    # Not a Kalshi tier: lets benchmarks and load tests measure the server, not the limiter.
    "unlimited": _tier("unlimited", 10**9, 10**9),
}
DEFAULT_TIER = "advanced"


@dataclass(frozen=True, slots=True)
class EndpointCost:
    """The bucket and token cost of one route; ``per_item`` costs multiply by the batch size."""

    method: str
    path: str
    bucket: Bucket
    cost: int
    per_item: bool = False


# Routes are the spec's paths (without /trade-api/v2). Anything not listed: GET -> read, else write,
# both at DEFAULT_COST.
ENDPOINT_COSTS: tuple[EndpointCost, ...] = (
    EndpointCost("GET", "/portfolio/orders/{order_id}", Bucket.READ, 2),
    EndpointCost("POST", "/portfolio/events/orders", Bucket.WRITE, 10),
    EndpointCost("POST", "/portfolio/events/orders/batched", Bucket.WRITE, 10, per_item=True),
    EndpointCost("DELETE", "/portfolio/events/orders/{order_id}", Bucket.WRITE, 2),
    EndpointCost("DELETE", "/portfolio/events/orders/batched", Bucket.WRITE, 2, per_item=True),
    EndpointCost("DELETE", "/portfolio/events/orders", Bucket.WRITE, 2),
    EndpointCost("POST", "/portfolio/events/orders/{order_id}/amend", Bucket.WRITE, 10),
    EndpointCost("POST", "/portfolio/events/orders/{order_id}/decrease", Bucket.WRITE, 10),
)
_COSTS = {(c.method, c.path): c for c in ENDPOINT_COSTS}


def cost_of(method: str, route: str) -> EndpointCost:
    """The cost entry of ``method`` on ``route`` (a path template such as ``/markets/{ticker}``)."""
    found = _COSTS.get((method, route))
    if found is not None:
        return found
    return EndpointCost(method, route, Bucket.READ if method == "GET" else Bucket.WRITE, DEFAULT_COST)


class TokenBucket:
    """One bucket: starts full, refills continuously at ``rate`` tokens/s up to ``capacity``."""

    __slots__ = ("_capacity_u", "_clock", "_level_u", "_rate", "_stamp_ns")

    def __init__(self, rate: int, capacity: int, clock: Clock) -> None:
        self._clock = clock
        self._rate = rate
        self._capacity_u = capacity * NANOS_PER_SECOND
        self._level_u = self._capacity_u
        self._stamp_ns = clock.monotonic_ns()

    def _refill(self) -> None:
        now = self._clock.monotonic_ns()
        elapsed = now - self._stamp_ns
        if elapsed > 0:
            self._level_u = min(self._capacity_u, self._level_u + elapsed * self._rate)
        self._stamp_ns = now

    def try_take(self, tokens: int) -> bool:
        """Take ``tokens`` if that many are available; a request never partly drains the bucket."""
        self._refill()
        need = tokens * NANOS_PER_SECOND
        if need > self._level_u:
            return False
        self._level_u -= need
        return True

    def available(self) -> int:
        """Whole tokens available now."""
        self._refill()
        return self._level_u // NANOS_PER_SECOND

    def drain(self) -> None:
        """Empty the bucket (fault injection: a 429 burst)."""
        self._refill()
        self._level_u = 0


class RateLimiter:
    """Read and write buckets per API key, created on first use with the key's tier."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, Bucket], TokenBucket] = {}

    def _bucket(self, key_id: str, tier_name: str, bucket: Bucket) -> TokenBucket:
        found = self._buckets.get((key_id, bucket))
        if found is None:
            tier = TIERS[tier_name]
            if bucket is Bucket.READ:
                found = TokenBucket(tier.read_rate, tier.read_capacity, self._clock)
            else:
                found = TokenBucket(tier.write_rate, tier.write_capacity, self._clock)
            self._buckets[(key_id, bucket)] = found
        return found

    def try_acquire(self, key_id: str, tier_name: str, cost: EndpointCost, items: int = 1) -> bool:
        """Charge one request (``items`` batch entries for per-item costs); False means answer 429."""
        tokens = cost.cost * max(items, 1) if cost.per_item else cost.cost
        return self._bucket(key_id, tier_name, cost.bucket).try_take(tokens)

    def available(self, key_id: str, tier_name: str, bucket: Bucket) -> int:
        return self._bucket(key_id, tier_name, bucket).available()

    def drain(self, key_id: str, tier_name: str) -> None:
        """Empty both buckets of a key."""
        for bucket in Bucket:
            self._bucket(key_id, tier_name, bucket).drain()

    def reset(self, key_id: str) -> None:
        """Forget a key's buckets (after a tier change they refill at the new rates, full)."""
        for bucket in Bucket:
            self._buckets.pop((key_id, bucket), None)


def limits_body(tier_name: str) -> dict[str, object]:
    """The GET /account/limits response for ``tier_name`` (current shape plus 3.13's flat fields)."""
    tier = TIERS[tier_name]
    return {
        "usage_tier": tier.name,
        "read": {"refill_rate": tier.read_rate, "bucket_capacity": tier.read_capacity},
        "write": {"refill_rate": tier.write_rate, "bucket_capacity": tier.write_capacity},
        "grants": [],
        "read_limit": tier.read_rate // DEFAULT_COST,
        "write_limit": tier.write_rate // DEFAULT_COST,
    }


def endpoint_costs_body() -> dict[str, object]:
    """The GET /account/endpoint_costs response: every route whose cost is not the default."""
    return {
        "default_cost": DEFAULT_COST,
        "endpoint_costs": [
            {"method": c.method, "path": c.path, "cost": c.cost, "bucket": str(c.bucket), "per_item": c.per_item}
            for c in ENDPOINT_COSTS
        ],
    }
