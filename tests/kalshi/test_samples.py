"""Every Kalshi sample parses with the client's own parser, and so do 6-decimal variants of every
dollar field in it.

The samples are the shared ones (``samples/rest/*.json`` and any ``samples/ws/*.json``: arrays of
frames) plus ``data/ws_frames.json`` (WebSocket frames written to the shapes of API.md §6, since the
shared directory holds no WebSocket capture). A shared file with no parser mapping fails the test.

For each dollar string in a sample (``*_dollars``, ``*_dollars_fp`` ladders, ``fee_cost``,
``average_*``, ``price``, tick-grid bounds...) three variants are parsed:

* padded to 6 decimals (``"0.5200"`` -> ``"0.520000"``): the result must not change;
* one tick more (+0.0001): tells whether the parser reads the field at all;
* 0.000012 more: a field the parser does not read changes nothing; an *amount* it reads is carried
  exactly (one integer in the result moves by 12 micros) or, where the core keeps only a price,
  rounded up; a *grid price* it reads is refused as malformed (no tick grid has a 6th decimal).

The kind of each field (amount or grid price) is declared here from API.md, not taken from the code.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from mmframe_kalshi import parsing
from mmframe_kalshi.errors import MalformedMessageError, VenueError, error_from_response
from mmframe_kalshi.models import (
    Fill,
    Market,
    MarketPosition,
    Order,
    OrderAmendedResult,
    Orderbook,
    OrderCanceledResult,
    OrderDecreasedResult,
    OrderPlaced,
    items_of,
    req,
    strip_sample_marker,
)
from mmframe_kalshi.rest import (
    CreateOrderRequest,
    _amend_body,
    _batch_items,
    _cancel_items,
    _cancel_results,
    _create_results,
    _decrease_body,
)

from mmframe.api import BookSide, FixedPointError, MarketInfo, TickGrid, parse_count, parse_price
from tests.kalshi.samples import samples_dir

LOCAL_WS = Path(__file__).parent / "data" / "ws_frames.json"

# --- what each dollar field is (API.md §3-§6) ----------------------------------------------------

AMOUNT_KEYS = frozenset(
    {
        "fee_cost",
        "average_fee_paid",
        "average_fill_price",
        "taker_fees_dollars",
        "maker_fees_dollars",
        "taker_fill_cost_dollars",
        "maker_fill_cost_dollars",
        "market_exposure_dollars",
        "event_exposure_dollars",
        "realized_pnl_dollars",
        "fees_paid_dollars",
        "total_traded_dollars",
        "total_cost_dollars",
        "position_cost_dollars",
        "position_fee_cost_dollars",
        "balance_dollars",
        "balance",
        "liquidity_dollars",
        "notional_value_dollars",
        "settlement_value_dollars",
    }
)
"""Amounts: up to 6 decimals on the wire, kept exactly."""

ROUNDED_UP = frozenset({("ws:fill", "fee_cost")})
"""(sample kind, field) where the core keeps only a price rounded up: a WS fill's fee."""

_DOLLAR_SUFFIXES = ("_dollars", "_dollars_fp")
_DOLLAR_KEYS = AMOUNT_KEYS | {"price", "start", "end", "step", "yes_dollars", "no_dollars"}
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")


def _is_dollar_key(key: str) -> bool:
    return key in _DOLLAR_KEYS or key.endswith(_DOLLAR_SUFFIXES)


# --- parsers by sample ---------------------------------------------------------------------------


def _fixed(call: Callable[[], Any]) -> Any:
    """A fixed-point error while building a request is a malformed value too."""
    try:
        return call()
    except FixedPointError as exc:
        raise MalformedMessageError(str(exc), code="malformed") from None


def _create_request(item: Mapping[str, Any]) -> dict[str, Any]:
    return _fixed(
        lambda: CreateOrderRequest(
            ticker=item["ticker"],
            side=BookSide(item["side"]),
            price=parse_price(item["price"]),
            count=parse_count(item["count"]),
            client_order_id=item["client_order_id"],
            time_in_force=item["time_in_force"],
            post_only=bool(item.get("post_only", False)),
            reduce_only=bool(item.get("reduce_only", False)),
            self_trade_prevention_type=item["self_trade_prevention_type"],
            cancel_order_on_pause=item.get("cancel_order_on_pause"),
            subaccount=item.get("subaccount"),
        ).to_json()
    )


