"""The reconciler: fewest actions from working orders to a desired quote, one order per level."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.domain.actions import (
    ActionType,
    AmendOrder,
    CancelOrder,
    CreateOrder,
    DecreaseOrder,
    OrderAction,
)
from mmframe.domain.orders import OrderStatus, WorkingOrder
from mmframe.domain.quote import BookSide, Level, Quote
from mmframe.domain.reconciler import ReconcilePolicy, reconcile

T = "SIM-RAIN-NYC"
BID, ASK = BookSide.BID, BookSide.ASK
EXACT = ReconcilePolicy()


def _ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"n{next(counter)}"


def _order(cid: str, side: BookSide, price: int, size: int, **kw: object) -> WorkingOrder:
    kw.setdefault("status", OrderStatus.RESTING)
    return WorkingOrder(cid, T, side, price, size, **kw)  # type: ignore[arg-type]


def _quote(bids: Sequence[tuple[int, int]] = (), asks: Sequence[tuple[int, int]] = ()) -> Quote:
    return Quote(T, tuple(Level(p, s) for p, s in bids), tuple(Level(p, s) for p, s in asks))


def _kinds(actions: Sequence[OrderAction]) -> list[str]:
    return [a.type.value for a in actions]


TWO_SIDED = [_order("b1", BID, 4800, 1000), _order("a1", ASK, 5200, 1000)]

# (name, working, quote, policy, expected action types)
TABLE = [
    ("no change", TWO_SIDED, _quote([(4800, 1000)], [(5200, 1000)]), EXACT, []),
    ("one level moved", TWO_SIDED, _quote([(4700, 1000)], [(5200, 1000)]), EXACT, ["amend"]),
    ("both levels moved", TWO_SIDED, _quote([(4900, 1000)], [(5300, 1000)]), EXACT, ["amend", "amend"]),
    ("size down", TWO_SIDED, _quote([(4800, 400)], [(5200, 1000)]), EXACT, ["decrease"]),
    ("size up", TWO_SIDED, _quote([(4800, 1500)], [(5200, 1000)]), EXACT, ["amend"]),
    ("side pulled", TWO_SIDED, _quote([(4800, 1000)], []), EXACT, ["cancel"]),
    ("everything pulled", TWO_SIDED, Quote.empty(T), EXACT, ["cancel", "cancel"]),
    ("fresh quote", [], _quote([(4800, 1000), (4700, 500)], [(5200, 1000)]), EXACT, ["create"] * 3),
    ("level added", TWO_SIDED, _quote([(4800, 1000), (4700, 500)], [(5200, 1000)]), EXACT, ["create"]),
    (
        "moved within tolerance",
        TWO_SIDED,
        _quote([(4810, 1000)], [(5190, 1000)]),
        ReconcilePolicy(price_tolerance=10),
        [],
    ),
    (
        "size within tolerance",
        TWO_SIDED,
        _quote([(4800, 990)], [(5200, 1000)]),
        ReconcilePolicy(size_tolerance=10),
        [],
    ),
    (
        "moved without amend",
        TWO_SIDED,
        _quote([(4700, 1000)], [(5200, 1000)]),
        ReconcilePolicy(allow_amend=False),
        ["cancel", "create"],
    ),
    (
        "size down without decrease",
        TWO_SIDED,
        _quote([(4800, 400)], [(5200, 1000)]),
        ReconcilePolicy(allow_decrease=False),
        ["amend"],
    ),
    (
        "size up without amend waits for the cancel",
        TWO_SIDED,
        _quote([(4800, 1500)], [(5200, 1000)]),
        ReconcilePolicy(allow_amend=False),
        ["cancel"],
    ),
    (
        "ladder shifted one tick keeps the overlap",
        [_order("b1", BID, 4800, 100), _order("b2", BID, 4700, 100), _order("b3", BID, 4600, 100)],
        _quote([(4900, 100), (4800, 100), (4700, 100)]),
        EXACT,
        ["amend"],
    ),
    (
        "pending order left alone",
        [_order("b1", BID, 4800, 1000, status=OrderStatus.PENDING_NEW)],
        Quote.empty(T),
        EXACT,
        [],
    ),
    (
        "duplicate orders at one level",
        [_order("b1", BID, 4800, 1000, created_ns=1), _order("b2", BID, 4800, 1000, created_ns=2)],
        _quote([(4800, 1000)]),
        EXACT,
        ["cancel"],
    ),
]


@pytest.mark.parametrize(
    ("working", "quote", "policy", "expected"), [row[1:] for row in TABLE], ids=[r[0] for r in TABLE]
)
def test_reconcile_when_common_case_then_minimal_actions(
    working: list[WorkingOrder], quote: Quote, policy: ReconcilePolicy, expected: list[str]
) -> None:
    assert _kinds(reconcile(quote, working, policy, _ids())) == expected


def test_reconcile_when_size_down_then_decrease_keeps_price_and_id() -> None:
    actions = reconcile(_quote([(4800, 400)], [(5200, 1000)]), TWO_SIDED, EXACT, _ids())
    assert actions == [DecreaseOrder(client_order_id="b1", ticker=T, size=400)]


def test_reconcile_when_level_moved_then_amend_has_new_id_price_and_size() -> None:
    actions = reconcile(_quote([(4700, 800)], [(5200, 1000)]), TWO_SIDED, EXACT, _ids())
    assert actions == [
        AmendOrder(client_order_id="b1", new_client_order_id="n1", ticker=T, side=BID, price=4700, size=800)
    ]


def test_reconcile_when_fresh_quote_then_creates_best_first() -> None:
    actions = reconcile(_quote([(4700, 1), (4800, 2)], [(5300, 3), (5200, 4)]), [], EXACT, _ids())
    assert [(a.side, a.price, a.size) for a in actions if isinstance(a, CreateOrder)] == [
        (BID, 4800, 2),
        (BID, 4700, 1),
        (ASK, 5200, 4),
        (ASK, 5300, 3),
    ]


def test_reconcile_when_mixed_changes_then_cancels_before_amends_before_creates() -> None:
    working = [_order("b1", BID, 4800, 100), _order("b2", BID, 4700, 100), _order("a1", ASK, 5200, 100)]
    quote = _quote([(4850, 100), (4600, 100), (4500, 100)], [])
    kinds = _kinds(reconcile(quote, working, EXACT, _ids()))
    assert kinds == ["cancel", "amend", "amend", "create"]


def test_reconcile_when_quote_shifts_up_then_retreating_ask_amended_before_advancing_bid() -> None:
    actions = reconcile(_quote([(5100, 100)], [(5300, 100)]), TWO_SIDED, EXACT, _ids())
    assert [(a.client_order_id, a.type) for a in actions] == [
        ("a1", ActionType.AMEND),
        ("b1", ActionType.AMEND),
    ]


def test_reconcile_when_amend_in_flight_then_its_target_level_is_occupied() -> None:
    moving = _order("b1", BID, 4800, 1000, pending_change=True, pending_price=4700, pending_size=1000)
    assert reconcile(_quote([(4700, 1000)]), [moving], EXACT, _ids()) == []


def test_reconcile_when_pending_cancel_at_level_then_no_new_order_there_yet() -> None:
    leaving = _order("b1", BID, 4800, 1000, status=OrderStatus.PENDING_CANCEL)
    assert reconcile(_quote([(4800, 1000), (4700, 100)]), [leaving], EXACT, _ids()) == [
        CreateOrder(client_order_id="n1", ticker=T, side=BID, price=4700, size=100)
    ]


def test_reconcile_when_finished_orders_passed_then_ignored() -> None:
    done = _order("b1", BID, 4800, 0, status=OrderStatus.CANCELED)
    assert _kinds(reconcile(_quote([(4800, 1000)]), [done], EXACT, _ids())) == ["create"]


def test_reconcile_when_tolerance_sweep_then_maximum_keeps() -> None:
    # Orders at 10, 12 and levels 11, 13 with tolerance 1: both kept (a nearest-first greedy keeps one).
    working = [_order("b1", BID, 1000, 100), _order("b2", BID, 1200, 100)]
    quote = _quote([(1300, 100), (1100, 100)])
    assert reconcile(quote, working, ReconcilePolicy(price_tolerance=100), _ids()) == []


# --- property: applying the actions yields the quote -------------------------------------------

_PRICES = st.integers(1, 30).map(lambda p: p * 100)


@st.composite
def _working(draw: st.DrawFn) -> list[WorkingOrder]:
    orders = []
    used: set[tuple[BookSide, int]] = set()
    for n in range(draw(st.integers(0, 8))):
        side = draw(st.sampled_from([BID, ASK]))
        price = draw(_PRICES)
        busy = draw(st.sampled_from(["free", "free", "free", "pending_new", "pending_cancel", "amending"]))
        target = draw(_PRICES) if busy == "amending" else None
        levels = {(side, price)} | ({(side, target)} if target is not None else set())
        if levels & used:
            continue
        used |= levels
        status = {"pending_new": OrderStatus.PENDING_NEW, "pending_cancel": OrderStatus.PENDING_CANCEL}.get(
            busy, draw(st.sampled_from([OrderStatus.RESTING, OrderStatus.PARTIALLY_FILLED]))
        )
        orders.append(
            _order(
                f"w{n}",
                side,
                price,
                draw(st.integers(1, 50)) * 10,
                status=status,
                pending_change=busy == "amending",
                pending_price=target,
                created_ns=n,
            )
        )
    return orders


_levels = st.lists(
    st.tuples(_PRICES, st.integers(1, 50).map(lambda s: s * 10)), max_size=5, unique_by=lambda x: x[0]
)
_quotes = st.builds(_quote, _levels, _levels)
_policies = st.builds(
    ReconcilePolicy,
    price_tolerance=st.sampled_from([0, 0, 100, 200]),
    size_tolerance=st.sampled_from([0, 0, 20]),
    allow_amend=st.booleans(),
    allow_decrease=st.booleans(),
)


def _simulate(
    working: list[WorkingOrder], actions: list[OrderAction]
) -> dict[str, tuple[BookSide, int, int]]:
    book = {o.client_order_id: (o.side, o.price, o.remaining) for o in working}
    for action in actions:
        if isinstance(action, CancelOrder):
            del book[action.client_order_id]
        elif isinstance(action, AmendOrder):
            side, _, _ = book.pop(action.client_order_id)
            assert side is action.side
            book[action.new_client_order_id] = (side, action.price, action.size)
        elif isinstance(action, DecreaseOrder):
            side, price, remaining = book[action.client_order_id]
            assert action.size < remaining
            book[action.client_order_id] = (side, price, action.size)
        else:
            assert action.client_order_id not in book
            book[action.client_order_id] = (action.side, action.price, action.size)
    return book


@settings(max_examples=400, deadline=None)
@given(_working(), _quotes, _policies)
def test_reconcile_when_actions_applied_then_quote_reached_and_one_order_per_level(
    working: list[WorkingOrder], quote: Quote, policy: ReconcilePolicy
) -> None:
    actions = reconcile(quote, working, policy, _ids())
    kinds = _kinds(actions)
    rank = {"cancel": 0, "amend": 1, "decrease": 1, "create": 2}
    assert kinds == sorted(kinds, key=rank.__getitem__)
    busy = {o.client_order_id: o for o in working if o.pending_change or o.status.is_pending}
    assert not {a.client_order_id for a in actions} & busy.keys()

    after = _simulate(working, actions)
    levels = [(side, price) for side, price, _ in after.values()]
    assert len(levels) == len(set(levels)), "two live orders at one level"
    for order in busy.values():
        if order.pending_price is not None:
            others = [(sd, p) for cid, (sd, p, _) in after.items() if cid != order.client_order_id]
            assert (order.side, order.pending_price) not in others, "order placed on an amend's target"

    blocked = {(o.side, p) for o in busy.values() for p in (o.price, o.pending_price) if p is not None}
    free_after = {cid: v for cid, v in after.items() if cid not in busy}
    for side in (BID, ASK):
        wanted = {lvl.price: lvl.size for lvl in quote.side(side) if (side, lvl.price) not in blocked}
        mine = sorted((p, s) for sd, p, s in free_after.values() if sd is side)
        # a busy order (not being cancelled) holds one of the side's slots until it settles
        holding = sum(1 for o in busy.values() if o.side is side and o.status is not OrderStatus.PENDING_CANCEL)
        if policy.allow_amend:
            # every free order serves a wanted level within tolerance; a wanted level goes unserved
            # only while a busy order holds its slot, and nothing else rests
            assert len(mine) <= len(wanted)
            served = 0
            for price, size in wanted.items():
                near = [
                    (p, s)
                    for p, s in mine
                    if abs(p - price) <= policy.price_tolerance and abs(s - size) <= policy.size_tolerance
                ]
                served += bool(near)
            assert len(wanted) - served <= holding, "a level left unserved with no busy order to serve it"
            for p, _ in mine:
                assert any(abs(p - w) <= policy.price_tolerance for w in wanted)
        else:
            # without amends a same-level resize waits for its cancel: never more than wanted
            assert len(mine) <= len(wanted)
            for p, _ in mine:
                assert any(abs(p - w) <= policy.price_tolerance for w in wanted)


@settings(max_examples=200, deadline=None)
@given(_working(), _quotes)
def test_reconcile_when_applied_twice_then_second_round_is_empty(
    working: list[WorkingOrder], quote: Quote
) -> None:
    policy = ReconcilePolicy()
    actions = reconcile(quote, working, policy, _ids())
    after = _simulate(working, actions)
    busy = {o.client_order_id: o for o in working if o.pending_change or o.status.is_pending}
    settled = [
        busy[cid] if cid in busy else _order(cid, side, price, size)
        for cid, (side, price, size) in after.items()
    ]
    assert reconcile(quote, settled, policy, _ids()) == []


@settings(max_examples=200, deadline=None)
@given(_working(), _quotes)
def test_reconcile_when_compared_to_cancel_and_replace_then_never_more_actions(
    working: list[WorkingOrder], quote: Quote
) -> None:
    free = [o for o in working if not (o.pending_change or o.status.is_pending)]
    naive = len(free) + len(quote.bids) + len(quote.asks)
    assert len(reconcile(quote, working, ReconcilePolicy(), _ids())) <= naive
