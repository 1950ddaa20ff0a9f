"""`KeyWatch`: consecutive refusals of our key, reset by any accepted request."""

from __future__ import annotations

import asyncio

import pytest
from mmframe_kalshi.keywatch import KEY_ADVICE, KeyRejectedError, KeyWatch


def test_keywatch_when_refused_fewer_times_than_the_threshold_does_not_reject() -> None:
    watch = KeyWatch("abcd1234…", threshold=3)
    watch.refused("GET /portfolio/balance", "NOT_FOUND")
    watch.refused("WebSocket handshake", "NOT_FOUND")
    assert watch.rejected is None and watch.refusals == 2


def test_keywatch_when_a_request_is_accepted_between_refusals_starts_counting_again() -> None:
    watch = KeyWatch("k", threshold=3)
    for _ in range(2):
        watch.refused("GET /markets", "x")
    watch.accepted()
    for _ in range(2):
        watch.refused("GET /markets", "x")
    assert watch.rejected is None


def test_keywatch_when_refused_threshold_times_in_a_row_rejects_naming_key_and_last_refusal() -> None:
    watch = KeyWatch("abcd1234…", threshold=3)
    for where in ("GET /a", "POST /b", "WebSocket handshake"):
        watch.refused(where, "  NOT_FOUND \n")
    assert isinstance(watch.rejected, KeyRejectedError)
    text = str(watch.rejected)
    assert text.startswith("the venue rejects our key abcd1234…: 3 requests in a row refused")
    assert "(last: WebSocket handshake: NOT_FOUND)" in text
    assert watch.rejected.advice == KEY_ADVICE


def test_keywatch_once_rejected_stays_rejected_whatever_follows() -> None:
    watch = KeyWatch("k", threshold=1)
    watch.refused("GET /a", "x")
    first = watch.rejected
    watch.accepted()
    watch.refused("GET /b", "y")
    assert watch.rejected is first


@pytest.mark.anyio
async def test_keywatch_wait_when_rejected_later_returns_the_error() -> None:
    watch = KeyWatch("k", threshold=2)
    waiter = asyncio.ensure_future(watch.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    watch.refused("GET /a", "x")
    watch.refused("GET /a", "x")
    assert await asyncio.wait_for(waiter, 1) is watch.rejected
    assert await watch.wait() is watch.rejected  # and at once afterwards
