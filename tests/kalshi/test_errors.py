"""Error bodies of all four wire shapes map to typed exceptions carrying Kalshi's words."""

from __future__ import annotations

import pytest
from mmframe_kalshi.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientBalance,
    InvalidOrder,
    NotFoundError,
    OrderAlreadyExists,
    RateLimitedError,
    ServerError,
    error_from_response,
    parse_error_body,
)

from tests.kalshi.samples import sample


def test_error_when_nested_insufficient_balance_maps_to_type_with_code() -> None:
    error = error_from_response(400, sample("error_400")[0])
    assert isinstance(error, InsufficientBalance)
    assert (error.code, error.message, error.service, error.status) == (
        "insufficient_balance",
        "insufficient balance",
        "exchange",
        400,
    )


def test_error_when_nested_with_details_keeps_details() -> None:
    error = error_from_response(400, sample("error_400")[2])
    assert isinstance(error, InvalidOrder)
    assert error.details == "post only cross"
    assert "post only cross" in str(error)


def test_error_when_flat_body_reads_code_message_details() -> None:
    error = error_from_response(400, sample("error_400")[3])
    assert type(error) is BadRequestError
    assert error.code == "bad_request"
    assert error.details.startswith("json: cannot unmarshal number")


def test_error_when_msg_body_reads_message() -> None:
    error = error_from_response(400, sample("error_400")[4])
    assert type(error) is BadRequestError
    assert error.message.startswith("Parameter validation failed for GetMarkets")


def test_error_when_429_string_body_is_rate_limited() -> None:
    error = error_from_response(429, sample("error_429")[0])
    assert isinstance(error, RateLimitedError)
    assert error.message == "too many requests"
    # Named, so a create or amend refused by a 429 reads as a rate limit in OrderRejected.code (the
    # reject guard does not count it, the 429 metric does).
    assert error.code == "too_many_requests"


@pytest.mark.parametrize("index", range(4))
def test_error_when_401_samples_are_authentication_errors(index: int) -> None:
    error = error_from_response(401, sample("error_401")[index])
    assert isinstance(error, AuthenticationError)
    assert error.code


def test_error_when_409_duplicate_is_order_already_exists() -> None:
    assert isinstance(error_from_response(409, sample("error_409")[0]), OrderAlreadyExists)


@pytest.mark.parametrize("index", range(2))
def test_error_when_404_nested_or_flat_is_not_found(index: int) -> None:
    body = {k: v for k, v in sample("error_404")[index].items() if k != "_constructed"}
    error = error_from_response(404, body)
    assert isinstance(error, NotFoundError)
    assert error.code in {"market_not_found", "not_found"}


def test_error_when_body_is_not_json_uses_its_text() -> None:
    error = error_from_response(502, b"<html>bad gateway</html>")
    assert isinstance(error, ServerError)
    assert "bad gateway" in error.message


def test_error_when_batch_item_has_no_status_maps_by_code() -> None:
    assert isinstance(
        error_from_response(None, {"error": {"code": "order_already_exists"}}), OrderAlreadyExists
    )
    assert parse_error_body(b"") == ("", "", "", "")
