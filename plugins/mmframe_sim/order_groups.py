"""Order groups: a per-user fill-volume circuit breaker (API.md §5 "Order groups").

A group counts the contracts FILLED by its orders over a rolling 15 s window. When that volume
exceeds the limit (strictly, as Kalshi's docs say), the group triggers: its resting orders are canceled
and new orders naming it are rejected until a reset, which also zeroes the window. A manual trigger,
or lowering the limit below the current rolling volume, triggers too. This module keeps the state; the
engine cancels the orders.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mmframe.api import NANOS_PER_SECOND
from mmframe_sim.model import ExchangeError, OrderGroupView
from mmframe_sim.money import Count

WINDOW_NS = 15 * NANOS_PER_SECOND
MIN_LIMIT: Count = 100  # 1 contract
MAX_LIMIT: Count = 1_000_000 * 100
MAX_GROUPS_PER_USER = 100_000


@dataclass(slots=True, eq=False)
class OrderGroup:
    """One group's state. ``orders`` holds the ids of its resting orders."""

    order_group_id: str
    user_id: str
    contracts_limit: Count
    triggered: bool = False
    window: deque[tuple[int, Count]] = field(default_factory=deque)
    rolling: Count = 0
    orders: dict[str, None] = field(default_factory=dict)

    def roll(self, now_ns: int) -> Count:
        """Drop fills older than the window; the volume still in it."""
        w = self.window
        while w and w[0][0] <= now_ns - WINDOW_NS:
            self.rolling -= w.popleft()[1]
        return self.rolling

    def record_fill(self, now_ns: int, count: Count) -> bool:
        """Count a fill; True when it pushed the group over its limit (the caller triggers it)."""
        self.roll(now_ns)
        self.window.append((now_ns, count))
        self.rolling += count
        return not self.triggered and self.rolling > self.contracts_limit

    def reset(self) -> None:
        self.triggered = False
        self.window.clear()
        self.rolling = 0

    def view(self, now_ns: int) -> OrderGroupView:
        return OrderGroupView(
            order_group_id=self.order_group_id,
            user_id=self.user_id,
            contracts_limit=self.contracts_limit,
            triggered=self.triggered,
            rolling_filled=self.roll(now_ns),
            order_ids=tuple(self.orders),
        )


def check_limit(contracts_limit: Count) -> None:
    """400 unless 1 <= limit <= 1,000,000 whole contracts."""
    if not MIN_LIMIT <= contracts_limit <= MAX_LIMIT or contracts_limit % 100:
        raise ExchangeError(
            400,
            "bad_request",
            "contracts_limit must be a whole number of contracts from 1 to 1,000,000",
            f"got {contracts_limit / 100:.2f}",
        )


class OrderGroups:
    """All groups, by id, with per-user ownership checks."""

    def __init__(self) -> None:
        self.by_id: dict[str, OrderGroup] = {}
        self.count_by_user: dict[str, int] = {}

    def create(self, order_group_id: str, user_id: str, contracts_limit: Count) -> OrderGroup:
        check_limit(contracts_limit)
        if self.count_by_user.get(user_id, 0) >= MAX_GROUPS_PER_USER:
            raise ExchangeError(400, "bad_request", "too many order groups", f"max {MAX_GROUPS_PER_USER}")
        group = OrderGroup(order_group_id, user_id, contracts_limit)
        self.by_id[order_group_id] = group
        self.count_by_user[user_id] = self.count_by_user.get(user_id, 0) + 1
        return group

    def get(self, user_id: str, order_group_id: str) -> OrderGroup:
        group = self.by_id.get(order_group_id)
        if group is None or group.user_id != user_id:
            raise ExchangeError(404, "not_found", "order group not found", order_group_id)
        return group

    def of_user(self, user_id: str) -> list[OrderGroup]:
        return [g for g in self.by_id.values() if g.user_id == user_id]

    def delete(self, group: OrderGroup) -> None:
        del self.by_id[group.order_group_id]
        self.count_by_user[group.user_id] -= 1
