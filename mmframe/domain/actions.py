"""Order actions: what the reconciler asks an executor to do.

Sizes are remaining contracts (count units). An executor translates them to the venue's terms
(Kalshi's amend takes the new *total*, filled plus remaining).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mmframe.domain.money import Count, Price
from mmframe.domain.quote import BookSide


class ActionType(enum.StrEnum):
    CREATE = "create"
    AMEND = "amend"
    DECREASE = "decrease"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateOrder:
    """Place a new resting limit order (post-only unless ``post_only`` is False)."""

    client_order_id: str
    ticker: str
    side: BookSide
    price: Price
    size: Count
    post_only: bool = True
    immediate_or_cancel: bool = False
    reduce_only: bool = False
    type: ActionType = ActionType.CREATE


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrder:
    """Move a working order to a new price and/or remaining size (loses queue priority)."""

    client_order_id: str
    new_client_order_id: str
    ticker: str
    side: BookSide
    price: Price
    size: Count
    type: ActionType = ActionType.AMEND


@dataclass(frozen=True, slots=True, kw_only=True)
class DecreaseOrder:
    """Reduce a working order's remaining size to ``size`` (keeps queue priority)."""

    client_order_id: str
    ticker: str
    size: Count
    type: ActionType = ActionType.DECREASE


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    """Cancel a working order."""

    client_order_id: str
    ticker: str
    type: ActionType = ActionType.CANCEL


OrderAction = CreateOrder | AmendOrder | DecreaseOrder | CancelOrder
"""Any action an executor accepts."""
