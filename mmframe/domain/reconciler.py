"""The reconciler: a desired quote vs the working orders -> the fewest order actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmframe.domain.actions import OrderAction
from mmframe.domain.money import Count, Price
from mmframe.domain.orders import WorkingOrder
from mmframe.domain.quote import Quote


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """Tolerances and allowed action types.

    An order within ``price_tolerance`` of a desired level's price and whose remaining size is within
    ``size_tolerance`` of the desired size is kept as is.
    """

    price_tolerance: Price = 0
    size_tolerance: Count = 0
    allow_amend: bool = True
    allow_decrease: bool = True


def reconcile(
    quote: Quote,
    working: Sequence[WorkingOrder],
    policy: ReconcilePolicy,
    new_client_order_id: Callable[[], str],
) -> list[OrderAction]:
    """The actions that turn ``working`` (this market's live orders) into ``quote``, ordered
    cancel > amend/decrease > create. Orders with an action in flight are left alone and still count
    as occupying their level, so no level ever gets two live orders."""
    raise NotImplementedError