def _amend_request(item: Mapping[str, Any]) -> dict[str, Any]:
    return _fixed(
        lambda: _amend_body(
            item["ticker"],
            BookSide(item["side"]),
            parse_price(item["price"]),
            parse_count(item["count"]),
            item.get("client_order_id"),
            item.get("updated_client_order_id"),
        )
    )


def _decrease_request(item: Mapping[str, Any]) -> dict[str, Any]:
    to, by = item.get("reduce_to"), item.get("reduce_by")
    return _decrease_body(
        None if to is None else parse_count(to), None if by is None else parse_count(by), item.get("market_ticker")
    )


def _batch_cancel_request(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    orders = item["orders"]
    subaccounts = {o.get("subaccount", 0) for o in orders}
    assert len(subaccounts) == 1
    return _cancel_items([(o["order_id"], o.get("market_ticker")) for o in orders], subaccounts.pop())


def _batch_create_response(body: Mapping[str, Any]) -> Any:
    items = _batch_items(body)
    pending = [
        CreateOrderRequest(
            ticker="T", side=BookSide.BID, price=5000, count=100, client_order_id=item["client_order_id"]
        )
        for item in items
    ]
    placed, unreadable = _create_results(items, pending)
    if unreadable:  # the real path settles these by reading orders; here it is a parse failure
        raise MalformedMessageError(repr(unreadable), code="malformed")
    return placed


def _error(status: int) -> Callable[[Any], Any]:
    def parse(body: Any) -> Any:
        error = error_from_response(status, body)
        assert isinstance(error, VenueError) and error.status == status
        assert error.code or error.message
        return error

    return parse


REST_PARSERS: dict[str, Callable[[Any], Any]] = {
    "get_markets_response": lambda b: (items_of(b, "markets", Market.from_json, "markets"), b.get("cursor")),
    "get_market_response": lambda b: Market.from_json(req(b, "market", "market response")),
    "get_market_orderbook_response": lambda b: Orderbook.from_json("T", b),
    "get_portfolio_positions_response": lambda b: items_of(b, "market_positions", MarketPosition.from_json, "p"),
    "get_portfolio_fills_response": lambda b: items_of(b, "fills", Fill.from_json, "fills"),
    "get_portfolio_orders_response": lambda b: items_of(b, "orders", Order.from_json, "orders"),
    "create_order_v2_response": OrderPlaced.from_json,
    "batch_create_orders_v2_response": _batch_create_response,
    "cancel_order_v2_response": OrderCanceledResult.from_json,
    "batch_cancel_orders_v2_response": lambda b: _cancel_results([(o["order_id"], None) for o in b["orders"]], b),
    "amend_order_v2_response": OrderAmendedResult.from_json,
    "decrease_order_v2_response": OrderDecreasedResult.from_json,
    "create_order_v2_request": _create_request,
    "batch_create_orders_v2_request": lambda b: [_create_request(o) for o in b["orders"]],
    "amend_order_v2_request": _amend_request,
    "decrease_order_v2_request": _decrease_request,
    "batch_cancel_orders_v2_request": _batch_cancel_request,
    "error_400": _error(400),
    "error_401": _error(401),
    "error_404": _error(404),
    "error_409": _error(409),
    "error_429": _error(429),
}

_INFO = MarketInfo("FED-23DEC-T3.00", event_ticker="FED-23DEC", grid=TickGrid.linear_cent())

WS_PARSERS: dict[str, Callable[[parsing.Frame], Any]] = {
    "subscribed": lambda f: f,
    "ok": lambda f: f,
    "unsubscribed": lambda f: f,
    "error": lambda f: f,
    "orderbook_snapshot": lambda f: parsing.book_snapshot(f.msg, 0),
    "orderbook_delta": lambda f: parsing.book_delta(f.msg, 0),
    "ticker": lambda f: parsing.ticker(f.msg, 0),
    "trade": lambda f: parsing.trade(f.msg, 0),
    "fill": lambda f: parsing.fill(f.msg, 0),
    "market_position": lambda f: parsing.market_position(f.msg, 0),
    "user_order": lambda f: parsing.user_order(f.msg),
    "order_group_updates": lambda f: parsing.order_group_update(f.msg),
    "market_lifecycle_v2": lambda f: parsing.lifecycle(f.msg, 0, _INFO),
    "event_fee_update": lambda f: parsing.event_fee_update(f.msg),
}


def parse_ws(frame: Any) -> Any:
    """One WebSocket frame as received (its JSON text) through the client's parsers."""
    parsed = parsing.parse_frame(orjson.dumps(frame))
    assert parsed.type in WS_PARSERS, f"no parser for WebSocket frame type {parsed.type!r}"
    return WS_PARSERS[parsed.type](parsed)


# --- the samples ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sample:
    """One element of a sample file: where it is from, its kind (``rest:<name>`` or ``ws:<type>``)."""

    source: str
    index: int
    kind: str
    body: Any

    def parse(self, body: Any | None = None) -> Any:
        body = self.body if body is None else body
        if self.kind.startswith("ws:"):
            return parse_ws(body)
        return REST_PARSERS[self.kind.removeprefix("rest:")](body)

    def __str__(self) -> str:
        return f"{self.source}[{self.index}]"


def _root() -> Path:
    return samples_dir().parent


def shared_files() -> list[str]:
    """Every file of the shared samples directory but its README, relative to it."""
    root = _root()
    if not root.is_dir():
        return []
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name.lower() != "readme.md"
    )


