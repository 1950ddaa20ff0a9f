"""The reconciler's one-order-one-level shortcut gives exactly the actions of the general matcher."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide, Level
from mmframe.domain.reconciler import ReconcilePolicy, _Plan

T = "SIM-RAIN-NYC"
_PRICES = st.integers(1, 30).map(lambda p: p * 100)
_SIZES = st.integers(0, 50).map(lambda s: s * 10)


@st.composite
def _order(draw: st.DrawFn) -> WorkingOrder:
    amending = draw(st.booleans())
    return WorkingOrder(
        "w1",
        T,
        draw(st.sampled_from(list(BookSide))),
        draw(_PRICES),
        draw(_SIZES),
        status=draw(
            st.sampled_from(
                [
                    OrderStatus.RESTING,
                    OrderStatus.PARTIALLY_FILLED,
                    OrderStatus.PENDING_NEW,
                    OrderStatus.PENDING_CANCEL,
                ]
            )
        ),
        pending_change=amending,
        pending_price=draw(_PRICES) if amending else None,
    )


_policies = st.builds(
    ReconcilePolicy,
    price_tolerance=st.sampled_from([-100, 0, 100, 200, 1000]),
    size_tolerance=st.sampled_from([0, 20, 1000]),
    allow_amend=st.booleans(),
    allow_decrease=st.booleans(),
)


def _plan(policy: ReconcilePolicy) -> _Plan:
    counter = itertools.count(1)
    return _Plan(T, policy, lambda: f"n{next(counter)}")


@settings(max_examples=400, deadline=None)
@given(_order(), _PRICES, _SIZES, _policies)
def test_reconciler_when_one_order_one_level_then_shortcut_equals_general_matching(
    order: WorkingOrder, price: int, size: int, policy: ReconcilePolicy
) -> None:
    level = Level(price, size)
    shortcut, general = _plan(policy), _plan(policy)
    shortcut.side(order.side, (level,), [order])
    general._match(order.side, (level,), [order])
    assert shortcut.actions() == general.actions()
