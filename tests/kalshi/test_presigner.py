"""`PreSigner`: one-use pre-made signatures for fixed and per-order paths, signed off the event loop.

Schedules are tested with a `TestClock` and `refill()` called directly (exact); the signing thread with
the real clock, waiting on `wait_signed` (never on time); the REST path against the real simulator.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mmframe_kalshi.auth import HEADER_SIGNATURE, HEADER_TIMESTAMP, PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials
from mmframe_kalshi.errors import WriteRefused
from mmframe_kalshi.rest import (
    ORDERS_V2_BATCH,
    CreateOrderRequest,
    KalshiRestClient,
    amend_path,
    decrease_path,
)
from mmframe_kalshi.session import KalshiSession
from mmframe_kalshi.venue import KALSHI_SCHEMA, KalshiVenue

from mmframe.api import BookSide, Clock, ComponentContext, Kind, LiveClock, TestClock
from mmframe.plugins import load_registry
from tests.kalshi.conftest import pem_of

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
BATCH = "/trade-api/v2/portfolio/events/orders/batched"
START_NS = 1_700_000_000_000 * 1_000_000  # a whole millisecond


def _amend(order_id: str) -> str:
    return "/trade-api/v2" + amend_path(order_id)


def _presigner(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, clock: Clock, **kw: int) -> PreSigner:
    return PreSigner(RequestSigner(KalshiCredentials(KEY_ID, key), clock), clock, **kw)


def _verify(key: rsa.RSAPrivateKey, headers: dict[str, str], method: str, path: str) -> None:
    message = f"{headers[HEADER_TIMESTAMP]}{method}{path}".encode()
    key.public_key().verify(base64.b64decode(headers[HEADER_SIGNATURE]), message, PSS, hashes.SHA256())


# --- schedule and expiry (TestClock, synchronous) ---------------------------------------------------


def test_presigner_when_fixed_path_exactly_max_age_old_hands_it_out(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000)
    presigner.register("POST", BATCH)
    presigner.refill()

    clock.advance(ns=2_000 * 1_000_000)

    headers = presigner.take("POST", BATCH)
    assert headers is not None and int(headers[HEADER_TIMESTAMP]) == START_NS // 1_000_000


def test_presigner_when_fixed_path_one_ms_past_max_age_refuses_it(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000)
    presigner.register("POST", BATCH)
    presigner.refill()

    clock.advance(ns=2_001 * 1_000_000)

    assert presigner.take("POST", BATCH) is None
    assert (presigner.hits, presigner.misses) == (0, 1)


def test_presigner_when_per_order_path_uses_order_max_age(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000, order_max_age_ms=10_000)
    presigner.register("POST", _amend("a"), per_order=True)
    presigner.register("POST", _amend("b"), per_order=True)
    presigner.refill()

    clock.advance(ns=10_000 * 1_000_000)
    assert presigner.take("POST", _amend("a")) is not None
    clock.advance(ns=1_000_000)
    assert presigner.take("POST", _amend("b")) is None


def test_presigner_when_three_quarters_of_max_age_passed_re_signs(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000)
    presigner.register("POST", BATCH)
    assert presigner.refill() == 1

    clock.advance(ns=1_499 * 1_000_000)
    assert presigner.refill() == 0
    clock.advance(ns=1_000_000)
    assert presigner.refill() == 1

    headers = presigner.take("POST", BATCH)
    assert headers is not None and int(headers[HEADER_TIMESTAMP]) == START_NS // 1_000_000 + 1_500


def test_presigner_when_order_path_three_quarters_old_re_signs(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, order_max_age_ms=10_000)
    presigner.register("POST", _amend("a"), per_order=True)
    assert presigner.refill() == 1

    clock.advance(ns=7_499 * 1_000_000)
    assert presigner.refill() == 0
    clock.advance(ns=1_000_000)
    assert presigner.refill() == 1


def test_presigner_when_taken_signs_replacement_at_once(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock)
    presigner.register("DELETE", BATCH)
    presigner.refill()
    first = presigner.take("DELETE", BATCH)

    assert presigner.take("DELETE", BATCH) is None  # one use: nothing until the replacement
    assert presigner.refill() == 1
    second = presigner.take("DELETE", BATCH)

    assert first is not None and second is not None and first is not second
    assert (presigner.hits, presigner.misses) == (2, 1)


def test_presigner_when_path_never_registered_takes_nothing_and_counts_no_miss(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    presigner = _presigner(ed25519_key, TestClock())
    assert presigner.take("GET", "/trade-api/v2/portfolio/balance") is None
    assert presigner.misses == 0 and presigner.refill() == 0


def test_presigner_when_order_forgotten_drops_its_signature_and_stops_signing(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock)
    presigner.register("POST", _amend("gone"), per_order=True)
    presigner.refill()

    presigner.forget("post", _amend("gone"))
    clock.advance(60)

    assert presigner.take("POST", _amend("gone")) is None
    assert presigner.refill() == 0
    assert presigner.misses == 0
    assert presigner.describe()["kept"] == 0 and presigner.describe()["ready"] == 0


def test_presigner_when_order_registered_again_after_forget_signs_again(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    presigner = _presigner(ed25519_key, TestClock(start_ns=START_NS))
    presigner.register("POST", _amend("x"), per_order=True)
    presigner.forget("POST", _amend("x"))
    assert presigner.register("POST", _amend("x"), per_order=True) is True
    assert presigner.refill() == 1
    assert presigner.take("POST", _amend("x")) is not None


def test_presigner_when_over_order_cap_waits_then_takes_freed_place(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, TestClock(start_ns=START_NS), max_order_paths=2)
    presigner.register("POST", BATCH)  # fixed paths do not count against the cap
    assert presigner.register("POST", _amend("a"), per_order=True)
    assert presigner.register("POST", _amend("b"), per_order=True)
    assert not presigner.register("POST", _amend("c"), per_order=True)
    assert presigner.refill() == 3

    assert presigner.take("POST", _amend("c")) is None  # signs inline
    assert presigner.over_cap == 1 and presigner.misses == 0

    presigner.forget("POST", _amend("a"))
    assert presigner.refill() == 1
    assert presigner.take("POST", _amend("c")) is not None


def test_presigner_when_waiting_path_forgotten_is_never_signed(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, TestClock(start_ns=START_NS), max_order_paths=1)
    presigner.register("POST", _amend("a"), per_order=True)
    presigner.register("POST", _amend("b"), per_order=True)
    presigner.forget("POST", _amend("b"))
    presigner.forget("POST", _amend("a"))
    assert presigner.refill() == 0
    assert presigner.describe()["waiting"] == 0


def test_presigner_when_cap_is_zero_keeps_only_fixed_paths(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, TestClock(start_ns=START_NS), max_order_paths=0)
    presigner.register("POST", BATCH)
    assert not presigner.register("POST", _amend("a"), per_order=True)
    assert presigner.refill() == 1


def test_presigner_refill_when_limited_signs_new_paths_before_refreshes(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000)
    presigner.register("POST", BATCH)
    presigner.refill()
    clock.advance(1.5)  # the batch path is due for a refresh
    presigner.register("POST", _amend("new"), per_order=True)

    assert presigner.refill(limit=1) == 1

    assert presigner.take("POST", _amend("new")) is not None


@dataclass
class _Op:
    kind: str
    order: int


_OPS = st.lists(
    st.builds(_Op, st.sampled_from(["register", "forget", "take", "refill", "advance"]), st.integers(0, 3)),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops=_OPS)
def test_presigner_when_any_sequence_of_calls_no_signature_is_handed_out_twice_or_stale(
    ops: list[_Op], ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, max_age_ms=2_000, order_max_age_ms=3_000, max_order_paths=2)
    handed_out: list[dict[str, str]] = []
    for op in ops:
        path = _amend(str(op.order))
        if op.kind == "register":
            presigner.register("POST", path, per_order=True)
        elif op.kind == "forget":
            presigner.forget("POST", path)
        elif op.kind == "refill":
            presigner.refill()
        elif op.kind == "advance":
            clock.advance(ns=(op.order + 1) * 700 * 1_000_000)
        else:
            headers = presigner.take("POST", path)
            if headers is not None:
                assert all(headers is not earlier for earlier in handed_out)
                handed_out.append(headers)
                assert clock.now_ns() // 1_000_000 - int(headers[HEADER_TIMESTAMP]) <= 3_000
    assert presigner.describe()["kept"] <= 2


# --- adaptive max age -------------------------------------------------------------------------------


def test_presigner_when_venue_refuses_timestamp_halves_max_age_and_warns_once(
    ed25519_key: ed25519.Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, order_max_age_ms=8_000, min_age_ms=1_000)
    path = _amend("a")
    presigner.register("POST", path, per_order=True)
    presigner.refill()
    taken = presigner.take("POST", path)
    assert taken is not None
    stale = int(taken[HEADER_TIMESTAMP])

    with caplog.at_level(logging.INFO, logger="mmframe_kalshi.auth"):
        presigner.note_expired("POST", path, stale)
        presigner.note_expired("POST", path, stale)  # same burst: signed before the halving
        clock.advance(1)
        for _ in range(3):
            presigner.note_expired("POST", path, clock.now_ns() // 1_000_000)

    assert presigner.order_max_age_ms == 1_000  # 8 s -> 4 -> 2 -> 1 (floor) -> 1
    assert presigner.max_age_ms == 2_000  # fixed paths untouched
    assert presigner.halvings == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "presign_order_max_age_ms" in warnings[0].getMessage()


def test_presigner_when_max_age_halved_refreshes_earlier(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock, order_max_age_ms=8_000)
    presigner.register("POST", _amend("a"), per_order=True)
    presigner.register("POST", _amend("b"), per_order=True)
    presigner.refill()
    presigner.note_expired("POST", _amend("b"), clock.now_ns() // 1_000_000)

    clock.advance(3)  # 3/4 of the new 4 s, long before 3/4 of the old 8 s
    assert presigner.refill() == 2
    clock.advance(1.001)
    assert presigner.take("POST", _amend("a")) is not None


def test_presigner_when_expired_path_was_forgotten_changes_nothing(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, TestClock(start_ns=START_NS))
    presigner.note_expired("POST", _amend("closed"), 0)
    assert presigner.order_max_age_ms == 10_000 and presigner.halvings == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_age_ms": 0}, "max_age_ms must be a positive"),
        ({"order_max_age_ms": -5}, "order_max_age_ms must be a positive"),
        ({"max_order_paths": -1}, "max_order_paths must be a whole number"),
        ({"min_age_ms": 3_000}, r"min_age_ms \(3000\) exceeds a max age"),
    ],
)
def test_presigner_when_settings_invalid_raises_clear_error(
    kwargs: dict[str, int], message: str, ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    with pytest.raises(ValueError, match=message):
        _presigner(ed25519_key, TestClock(), **kwargs)


# --- the signing thread -----------------------------------------------------------------------------


def test_presigner_thread_when_path_registered_signs_in_background(rsa_key: rsa.RSAPrivateKey) -> None:
    presigner = _presigner(rsa_key, LiveClock())
    presigner.start()
    try:
        presigner.register("POST", _amend("ord-1"), per_order=True)
        assert presigner.wait_signed(1, timeout_s=10)
        headers = presigner.take("POST", _amend("ord-1"))
        assert headers is not None
        _verify(rsa_key, headers, "POST", _amend("ord-1"))
        assert presigner.wait_signed(2, timeout_s=10)  # the replacement, also in the background
        assert presigner.take("POST", _amend("ord-1")) is not None
    finally:
        presigner.stop()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_presigner_thread_when_started_runs_only_when_the_cpu_is_otherwise_idle(
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    presigner = _presigner(ed25519_key, LiveClock())
    presigner.start()
    try:
        presigner.register("POST", BATCH)
        assert presigner.wait_signed(1, timeout_s=10)  # the thread is past its set-up
        thread = next(t for t in threading.enumerate() if t.name == "kalshi-presigner")
        assert thread.native_id is not None
        assert presigner.describe()["thread_priority"] == "SCHED_IDLE"
        assert os.sched_getscheduler(thread.native_id) == os.SCHED_IDLE
        assert os.sched_getscheduler(threading.get_native_id()) != os.SCHED_IDLE  # this thread untouched
    finally:
        presigner.stop()


def test_presigner_thread_when_running_refill_from_elsewhere_is_refused(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, LiveClock())
    presigner.start()
    try:
        with pytest.raises(RuntimeError, match="signing thread"):
            presigner.refill()
    finally:
        presigner.stop()


def test_presigner_thread_when_stopped_is_joined(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, LiveClock())
    presigner.start()
    presigner.start()  # idempotent
    threads = [t for t in threading.enumerate() if t.name == "kalshi-presigner"]
    assert presigner.running and threads

    presigner.stop()

    assert not presigner.running
    assert not any(t.is_alive() for t in threads)
    presigner.stop()  # idempotent
    presigner.register("POST", BATCH)
    assert presigner.refill() == 1  # synchronous again


def test_presigner_thread_when_many_orders_registered_signs_all(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    presigner = _presigner(ed25519_key, LiveClock(), max_order_paths=100)
    presigner.start()
    try:
        for n in range(60):
            presigner.register("POST", _amend(f"o{n}"), per_order=True)
        assert presigner.wait_signed(60, timeout_s=10)
        assert all(presigner.take("POST", _amend(f"o{n}")) is not None for n in range(60))
    finally:
        presigner.stop()


# --- against the simulator over loopback -------------------------------------------------------------

start_simulator = pytest.importorskip("mmframe_sim.serve").start_simulator
RAIN = "SIM-RAIN-NYC"


@dataclass
class _Venue:
    client: KalshiRestClient
    presigner: PreSigner
    clock: Clock


@pytest.fixture
async def sim_venue(request: pytest.FixtureRequest) -> AsyncIterator[_Venue]:
    """A REST client with a synchronous pre-signer, against a simulator that checks timestamps against
    the same (test) clock."""
    clock: Clock = getattr(request, "param", None) or LiveClock()
    async with start_simulator(seed=7, wall_clock=clock) as sim:
        key_id, pem = sim.create_api_key()
        signer = RequestSigner(KalshiCredentials.from_pem(key_id, pem), clock)
        presigner = PreSigner(signer, clock, order_max_age_ms=60_000)
        async with KalshiRestClient(sim.rest_url, signer, clock, presigner=presigner) as client:
            yield _Venue(client, presigner, clock)


async def _rest_bid(client: KalshiRestClient, cid: str) -> str:
    request = CreateOrderRequest(ticker=RAIN, side=BookSide.BID, price=300, count=500, client_order_id=cid)
    (placed,) = await client.batch_create_orders([request])
    assert placed.error is None
    return placed.order_id


@pytest.mark.anyio
async def test_presigned_amend_when_sent_to_simulator_verifies(sim_venue: _Venue) -> None:
    client, presigner = sim_venue.client, sim_venue.presigner
    order_id = await _rest_bid(client, "ps-1")
    client.presign_order(order_id)
    assert presigner.refill() == 1  # the amend path (decreases are rare: they sign inline)

    amended = await client.amend_order(order_id, ticker=RAIN, side=BookSide.BID, price=400, total_count=500)
    client.presigner.register("POST", client.full_path(decrease_path(amended.order_id)), per_order=True)
    presigner.refill()
    decreased = await client.decrease_order(amended.order_id, reduce_to=300, ticker=RAIN)

    assert amended.order_id and decreased.remaining == 300
    assert (presigner.hits, presigner.misses) == (2, 0)


@pytest.mark.anyio
@pytest.mark.parametrize("sim_venue", [TestClock(start_ns=START_NS)], indirect=True)
async def test_presigned_amend_when_simulator_finds_it_expired_resigns_inline_and_succeeds(
    sim_venue: _Venue, caplog: pytest.LogCaptureFixture
) -> None:
    client, presigner, clock = sim_venue.client, sim_venue.presigner, sim_venue.clock
    assert isinstance(clock, TestClock)
    order_id = await _rest_bid(client, "ps-exp")
    client.presign_order(order_id)
    presigner.refill()
    clock.advance(31)  # past the simulator's 30 s window, within our (too generous) 60 s max age

    with caplog.at_level(logging.WARNING, logger="mmframe_kalshi.auth"):
        amended = await client.amend_order(order_id, ticker=RAIN, side=BookSide.BID, price=400, total_count=500)

    assert amended.order_id
    assert presigner.hits == 1  # taken, refused by the venue, then signed inline
    assert presigner.order_max_age_ms == 30_000
    assert "expired" in caplog.text


def _yes_then_no(asked: list[str]) -> Callable[[str], bool]:
    """A write guard that lets a request go once, and refuses it when asked again."""

    def guard(cid: str) -> bool:
        asked.append(cid)
        return len(asked) == 1

    return guard


@pytest.mark.anyio
@pytest.mark.parametrize("sim_venue", [TestClock(start_ns=START_NS)], indirect=True)
async def test_presigned_amend_when_found_expired_asks_its_guard_again_before_resending(sim_venue: _Venue) -> None:
    client, presigner, clock = sim_venue.client, sim_venue.presigner, sim_venue.clock
    assert isinstance(clock, TestClock)
    order_id = await _rest_bid(client, "ps-gate")
    client.presign_order(order_id)
    presigner.refill()
    clock.advance(31)  # the pre-made signature is refused as expired: the amend would be sent again
    asked: list[str] = []

    with pytest.raises(WriteRefused):  # ... but the gate closed meanwhile
        await client.amend_order(order_id, ticker=RAIN, side=BookSide.BID, price=400, total_count=500,
                                 client_order_id="ps-gate", guard=_yes_then_no(asked))

    assert asked == ["ps-gate", "ps-gate"]
    assert (await client.get_order(order_id)).price == 300


@pytest.mark.anyio
@pytest.mark.parametrize("sim_venue", [TestClock(start_ns=START_NS)], indirect=True)
async def test_presigned_create_when_found_expired_asks_its_guard_again_before_resending(sim_venue: _Venue) -> None:
    client, presigner, clock = sim_venue.client, sim_venue.presigner, sim_venue.clock
    assert isinstance(clock, TestClock)
    # Kept under the (long) per-order max age, so it is still used when the simulator refuses it.
    presigner.register("POST", client.full_path(ORDERS_V2_BATCH), per_order=True)
    presigner.refill()
    clock.advance(31)
    asked: list[str] = []
    request = CreateOrderRequest(ticker=RAIN, side=BookSide.BID, price=300, count=500, client_order_id="ps-new")

    (placed,) = await client.batch_create_orders([request], guard=_yes_then_no(asked))

    assert isinstance(placed.error, WriteRefused)
    assert asked == ["ps-new", "ps-new"]
    assert "ps-new" not in {o.client_order_id for o in await client.all_orders()}


@pytest.mark.anyio
async def test_presign_order_when_order_closed_forgets_its_paths(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    clock = TestClock(start_ns=START_NS)
    presigner = _presigner(ed25519_key, clock)
    signer = RequestSigner(KalshiCredentials(KEY_ID, ed25519_key), clock)
    async with KalshiRestClient("http://127.0.0.1:9/trade-api/v2", signer, clock, presigner=presigner) as client:
        client.presign_order("ord-9")
        assert presigner.refill() == 1
        assert presigner.take("POST", "/trade-api/v2" + amend_path("ord-9")) is not None
        assert presigner.take("POST", "/trade-api/v2" + decrease_path("ord-9")) is None  # signs inline
        client.forget_order("ord-9")
    assert presigner.describe()["kept"] == 0 and presigner.describe()["ready"] == 0


@pytest.mark.anyio
async def test_session_when_open_signs_batch_paths_in_thread_and_close_stops_it(rsa_key: rsa.RSAPrivateKey) -> None:
    async with start_simulator(seed=7) as sim:
        key_id, pem = sim.create_api_key()
        session = KalshiSession(sim.rest_url, sim.ws_url, KalshiCredentials.from_pem(key_id, pem), LiveClock(),
                                presign_order_max_age_ms=5_000, presign_order_paths=10)
        await session.open()
        try:
            presigner = session.presigner
            assert presigner is not None and presigner.running
            assert await asyncio.to_thread(presigner.wait_signed, 2, 10)  # POST and DELETE batch
            order_id = await _rest_bid(session.rest, "sess-1")
            session.rest.presign_order(order_id)
            amend = session.rest.full_path(amend_path(order_id))
            assert await asyncio.to_thread(presigner.wait_ready, "POST", amend, 10)
            await session.rest.amend_order(order_id, ticker=RAIN, side=BookSide.BID, price=400, total_count=500)
            assert presigner.hits == 2  # the batch create and the amend
            assert session.describe()["presign"]["order_max_age_ms"] == 5_000
        finally:
            await session.close()
        assert not presigner.running


# --- venue config -----------------------------------------------------------------------------------


def test_venue_when_presign_keys_configured_session_uses_them(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem_of(rsa_key))
    key_file.chmod(0o600)
    config = {"key_id": KEY_ID, "private_key_path": str(key_file), "presign_max_age_ms": 1_500,
              "presign_order_max_age_ms": 20_000, "presign_order_paths": 12}
    ctx = ComponentContext(pipeline="p", markets=("T-1",), clock=LiveClock(), logger=logging.getLogger("t"))
    Draft202012Validator(KALSHI_SCHEMA).validate(config)

    presigner = KalshiVenue("kalshi-demo", config, ctx).new_session().presigner

    assert presigner is not None
    assert (presigner.max_age_ms, presigner.order_max_age_ms, presigner.max_order_paths) == (1_500, 20_000, 12)


def test_venue_schema_when_order_max_age_below_floor_rejects_it() -> None:
    sim_schema = load_registry().get(Kind.VENUE, "sim").config_schema  # the Kalshi venue's keys under sim too
    errors = list(Draft202012Validator(sim_schema).iter_errors({"presign_order_max_age_ms": 100}))
    assert errors and "250" in errors[0].message
