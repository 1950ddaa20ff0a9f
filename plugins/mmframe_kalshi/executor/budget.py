"""`KalshiWriteBudget`: the account's write token bucket (the REST client's limiter) as the runtime's
`WriteBudget`, net of what the executor was handed and has not yet charged."""

from __future__ import annotations

from mmframe.api import AmendOrder, CancelOrder, CreateOrder, DecreaseOrder, OrderAction
from mmframe_kalshi.limiter import Bucket, RateLimiter, TokenBucket
from mmframe_kalshi.rest import ORDERS_V2_BATCH, amend_path, decrease_path

_ANY_ORDER = "-"
"""An order id to price an amend or decrease path (costs are per path template)."""


class KalshiWriteBudget:
    """Implements `mmframe.api.WriteBudget` over ``limiter``'s write bucket.

    The executor `hold`s the cost of every action it is handed and `release`s it once the action's
    request has taken its tokens from the bucket (or the action was dropped): in between, the tokens
    are spoken for. Requests waiting in the bucket (a retry after a 429) are spoken for too.
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self.held = 0
        """Tokens of actions handed over whose requests have not yet taken them."""
        self._costs_seen: object = None
        self._by_type: dict[type, int] = {}
        """Cost per kind of action under the cost table last seen (asked for every action handed over)."""

    @property
    def _bucket(self) -> TokenBucket:
        return self._limiter.buckets[Bucket.WRITE]

    def tokens(self) -> int:
        """Whole tokens free for new writes now."""
        bucket = self._bucket
        return max(0, bucket.whole_tokens() - bucket.waiting_tokens - self.held)

    def cost(self, action: OrderAction) -> int:
        """Tokens ``action`` takes on its own or as one batch item (the account's cost table)."""
        costs = self._limiter.costs
        if costs is not self._costs_seen:  # the account's table loaded or changed: price again
            self._costs_seen = costs
            self._by_type = {}
        kind = type(action)
        cost = self._by_type.get(kind)
        if cost is None:
            cost = self._by_type[kind] = self._price(action)
        return cost

    def _price(self, action: OrderAction) -> int:
        costs = self._limiter.costs
        if isinstance(action, CreateOrder):
            return costs.cost("POST", ORDERS_V2_BATCH, 1)
        if isinstance(action, CancelOrder):
            return costs.cost("DELETE", ORDERS_V2_BATCH, 1)
        if isinstance(action, AmendOrder):
            return costs.cost("POST", amend_path(_ANY_ORDER))
        if isinstance(action, DecreaseOrder):
            return costs.cost("POST", decrease_path(_ANY_ORDER))
        raise TypeError(f"not an order action: {action!r}")

    def seconds_until(self, tokens: int) -> float:
        """How long until ``tokens`` are free (0 if they are now)."""
        bucket = self._bucket
        return bucket.seconds_until(tokens + bucket.waiting_tokens + self.held)

    @property
    def refill_per_second(self) -> int:
        """Tokens added per second (the account's rate, less the client's safety margin)."""
        return int(self._bucket.refill_per_second)

    def hold(self, tokens: int) -> None:
        """Speak for ``tokens`` (an action handed over, its request not yet charged)."""
        self.held += tokens

    def release(self, tokens: int) -> None:
        """The request took its tokens from the bucket, or will never be sent."""
        self.held = max(0, self.held - tokens)

    def describe(self) -> dict[str, int]:
        return {"tokens": self.tokens(), "held": self.held, "refill_per_second": self.refill_per_second}