def _kind_of_file(relative: str) -> str | None:
    path = Path(relative)
    if path.suffix != ".json":
        return None
    if path.parent.name == "rest" and path.stem in REST_PARSERS:
        return f"rest:{path.stem}"
    if path.parent.name == "ws":
        return "ws"
    return None


def _elements(path: Path) -> list[Any]:
    data = orjson.loads(path.read_bytes())
    assert isinstance(data, list), f"{path}: a sample file is a JSON array"
    return [strip_sample_marker(e) if isinstance(e, Mapping) else e for e in data]


def all_samples() -> list[Sample]:
    out: list[Sample] = []
    for relative in shared_files():
        kind = _kind_of_file(relative)
        if kind is None:
            continue  # reported by the mapping test
        for index, body in enumerate(_elements(_root() / relative)):
            out.append(Sample(relative, index, f"ws:{body.get('type')}" if kind == "ws" else kind, body))
    for index, frame in enumerate(_elements(LOCAL_WS)):
        out.append(Sample("tests/kalshi/data/ws_frames.json", index, f"ws:{frame['type']}", frame))
    return out


SAMPLES = all_samples()


def test_samples_when_shared_directory_listed_every_file_has_a_parser() -> None:
    files = shared_files()
    if not files:
        pytest.skip(f"Kalshi samples not found at {_root()}")
    unmapped = [f for f in files if _kind_of_file(f) is None]
    assert not unmapped, f"sample files without a parser mapping: {unmapped}"
    assert len(files) >= 22


def test_samples_when_local_ws_frames_listed_every_type_has_a_parser_and_all_channels_appear() -> None:
    types = {frame["type"] for frame in _elements(LOCAL_WS)}
    assert types == set(WS_PARSERS), types ^ set(WS_PARSERS)


@pytest.mark.parametrize("sample", SAMPLES, ids=str)
def test_sample_when_parsed_by_its_parser_gives_a_result(sample: Sample) -> None:
    assert sample.parse() is not None


REQUEST_SAMPLES = [s for s in SAMPLES if s.kind.endswith("_request")]


@pytest.mark.parametrize("sample", REQUEST_SAMPLES, ids=str)
def test_request_sample_when_rebuilt_by_our_builder_matches_kalshis_body(sample: Sample) -> None:
    built = sample.parse()
    bodies = sample.body.get("orders", [sample.body])
    built_list = built if isinstance(built, list) else [built]
    for ours, theirs in zip(built_list, bodies, strict=True):
        # exchange_index is omitted: V2 calls route by ticker (API.md §3); false flags and the
        # primary subaccount are defaults.
        expected = {
            k: v for k, v in theirs.items() if k != "exchange_index" and v is not False and (k, v) != ("subaccount", 0)
        }
        got = {k: v for k, v in ours.items() if v is not False and (k, v) != ("subaccount", 0)}
        assert got == expected


# --- 6-decimal variants --------------------------------------------------------------------------

