"""Cancel outcomes that do not depend on how the venue words "that order is already gone".

A batch cancel answers per order (API.md §4: ``{"orders": [{order_id, ..., error}]}``), but a venue may
also refuse a whole batch (HTTP 400) because one of its orders was cancelled or filled meanwhile, and
the error an already-gone order gets is not fixed by the spec (404 ``not_found`` on some paths, 400
``invalid_order`` "order is not resting" on others). So:

* a batch refused as a whole with a non-transient error falls back to one cancel per order;
* a cancel (per order or per batch item) answered with anything but success, a 429, a 5xx or a
  network error is settled by reading the order (``GET /portfolio/orders/{id}``): not resting (or
  not found) means it is done; still resting means the cancel really failed.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from mmframe_kalshi.errors import (
    KalshiError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    WriteRefused,
)
from mmframe_kalshi.models import OrderCanceledResult
from mmframe_kalshi.rest import KalshiRestClient


class Cancelled(enum.Enum):
    """What a cancel came to."""

    CANCELED = "canceled"
    """The venue cancelled it now."""
    GONE = "gone"
    """It no longer rested (cancelled or filled before): as good as cancelled."""
    FAILED = "failed"
    """It may still rest (``error`` says why)."""


@dataclass(frozen=True)
class CancelOutcome:
    order_id: str
    outcome: Cancelled
    reason: str = ""
    error: KalshiError | None = None


def transient(error: KalshiError) -> bool:
    """429, 5xx, network: trying other requests now only adds load; a later round retries."""
    return isinstance(error, RateLimitedError | ServerError | TransportError | WriteRefused)


async def settle_error(rest: KalshiRestClient, order_id: str, error: KalshiError) -> CancelOutcome:
    """A cancel of ``order_id`` answered ``error``: gone (not found, or not resting when read) or
    failed (still resting, or the read failed)."""
    if isinstance(error, NotFoundError):
        return CancelOutcome(order_id, Cancelled.GONE, f"not resting ({error.code or 'not found'})")
    if transient(error):
        return CancelOutcome(order_id, Cancelled.FAILED, error=error)
    try:
        order = await rest.get_order(order_id)
    except NotFoundError:
        return CancelOutcome(order_id, Cancelled.GONE, f"not resting ({error.code or 'not found'})")
    except KalshiError:
        return CancelOutcome(order_id, Cancelled.FAILED, error=error)
    if order.is_resting:
        return CancelOutcome(order_id, Cancelled.FAILED, error=error)
    return CancelOutcome(order_id, Cancelled.GONE, f"not resting ({order.status})")


async def cancel_one(rest: KalshiRestClient, order_id: str, ticker: str | None) -> CancelOutcome:
    """Cancel one order; never raises a `KalshiError`."""
    try:
        await rest.cancel_order(order_id, ticker=ticker)
    except KalshiError as exc:
        return await settle_error(rest, order_id, exc)
    return CancelOutcome(order_id, Cancelled.CANCELED, "canceled")


async def cancel_batch(
    rest: KalshiRestClient,
    pairs: Sequence[tuple[str, str | None]],
    *,
    answered: Sequence[OrderCanceledResult] | KalshiError | None = None,
) -> list[CancelOutcome]:
    """Cancel ``(order_id, ticker)`` pairs in one batch, one outcome each, in order; never raises a
    `KalshiError`. ``answered``: the batch's answer when it was already sent (its per-item results,
    or the error the whole request met)."""
    if answered is None:
        try:
            answered = list(await rest.batch_cancel_orders(pairs))
        except KalshiError as exc:
            answered = exc
    if isinstance(answered, KalshiError):
        if transient(answered):
            return [CancelOutcome(order_id, Cancelled.FAILED, error=answered) for order_id, _ in pairs]
        # Refused as a whole (an order of it gone meanwhile, say): one cancel per order.
        return list(await asyncio.gather(*(cancel_one(rest, order_id, ticker) for order_id, ticker in pairs)))

    async def item(order_id: str, result: OrderCanceledResult) -> CancelOutcome:
        if result.error is None:
            return CancelOutcome(order_id, Cancelled.CANCELED, "canceled")
        return await settle_error(rest, order_id, result.error)

    results = zip(pairs, answered, strict=True)
    return list(await asyncio.gather(*(item(order_id, result) for (order_id, _), result in results)))