Path_ = tuple[Any, ...]


def dollar_fields(node: Any, path: Path_ = (), key: str = "") -> Iterator[tuple[Path_, str, str]]:
    """(path, field name, value) of every dollar string in ``node``."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from dollar_fields(v, (*path, k), k)
    elif isinstance(node, list):
        if _is_dollar_key(key) and node and all(isinstance(level, list) and len(level) == 2 for level in node):
            for i, level in enumerate(node):  # a ladder: [[price, count], ...]
                if isinstance(level[0], str) and _DECIMAL.fullmatch(level[0]):
                    yield (*path, i, 0), key, level[0]
            return
        for i, v in enumerate(node):
            yield from dollar_fields(v, (*path, i), key)
    elif isinstance(node, str) and _is_dollar_key(key) and _DECIMAL.fullmatch(node):
        yield path, key, node


def _with(body: Any, path: Path_, value: str) -> Any:
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _six(value: Decimal) -> str:
    return f"{value:.6f}"


def tree(value: Any) -> Any:
    """A comparable plain form of a parse result (dataclasses, errors, enums, grids)."""
    if isinstance(value, TickGrid):
        return tree(value.ranges)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: tree(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: tree(getattr(value, name)) for name in value._fields}
    if isinstance(value, Mapping):
        return {str(k): tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tree(v) for v in value]
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if isinstance(value, enum.Enum):
        return value.value
    return value


def leaf_diffs(a: Any, b: Any, path: Path_ = ()) -> list[tuple[Path_, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [d for k in a for d in leaf_diffs(a[k], b[k], (*path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in leaf_diffs(x, y, (*path, i))]
    return [] if a == b else [(path, a, b)]


def _outcome(sample: Sample, body: Any) -> Any:
    try:
        return tree(sample.parse(body))
    except MalformedMessageError as exc:
        return MalformedMessageError(str(exc))


VARIANTS = [(s, path, key, value) for s in SAMPLES for path, key, value in dollar_fields(s.body)]


def test_variants_when_counted_cover_the_samples_dollar_fields() -> None:
    kinds = {s.kind for s, *_ in VARIANTS}
    assert {"ws:fill", "ws:orderbook_snapshot", "ws:orderbook_delta", "ws:user_order"} <= kinds
    if shared_files():
        assert {"rest:get_portfolio_positions_response", "rest:get_portfolio_fills_response",
                "rest:create_order_v2_response", "rest:batch_create_orders_v2_response"} <= kinds
        assert len(VARIANTS) > 200


@pytest.mark.parametrize(
    ("sample", "path", "key", "value"), VARIANTS, ids=lambda v: str(v) if isinstance(v, Sample) else None
)
def test_sample_when_dollar_field_has_six_decimals_parses_exactly(
    sample: Sample, path: Path_, key: str, value: str
) -> None:
    base = _outcome(sample, sample.body)
    assert not isinstance(base, Exception), base
    exact = Decimal(value)

    padded = _outcome(sample, _with(sample.body, path, _six(exact)))
    assert padded == base, f"{key} {value!r} padded to 6 decimals changed the result"

    tick = _outcome(sample, _with(sample.body, path, _six(exact + Decimal("0.0001"))))
    reads = tick != base
    odd_value = _six(exact + Decimal("0.000012"))
    odd = _outcome(sample, _with(sample.body, path, odd_value))
    if not reads:
        assert odd == base, f"{key} is not read, yet {odd_value!r} changed the result"
    elif key not in AMOUNT_KEYS:
        assert isinstance(odd, MalformedMessageError), f"grid price {key} {odd_value!r} was accepted: {odd}"
        assert "decimal places" in str(odd)
    elif (sample.kind, key) in ROUNDED_UP:
        assert not isinstance(odd, Exception), odd
        price = int((Decimal(odd_value) * 10_000).to_integral_value(rounding=ROUND_CEILING))
        assert odd["fee"] == price
    else:
        assert not isinstance(odd, Exception), f"amount {key} {odd_value!r} refused: {odd}"
        diffs = leaf_diffs(base, odd)
        assert len(diffs) == 1, diffs
        (where, before, after), = diffs
        assert isinstance(before, int) and after - before == 12, (where, before, after)
        assert str(where[-1]).endswith("_micros"), where
